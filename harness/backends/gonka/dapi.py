"""The user's real `decentralized-api`, configured for a GonkaChain and the harness's WireMock MLNodes.

    api = DecentralizedApi(bins, workdir / "api", chain=chain, chain_url=proxy_or_chain_url, mlnodes=mocks.mlnodes)
    with api:                                      # config.yaml written, process started, admin API answering
        api.public_url, api.admin_url, api.callback_url

The config file uses upstream's keys (`api.*`, `chain_node.*`, `nats.*`, `nodes`, `current_node_version`); keys
an older revision does not know are ignored by its loader, so one file serves both (`chain_node.signer_key_name`
and its older name `account_name`). The node is the genesis participant (`is_genesis: true`), signs with the chain's
`genesis` key from the chain's test keyring, and its MLNodes are in `nodes` (registered at start, no admin call).
The API node rewrites this file with its own state (heights, seeds, versions) as it runs: a restart continues from it,
as upstream does under cosmovisor.

Its working directory is `<workdir>/run` (it writes `../data/upgrade-info.json` relative to it); its /root is
`<workdir>/root` (the NATS JetStream store it hard-codes at /root/.dapi/.nats). Ports are allocated once and kept
across restarts: the public URL is registered on chain. Upstream binds its HTTP servers on all interfaces (it has
no setting for the address); the harness allocates their ports on 127.0.0.1 and points everything at 127.0.0.1.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Self

import requests
import yaml

from harness.backends.contract import MLNodeEndpoint
from harness.backends.gonka.binaries import GonkaBinaries
from harness.backends.gonka.chain import GonkaChain
from harness.errors import ConfigError
from harness.util.ports import free_port
from harness.util.process import ManagedProcess
from harness.util.service import StartStop

SIGNER = "genesis"


class DecentralizedApi(StartStop):
    def __init__(
        self,
        bins: GonkaBinaries,
        workdir: Path,
        *,
        chain: GonkaChain,
        chain_url: str,
        mlnodes: list[MLNodeEndpoint],
        start_version: str,
        ports: dict[str, int] | None = None,
        log_dir: Path,
    ) -> None:
        self.bins = bins
        self.workdir = Path(workdir)
        self.chain = chain
        self.chain_url = chain_url
        self.mlnodes = mlnodes
        self.start_version = start_version
        # allocated once per testnet and kept across rebuilds (pass the previous `ports`)
        self.ports = dict(ports) if ports else {n: free_port() for n in ("public", "ml", "admin", "grpc", "nats")}
        self.config_path = self.workdir / "config.yaml"
        self.log_path = Path(log_dir) / "decentralized-api.log"
        self.proc: ManagedProcess | None = None

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['public']}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin']}"

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ml']}"

    def write_config(self) -> Path:
        """The first config file (only when none exists: afterwards it is the API node's own state)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            return self.config_path
        config = {
            "api": {
                "public_server_port": self.ports["public"],
                "ml_server_port": self.ports["ml"],
                "admin_server_port": self.ports["admin"],
                "ml_grpc_server_port": self.ports["grpc"],
                "poc_callback_url": self.callback_url,
                "public_url": self.public_url,
                "test_mode": True,
            },
            "chain_node": {
                "url": self.chain_url,
                "signer_key_name": SIGNER,
                "account_name": SIGNER,
                "keyring_backend": "test",
                "keyring_dir": str(self.chain.home),
                "account_public_key": self.chain.account_pubkey(SIGNER),
                "is_genesis": True,
            },
            "nats": {"host": "127.0.0.1", "port": self.ports["nats"]},
            "current_node_version": self.start_version,
            "last_used_version": self.start_version,
            "nodes": [_node_config(n) for n in self.mlnodes],
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return self.config_path

    def retarget(self) -> None:
        """Point a config written by an earlier run (a snapshot's, with the node's own state in it) at this run: its
        chain URL, keyring and MLNodes; the ports stay (the public URL is on chain)."""
        config = yaml.safe_load(self.config_path.read_text()) or {}
        chain = config.setdefault("chain_node", {})
        chain["url"], chain["keyring_dir"] = self.chain_url, str(self.chain.home)
        config["nodes"] = [_node_config(n) for n in self.mlnodes]
        config.setdefault("nats", {})["port"] = self.ports["nats"]
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self) -> Self:
        self.write_config()
        (self.workdir / "run").mkdir(parents=True, exist_ok=True)
        self.proc = ManagedProcess(
            self.bins.argv("decentralized-api", root=self.workdir / "root"),
            name="decentralized-api",
            log_path=self.log_path,
            env={**self.bins.env(), "API_CONFIG_PATH": str(self.config_path), "KEYRING_BACKEND": "test", "KEY_NAME": SIGNER},
            cwd=self.workdir / "run",
            stop_timeout_s=10,
        )
        self.proc.start()
        self.proc.wait_ready(
            self._admin_answers,
            timeout_s=90,
            what=f"the real API node's admin API {self.admin_url}/admin/v1/nodes",
            hint="it starts its servers only after the chain answers its Params query; see the decentralized-api log",
        )
        return self

    def _admin_answers(self) -> bool:
        try:
            return requests.get(f"{self.admin_url}/admin/v1/nodes", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def kill(self) -> None:
        """SIGKILL its process group (a crash), reaped before this returns; start() runs it again on its config."""
        if self.proc is not None:
            self.proc.kill()

    def reset_state(self) -> None:
        """Remove what it persisted (it must not run): its config file, which it rewrites with its own state
        (heights, versions, upgrade plan), and its NATS JetStream store; the next start() writes the first config."""
        if self.proc is not None and self.proc.is_running():
            raise ConfigError("decentralized-api is running; stop or kill it before removing its state")
        self.config_path.unlink(missing_ok=True)
        shutil.rmtree(self.workdir / "root" / "upper" / ".dapi", ignore_errors=True)

    def state(self) -> dict[str, Any]:
        """The API node's own persisted state (its config file), e.g. current_node_version, for failure bundles."""
        try:
            return yaml.safe_load(self.config_path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            return {}


def _node_config(n: MLNodeEndpoint) -> dict[str, Any]:
    reg = n.registration()
    reg["hardware"] = [{"type": "harness-mock", "count": 1}]
    return reg
