"""The docker backend's containers run from the harness image (`--images local`): the model chain (`harness simnet`
over a fresh genesis), the model API node (`harness apinode` with a mounted config) and the chaos proxy in front of
the chain RPC. docker/upstream.py holds the same parts for the upstream images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.audit.contracts import PRE_UPGRADE_HOLD_S, UPGRADE_HOLD_S
from harness.backends.base import write_reference_api_config
from harness.backends.docker.components import Component, NetPlan, PortSpec
from harness.options import RunOptions


def chain_component(
    image: str, gdir: Path, opts: RunOptions, net: NetPlan, log_dir: Path, *, voting_period_blocks: int, chain_id: str
) -> Component:
    """The model chain's container: `harness simnet` over a genesis written to `gdir` (mounted read-only)."""
    # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
    from harness.model.simnet import Genesis

    gdir.mkdir(parents=True, exist_ok=True)
    genesis = Genesis(
        block_time_s=opts.block_time_s,
        upgrade_hold_s=UPGRADE_HOLD_S,  # "switched at H + 1" is caught by the audit (contracts.py)
        pre_upgrade_hold_s=PRE_UPGRADE_HOLD_S,  # and "switched at H - 1" on a loaded machine
        voting_period_blocks=voting_period_blocks,
        initial_mlnode_version=opts.start_version,
        chain_id=chain_id,
    )
    path = genesis.write(gdir / "genesis.json")
    ports = net.ports(True, rpc=26657)
    argv = ["harness", "simnet", "--rpc-port", str(ports["rpc"].inner), "--genesis", str(path)]
    return Component(
        "chain",
        image,
        argv,
        net=net,
        log_dir=log_dir,
        ports=ports,
        relay=True,
        volumes=[(str(gdir), str(gdir), "ro")],
    )


def write_api_config(
    cfg_dir: Path,
    opts: RunOptions,
    *,
    chain_url: str,
    intervals: dict[str, float],
    ports: dict[str, PortSpec],
    callback_url: str,
    profile_overrides: dict[str, Any],
) -> Path:
    """Write the model API node's config file in `cfg_dir` (inner container ports; callback "" = default)."""
    return write_reference_api_config(
        cfg_dir,
        chain_url=chain_url,
        start_version=opts.start_version,
        profile=opts.api_profile,
        intervals=intervals,
        api={
            "public_server_port": ports["public"].inner,
            "admin_server_port": ports["admin"].inner,
            "ml_server_port": ports["ml"].inner,
            "poc_callback_url": callback_url,
        },
        profile_overrides=profile_overrides,
    )


def api_component(image: str, cfg: Path, net: NetPlan, ports: dict[str, PortSpec], log_dir: Path) -> Component:
    """The model API node's container: `harness apinode --config CFG`, the config's folder mounted read-write."""
    return Component(
        "api",
        image,
        ["harness", "apinode", "--config", str(cfg)],
        net=net,
        log_dir=log_dir,
        ports=ports,
        relay=True,
        volumes=[(str(cfg.parent), str(cfg.parent), "rw")],
    )


def chaos_proxy_component(image: str, upstream_url: str, seed: int, net: NetPlan, log_dir: Path) -> Component:
    """The chaos proxy's container in front of `upstream_url` (the chain RPC), with its control API."""
    ports = net.ports(True, listen=26657, control=7070)
    argv = [
        "harness",
        "chaos-proxy",
        "--listen",
        str(ports["listen"].inner),
        "--upstream",
        upstream_url,
        "--control-port",
        str(ports["control"].inner),
        "--seed",
        str(seed),
        "--max-lifetime-s",
        str(6 * 3600),
    ]
    return Component("chaos", image, argv, net=net, log_dir=log_dir, ports=ports, relay=True)
