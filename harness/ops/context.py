"""Find the running testnet an operator command talks to, in this order:

1. explicit URLs: `--chain-rpc URL` (plus `--api-public`, `--api-admin`, `--chaos-control`, `--journal ID=URL`);
2. `--env-file FILE`: an external testnet (format in harness/backends/external.py);
3. the state file `harness up` wrote: `--state-file FILE`, else $HARNESS_STATE_FILE, else ~/.harness/testnet.json.

Every command gets the same `OpsContext`; a chain that does not answer raises `TestnetUnreachable` (exit 3).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backends.contract import Endpoints, MLNodeEndpoint, Participant
from harness.errors import ConfigError, Unreachable
from harness.util.process import pid_alive
from harness.validate import as_int, as_number, as_text, http_url, int_text, number_text


class TestnetUnreachable(Unreachable):
    """The testnet's chain (or another required endpoint) does not answer: exit code 3."""

    __test__ = False


def add_global_options(p: argparse.ArgumentParser) -> None:
    """`--state-file`, `--env-file`, `--json` and the explicit-URL overrides, on every operator command."""
    g = p.add_argument_group("which testnet")
    g.add_argument(
        "--state-file",
        default=None,
        help="state file written by `harness up` (default $HARNESS_STATE_FILE or ~/.harness/testnet.json)",
    )
    g.add_argument("--env-file", default=None, help="an external testnet's env file (see harness/backends/external.py)")
    g.add_argument("--chain-rpc", default=None, help="CometBFT RPC URL; overrides the state/env file")
    g.add_argument("--api-public", default=None, help="API node public URL (with --chain-rpc)")
    g.add_argument("--api-admin", default=None, help="API node admin URL (with --chain-rpc)")
    g.add_argument("--chaos-control", default=None, help="chaos proxy control URL (with --chain-rpc)")
    g.add_argument(
        "--journal-url",
        action="append",
        default=[],
        metavar="NODE=ADMIN_URL",
        help="an MLNode mock's WireMock admin URL (with --chain-rpc; repeatable)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


@dataclass
class OpsContext:
    source: str  # "state file PATH", "env file PATH" or "command-line URLs"
    backend: str
    endpoints: Endpoints
    mlnodes: list[MLNodeEndpoint]
    block_time_s: float
    api_profile: str
    validator_mnemonics: list[str] = field(default_factory=list)
    workdir: Path | None = None
    state_path: Path | None = None
    state: dict[str, Any] = field(default_factory=dict)
    voting_period_blocks: int | None = None
    start_version: str = "v0.3.8"  # the version the testnet started its API node with (chains without MLNodeVersion)
    api_refresh_tick_s: float | None = None  # the API node's client refresh tick (pr228 contract), when known
    participants: list[Participant] = field(default_factory=list)  # a network's participants (state file); api unset

    def all_mlnodes(self) -> list[MLNodeEndpoint]:
        """Every participant's MLNodes (the testnet's MLNodes when it records no participants)."""
        return [n for p in self.participants for n in p.mlnodes] if self.participants else self.mlnodes

    def contract(self, block_time_s: float | None = None):
        """The audit contract of this testnet's API node (harness/audit/contracts.py)."""
        from harness.audit.contracts import contract_for

        bt = self.block_time_s if block_time_s is None else block_time_s
        return contract_for(self.api_profile, refresh_tick_s=self.api_refresh_tick_s, block_time_s=bt)

    # -- clients ----------------------------------------------------------------------------
    def chain(self, *, timeout_s: float = 10.0):
        """A ChainClient whose chain answered `status` just now; TestnetUnreachable otherwise."""
        from harness.chain import ChainClient
        from harness.errors import ChainError

        client = ChainClient(self.endpoints.chain_rpc, timeout_s=timeout_s)
        try:
            client.rpc.status()
        except ChainError as e:
            client.close()
            raise TestnetUnreachable(f"chain RPC {self.endpoints.chain_rpc} does not answer ({e}); {self.hint()}") from None
        return client

    def api(self, *, timeout_s: float = 5.0):
        from harness.clients.api import ApiClient

        return ApiClient(self.endpoints.api_public, self.endpoints.api_admin, timeout_s=timeout_s)

    def hint(self) -> str:
        """Why the testnet may be gone, for error messages."""
        if self.state_path is None:
            return f"is the testnet from {self.source} running?"
        pid = self.state.get("pid")
        alive = isinstance(pid, int) and pid_alive(pid)
        if alive:
            return f"`harness up` (pid {pid}) is still running; check its logs in {self.workdir}/logs"
        return (
            f"the `harness up` process (pid {pid}) recorded in {self.state_path} is gone; "
            "run `harness down` to clean up, then `harness up` again"
        )

    def under_test(self) -> str:
        """Which API node and chain the testnet runs, as `harness up` recorded it (model profile, or real binary,
        revision and sha256); for a testnet described by URLs only, what is known."""
        info = self.state.get("info") if isinstance(self.state.get("info"), dict) else {}
        api, chain = info.get("api_under_test"), info.get("chain_under_test")
        if isinstance(api, str) and api:
            return f"API node: {api}; chain: {chain or 'unknown'}"
        return f"API node at {self.endpoints.api_public} ({self.backend}); chain at {self.endpoints.chain_rpc}"

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "backend": self.backend,
            "chain_rpc": self.endpoints.chain_rpc,
            "api_public": self.endpoints.api_public,
            "api_admin": self.endpoints.api_admin,
            "chaos_control": self.endpoints.chaos_control,
            "api_profile": self.api_profile,
            "block_time_s": self.block_time_s,
        }


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def state_path_of(args: argparse.Namespace) -> Path:
    from harness.ops import state

    p = _path(getattr(args, "state_file", None))
    if p is not None:
        return p
    env = os.environ.get("HARNESS_STATE_FILE")
    return Path(env).expanduser() if env else state.DEFAULT_STATE


def resolve(args: argparse.Namespace) -> OpsContext:
    """The testnet the command talks to (see the module docstring); ConfigError when none is given or found."""
    if getattr(args, "chain_rpc", None):
        return from_urls(args)
    extra = [f"--{n.replace('_', '-')}" for n in ("api_public", "api_admin", "chaos_control") if getattr(args, n, None)]
    if extra or getattr(args, "journal_url", None):
        raise ConfigError(f"{', '.join(extra) or '--journal-url'} only work together with --chain-rpc URL")
    if getattr(args, "env_file", None):
        if getattr(args, "state_file", None):
            raise ConfigError("give either --env-file (an external testnet) or --state-file (one `harness up` started), not both")
        return from_env_file(Path(args.env_file))
    return from_state(state_path_of(args))


def from_state(path: Path) -> OpsContext:
    from harness.ops.state import read_state

    if not path.exists():
        raise TestnetUnreachable(
            f"no running testnet recorded at {path}; start one with `harness up` (or pass --state-file FILE, "
            "--env-file FILE for an external testnet, or --chain-rpc URL)"
        )
    st = read_state(path)
    try:
        info = st.get("info") or {}
        if not isinstance(info, dict):
            raise ConfigError(f"info: expected a mapping, got {type(info).__name__}")
        ep = checked_endpoints(Endpoints(**st["endpoints"]), where="endpoints")
        nodes = [mlnode_from_dict(d) for d in st.get("mlnodes") or []]
        workdir = st.get("workdir")
        mnemonics = info.get("validator_mnemonics") or []
        return OpsContext(
            source=f"state file {path}",
            backend=as_text(st.get("backend") or info.get("backend") or "embedded", "backend", max_len=32),
            endpoints=ep,
            mlnodes=nodes,
            block_time_s=float(as_number(info.get("block_time_s") or 0.2, "info.block_time_s", hi=3600, unit="seconds")),
            api_profile=as_text(info.get("api_profile") or "reference", "info.api_profile", max_len=64),
            api_refresh_tick_s=(
                float(as_number(info["api_refresh_tick_s"], "info.api_refresh_tick_s", hi=3600, unit="seconds"))
                if info.get("api_refresh_tick_s")
                else None
            ),
            start_version=as_text(info.get("start_version") or "v0.3.8", "info.start_version", max_len=64),
            validator_mnemonics=[as_text(m, "info.validator_mnemonics[]", max_len=1024) for m in mnemonics],
            participants=[participant_from_dict(d, i) for i, d in enumerate(st.get("participants") or [])],
            workdir=Path(as_text(workdir, "workdir", max_len=4096)) if workdir else None,
            state_path=path,
            state=st,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigError(
            f"state file {path} is missing or has a malformed field ({e}); run `harness down` and `harness up` again"
        ) from None


def checked_endpoints(ep: Endpoints, *, where: str) -> Endpoints:
    """Every URL of a testnet description is an http(s) URL (a malformed one is bad input, not an unreachable net)."""
    http_url(ep.chain_rpc, f"{where}.chain_rpc")
    for name in ("api_chain_rpc", "api_public", "api_admin", "chaos_control"):
        value = getattr(ep, name)
        if value:
            http_url(value, f"{where}.{name}")
    return ep


def participant_from_dict(d: dict[str, Any], i: int) -> Participant:
    """A participant recorded in the state file (its API client is not recorded)."""
    where = f"participants[{i}]"
    return Participant(
        id=as_text(d["id"], f"{where}.id", max_len=32),
        mlnodes=[mlnode_from_dict(n) for n in d.get("mlnodes") or []],
        api=None,
        api_public=http_url(d["api_public"], f"{where}.api_public"),
        api_admin=http_url(d["api_admin"], f"{where}.api_admin"),
        power=as_int(d.get("power", 0), f"{where}.power", hi=2**62),
        validator_mnemonic=as_text(d.get("validator_mnemonic", ""), f"{where}.validator_mnemonic", max_len=1024, min_len=0),
        validator_index=as_int(d.get("validator_index", 0), f"{where}.validator_index", hi=2**31 - 1),
        api_under_test=as_text(d.get("api_under_test", ""), f"{where}.api_under_test", max_len=1024, min_len=0),
    )


def mlnode_from_dict(d: dict[str, Any]) -> MLNodeEndpoint:
    d = dict(d)
    if "models" in d:
        d["models"] = tuple(d["models"])
    return MLNodeEndpoint(**d)


def from_env_file(path: Path) -> OpsContext:
    from harness.backends.external import parse_env_file, parse_mlnode

    try:
        env = parse_env_file(path)
    except UnicodeDecodeError:
        raise ConfigError(f"--env-file {path}: not UTF-8 text; expected KEY=VALUE lines") from None
    bt = number_text(env.get("HARNESS_BLOCK_TIME", "5"), f"--env-file {path}: HARNESS_BLOCK_TIME", lo=0.01, hi=3600,
                     unit="seconds")  # fmt: skip
    vp_text = env.get("HARNESS_VOTING_PERIOD_BLOCKS")
    vp = int_text(vp_text, f"--env-file {path}: HARNESS_VOTING_PERIOD_BLOCKS", lo=1, hi=10**9) if vp_text else None
    try:
        ep = Endpoints(
            chain_rpc=env["HARNESS_CHAIN_RPC"],
            api_chain_rpc=env.get("HARNESS_API_CHAIN_RPC") or env["HARNESS_CHAIN_RPC"],
            api_public=env["HARNESS_API_PUBLIC"],
            api_admin=env["HARNESS_API_ADMIN"],
            chaos_control=env.get("HARNESS_CHAOS_CONTROL") or None,
        )
    except KeyError as e:
        raise ConfigError(f"--env-file {path}: {e.args[0]} is not set; see harness/backends/external.py for the format") from None
    checked_endpoints(ep, where=f"--env-file {path}")
    nodes = [parse_mlnode(v, key=k) for k, v in sorted(env.items()) if k.startswith("HARNESS_MLNODE_")]
    mnemonic = env.get("HARNESS_GOV_MNEMONIC", "")
    return OpsContext(
        source=f"env file {path}",
        backend="external",
        endpoints=ep,
        mlnodes=nodes,
        block_time_s=bt,
        api_profile=env.get("HARNESS_API_PROFILE", "reference"),
        validator_mnemonics=[mnemonic] if mnemonic else [],
        voting_period_blocks=vp,
    )


def from_urls(args: argparse.Namespace) -> OpsContext:
    chain = http_url(args.chain_rpc, "--chain-rpc")
    nodes = []
    for spec in args.journal_url or []:
        if "=" not in spec:
            raise ConfigError(f"--journal-url {spec!r}: expected NODE=http://HOST:PORT/__admin")
        node, url = spec.split("=", 1)
        url = http_url(url, f"--journal-url {node}", example="http://127.0.0.1:8080/__admin")
        nodes.append(MLNodeEndpoint(id=node, host="", poc_port=0, inference_port=0, journals={"*": url}))
    ep = Endpoints(
        chain_rpc=chain,
        api_chain_rpc=chain,
        api_public=http_url(args.api_public, "--api-public") if args.api_public else "",
        api_admin=http_url(args.api_admin, "--api-admin") if args.api_admin else "",
        chaos_control=http_url(args.chaos_control, "--chaos-control") if args.chaos_control else None,
    )
    return OpsContext(
        source="command-line URLs", backend="external", endpoints=ep, mlnodes=nodes, block_time_s=0.0, api_profile="reference"
    )
