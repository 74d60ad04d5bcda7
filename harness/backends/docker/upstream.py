"""UNVERIFIED: the upstream Gonka images (`--images upstream`: ghcr.io/product-science/inferenced and .../api).

These code paths have not yet run against the published images. They follow upstream's own scripts
(init-docker-genesis.sh, the API's init-docker.sh and config manager) and are marked as such in the README. The same
binaries run for real under the `gonka` backend (harness/backends/gonka/), which found that upstream main's genesis
refuses `app_state.inference.mlnode_version` (main has no MLNodeVersion): this path cannot tell before the container
runs whether an image's genesis knows the field, so it leaves it out and a PR #228-style chain starts at its own
default version.

- chain: genesis container (`sh ./init-docker-genesis.sh`, KEY_NAME=genesis, keyring-test in /root/.inference,
  a host directory shared with the API container); `$HOME/.inference/genesis_overrides.json` starts the chain at
  MLNode version v0.3.8 with a short gov voting period and 1000 ngonka min deposit; `CONFIG_consensus__timeout_commit`
  sets the block time (~1 s); in host mode `CONFIG_rpc__laddr` / `CONFIG_p2p__laddr` move the ports to allocated ones.
- API: config YAML mounted at /root/api-config.yaml (copied to /root/.dapi on every start) with
  `current_node_version`, the chain URL pointed at the chaos proxy, ports from DAPI_* variables.
- governance key: `inferenced keys export genesis --unarmored-hex --unsafe` in the chain container, so the harness
  signs with cosmpy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.backends.docker.components import Component
from harness.errors import StartupError

if TYPE_CHECKING:
    from harness.backends.docker.components import Component, NetPlan, PortSpec

UNVERIFIED = "unverified: not yet run against the published upstream images"
CHAIN_HOME = "/root/.inference"
SIGNER = "genesis"
CHAIN_ID = "gonka-mainnet"  # init-docker-genesis.sh fixes it
BLOCK_TIME_S = 1.0  # timeout_commit ~1 s (reference section 14: ~5 s by default)

CHAIN_SERVICE_PORTS = {"rpc": 26657, "p2p": 26656}
API_SERVICE_PORTS = {"public": 9000, "ml": 9100, "admin": 9200, "grpc": 9300, "nats": 4222}


def genesis_overrides(start_version: str, voting_period_s: float, min_deposit_ngonka: int = 1000) -> dict[str, Any]:
    """`{"app_state": ...}` merged by init-docker-genesis.sh (jq `. * input`) after the baked overrides."""
    return {
        "app_state": {
            "gov": {
                "params": {
                    "voting_period": f"{voting_period_s:g}s",
                    "min_deposit": [{"denom": "ngonka", "amount": str(min_deposit_ngonka)}],
                }
            },
        }
    }


def chain_env(mode: str, ports: dict[str, PortSpec], *, timeout_commit_s: float = BLOCK_TIME_S) -> dict[str, str]:
    env = {
        "KEY_NAME": SIGNER,
        "IS_GENESIS": "true",
        "INIT_TGBOT": "false",
        "REST_API_ACTIVE": "false",
        "DEBUG": "",  # non-empty DEBUG leaves a failed node idling on `tail -f`; empty lets the container exit
        "CONFIG_consensus__timeout_commit": f"{timeout_commit_s:g}s",
    }
    if mode == "host":  # every address on loopback, allocated ports
        env["CONFIG_rpc__laddr"] = f"tcp://127.0.0.1:{ports['rpc'].inner}"
        env["CONFIG_p2p__laddr"] = f"tcp://127.0.0.1:{ports['p2p'].inner}"
    return env


def prepare_chain_home(home: Path, start_version: str, voting_period_s: float) -> Path:
    """The host directory mounted at /root/.inference in the chain and API containers (shared keyring)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "genesis_overrides.json").write_text(json.dumps(genesis_overrides(start_version, voting_period_s), indent=1))
    return home


def api_config(
    *, chain_url: str, public_url: str, callback_url: str, start_version: str, ports: dict[str, PortSpec]
) -> dict[str, Any]:
    """Upstream-style API config (config-prod.yaml key names, reference section 6)."""
    return {
        "api": {
            "port": ports["public"].inner,
            "public_server_port": ports["public"].inner,
            "ml_server_port": ports["ml"].inner,
            "admin_server_port": ports["admin"].inner,
            "ml_grpc_server_port": ports["grpc"].inner,
            "poc_callback_url": callback_url,
            "public_url": public_url,
            "test_mode": True,
        },
        "chain_node": {
            "url": chain_url,
            "account_public_key": "",
            "signer_key_name": SIGNER,
            "keyring_backend": "test",
            "keyring_dir": CHAIN_HOME,
            "is_genesis": True,
        },
        "nats": {"host": "127.0.0.1" if ports["nats"].inner != 4222 else "0.0.0.0", "port": ports["nats"].inner},
        "current_node_version": start_version,
    }


def write_api_config(
    path: Path, *, chain_url: str, public_url: str, callback_url: str, start_version: str, ports: dict[str, PortSpec]
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = api_config(
        chain_url=chain_url, public_url=public_url, callback_url=callback_url, start_version=start_version, ports=ports
    )
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def api_env(*, public_url: str, callback_url: str, chain_url: str) -> dict[str, str]:
    # NODE_HOST is left unset: init-docker.sh would rewrite the chain URL to http://$NODE_HOST:26657 (bypassing the proxy)
    return {
        "KEY_NAME": SIGNER,
        "DAPI_API__POC_CALLBACK_URL": callback_url,
        "DAPI_API__PUBLIC_URL": public_url,
        "DAPI_CHAIN_NODE__URL": chain_url,
        "DAPI_CHAIN_NODE__IS_GENESIS": "true",
        "DAPI_API__TEST_MODE": "true",
        "TESTS": "true",
        "DEBUG": "",
    }


def chain_component(image: str, home: Path, net: NetPlan, log_dir: Path) -> Component:

    ports = net.ports(False, **CHAIN_SERVICE_PORTS)
    argv = ["sh", "./init-docker-genesis.sh"]
    env = chain_env(net.mode, ports)
    return Component(
        "chain", image, argv, net=net, log_dir=log_dir, ports=ports, env=env, volumes=[(str(home), CHAIN_HOME, "rw")]
    )


def api_component(
    image: str, cfg: Path, home: Path, chain_url: str, net: NetPlan, ports: dict[str, PortSpec], log_dir: Path
) -> Component:

    public = f"http://{net.host_of('api')}:{ports['public'].service}"
    callback = f"http://{net.host_of('api')}:{ports['ml'].service}"
    env = api_env(public_url=public, callback_url=callback, chain_url=chain_url)
    volumes = [(str(home), CHAIN_HOME, "rw"), (str(cfg), "/root/api-config.yaml", "ro")]
    return Component("api", image, ["sh", "./init-docker.sh"], net=net, log_dir=log_dir, ports=ports, env=env, volumes=volumes)


HEX_KEY = re.compile(r"\b([0-9a-fA-F]{64})\b")


def export_gov_key(chain_component: Component) -> str:
    """The genesis account's private key as hex, read from the chain container's keyring-test."""
    argv = [
        "inferenced",
        "keys",
        "export",
        SIGNER,
        "--unarmored-hex",
        "--unsafe",
        "--yes",
        "--keyring-backend",
        "test",
        "--home",
        CHAIN_HOME,
    ]
    code, out = chain_component.exec(argv)
    m = HEX_KEY.search(out)
    if code != 0 or m is None:
        raise StartupError(f"`{' '.join(argv)}` in the chain container failed ({UNVERIFIED}): exit {code}\n{out[-2000:]}")
    return m.group(1)
