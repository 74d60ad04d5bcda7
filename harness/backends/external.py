"""External backend: a testnet somebody else runs (Gonka's local-test-net, a docker compose stack).
Nothing is started or torn down; the env file says where everything is.

Env file (KEY=VALUE lines, `#` comments; docker-compose `.env` style):

    HARNESS_CHAIN_RPC=http://127.0.0.1:26657          # CometBFT RPC the harness uses
    HARNESS_API_PUBLIC=http://127.0.0.1:9000
    HARNESS_API_ADMIN=http://127.0.0.1:9200
    HARNESS_API_CHAIN_RPC=http://127.0.0.1:26658      # optional: what the API node uses (e.g. a chaos proxy)
    HARNESS_CHAOS_CONTROL=http://127.0.0.1:8474       # optional: chaos proxy control API
    HARNESS_GOV_MNEMONIC="word word ..."              # a validator key that can propose and vote (or HARNESS_GOV_KEY_HEX)
    HARNESS_BLOCK_TIME=5                              # seconds, for deadlines
    HARNESS_VOTING_PERIOD_BLOCKS=8
    HARNESS_MLNODE_1=id=genesis-mlnode,host=genesis-mock-server,poc_port=8080,inference_port=8080,journal=http://127.0.0.1:8090
    HARNESS_API_KIND=upstream                         # upstream (Gonka's decentralized-api, default) or model (harness apinode)
    HARNESS_API_REFRESH_TICK_S=30                     # optional: the API node's client refresh tick (pr228 contract)

`harness up` writes such a file for its embedded testnet next to its state file (`testnet.env`), so
`pytest -m stable --backend external --env-file ~/.harness/testnet.env` runs the scenarios against it.

An external testnet is never stopped, restarted or rebuilt. Its capabilities follow HARNESS_API_KIND: `upstream`
has CHAIN_POC (its chain's epochs drive the API node's MLNode calls); `model` has MODEL_API, ADMIN_RECONCILE and
POC_ON_DEMAND.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.backends.base import BaseTestnet, TestnetRequest
from harness.backends.contract import Capability, Endpoints, MLNodeEndpoint, TestnetInfo
from harness.chain.keys import Key
from harness.clients.api import ApiClient
from harness.errors import ConfigError
from harness.options import RunOptions

REQUIRED = ("HARNESS_CHAIN_RPC", "HARNESS_API_PUBLIC", "HARNESS_API_ADMIN")


def parse_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise ConfigError(f"--env-file {path}: cannot read ({e.strerror})") from None
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError(f"--env-file {path}:{n}: expected KEY=VALUE, got {raw!r}")
        key, value = line.split("=", 1)
        value = value.split(" #", 1)[0].strip().strip('"').strip("'")
        out[key.strip()] = value
    missing = [k for k in REQUIRED if not out.get(k)]
    if missing:
        raise ConfigError(f"--env-file {path}: missing {', '.join(missing)} (see harness/backends/external.py for the format)")
    return out


def env_file_text(tn: BaseTestnet) -> str:
    """The env file that describes a running testnet of ours to `--backend external` (what `harness up` writes)."""
    info, ep = tn.info, tn.endpoints
    if ep is None:
        raise ConfigError(f"{info.backend} testnet: not started, no endpoints to describe in an env file")
    if not info.validator_mnemonics:
        raise ConfigError(f"{info.backend} testnet: no validator mnemonic to describe in an env file")
    lines = [
        f"# {info.backend} testnet: {info.under_test()}",
        f"HARNESS_CHAIN_RPC={ep.chain_rpc}",
        f"HARNESS_API_PUBLIC={ep.api_public}",
        f"HARNESS_API_ADMIN={ep.api_admin}",
        f"HARNESS_API_CHAIN_RPC={ep.api_chain_rpc}",
        f'HARNESS_GOV_MNEMONIC="{info.validator_mnemonics[0]}"',
        f"HARNESS_BLOCK_TIME={info.block_time_s}",
        f"HARNESS_API_KIND={info.api_kind if info.api_kind in API_KINDS else 'upstream'}",
    ]
    voting_period_blocks = getattr(tn, "voting_period_blocks", None)  # not every backend knows it
    if voting_period_blocks:
        lines.append(f"HARNESS_VOTING_PERIOD_BLOCKS={voting_period_blocks}")
    if ep.chaos_control:
        lines.append(f"HARNESS_CHAOS_CONTROL={ep.chaos_control}")
    if info.api_refresh_tick_s:
        lines.append(f"HARNESS_API_REFRESH_TICK_S={info.api_refresh_tick_s}")
    for i, n in enumerate(tn.mlnodes, 1):
        if set(n.journals) != {"*"}:
            raise ConfigError(f"MLNode {n.id}: one journal per version (side-by-side) cannot be described in an env file")
        lines.append(
            f"HARNESS_MLNODE_{i}=id={n.id},host={n.host},poc_port={n.poc_port},inference_port={n.inference_port},"
            f"journal={n.journals['*']}"
        )
    return "\n".join(lines) + "\n"


def parse_mlnode(spec: str, *, key: str) -> MLNodeEndpoint:
    fields: dict[str, str] = {}
    for part in spec.split(","):
        if "=" not in part:
            raise ConfigError(
                f"{key}: {part!r} is not name=value (expected id=..,host=..,poc_port=..,inference_port=..,journal=URL)"
            )
        k, v = part.split("=", 1)
        fields[k.strip()] = v.strip()
    for need in ("id", "host", "poc_port", "inference_port", "journal"):
        if need not in fields:
            raise ConfigError(f"{key}: missing {need}= (have {', '.join(fields)})")
    try:
        poc, inf = int(fields["poc_port"]), int(fields["inference_port"])
    except ValueError:
        raise ConfigError(f"{key}: poc_port and inference_port must be integers") from None
    journal = fields["journal"].rstrip("/")  # WireMock's base URL or its admin URL: both accepted
    journals = {"*": journal if journal.endswith("/__admin") else journal + "/__admin"}
    return MLNodeEndpoint(
        id=fields["id"],
        host=fields["host"],
        poc_port=poc,
        inference_port=inf,
        journals=journals,
        poc_segment=fields.get("poc_segment", ""),
        inference_segment=fields.get("inference_segment", ""),
    )


API_KINDS = {
    "upstream": frozenset({Capability.CHAIN_POC}),
    "model": frozenset({Capability.MODEL_API, Capability.ADMIN_RECONCILE, Capability.POC_ON_DEMAND}),
}


class ExternalTestnet(BaseTestnet):
    inference_timeout_s = 120.0

    def __init__(self, opts: RunOptions) -> None:
        if opts.env_file is None:
            raise ConfigError("--backend external needs --env-file FILE")
        env = parse_env_file(opts.env_file)
        self.env = env
        try:
            block_time = float(env.get("HARNESS_BLOCK_TIME", "5"))
            self.voting_period_blocks = int(env.get("HARNESS_VOTING_PERIOD_BLOCKS", "8"))
            tick = float(env["HARNESS_API_REFRESH_TICK_S"]) if env.get("HARNESS_API_REFRESH_TICK_S") else None
        except ValueError:
            raise ConfigError(
                "HARNESS_BLOCK_TIME / HARNESS_VOTING_PERIOD_BLOCKS / HARNESS_API_REFRESH_TICK_S must be numbers"
            ) from None
        mnemonic = env.get("HARNESS_GOV_MNEMONIC", "")
        self._key_hex = env.get("HARNESS_GOV_KEY_HEX", "")
        if not mnemonic and not self._key_hex:
            raise ConfigError("--env-file: set HARNESS_GOV_MNEMONIC or HARNESS_GOV_KEY_HEX (a validator key that can vote)")
        kind = env.get("HARNESS_API_KIND", "upstream")
        if kind not in API_KINDS:
            raise ConfigError(f"--env-file: HARNESS_API_KIND={kind!r} is not one of {', '.join(API_KINDS)}")
        super().__init__(
            TestnetInfo(
                backend="external",
                chain_id="",
                block_time_s=block_time,
                start_version=opts.start_version,
                api_profile=opts.api_profile,
                topology=opts.topology,
                validator_mnemonics=[mnemonic] if mnemonic else [],
                api_kind=kind,
                api_under_test=f"external API node at {env['HARNESS_API_PUBLIC']} ({kind})",
                chain_under_test=f"external chain at {env['HARNESS_CHAIN_RPC']}",
                api_refresh_tick_s=tick,
            )
        )
        self.capabilities = API_KINDS[kind]
        self.endpoints = Endpoints(
            chain_rpc=env["HARNESS_CHAIN_RPC"],
            api_chain_rpc=env.get("HARNESS_API_CHAIN_RPC") or env["HARNESS_CHAIN_RPC"],
            api_public=env["HARNESS_API_PUBLIC"],
            api_admin=env["HARNESS_API_ADMIN"],
            chaos_control=env.get("HARNESS_CHAOS_CONTROL") or None,
        )
        self.mlnodes = [parse_mlnode(v, key=k) for k, v in sorted(env.items()) if k.startswith("HARNESS_MLNODE_")]
        if not self.mlnodes:
            raise ConfigError("--env-file: no HARNESS_MLNODE_<n>=id=..,host=..,poc_port=..,inference_port=..,journal=URL line")

    def _start(self) -> None:
        # lazy: cosmpy, protobuf, model and proxy code load when a testnet starts, not with pytest
        from harness.chain import ChainClient
        from harness.cometbft import BlockTimeline, RpcClient

        ep = self.endpoints
        assert ep is not None  # __init__ read them from the env file
        self.rpc = RpcClient(ep.chain_rpc)
        self.rpc.wait_for_height(1, timeout_s=30)
        self.chain = ChainClient(ep.chain_rpc)
        self.timeline = BlockTimeline(ep.chain_ws)
        self.timeline.start()
        self.api = ApiClient(ep.api_public, ep.api_admin)

    def validator_keys(self) -> list[Key]:
        if self.info.validator_mnemonics:
            return [Key.from_mnemonic(self.info.validator_mnemonics[0], name="gov")]
        return [Key.from_hex(self._key_hex, name="gov")]

    def _teardown_steps(self) -> tuple[Callable[[], object], ...]:
        """Nothing of an external testnet is ours to stop but the harness's own block timeline."""
        return (self._stop_timeline,)

    def _stop_timeline(self) -> None:
        if self.timeline is not None:
            self.timeline.stop()


# -- the registry's entry points (harness/backends/registry.py) ----------------------------------------------------------


def capabilities(opts: RunOptions) -> frozenset[Capability]:
    if opts.env_file is None:
        raise ConfigError("--backend external needs --env-file FILE with the testnet's URLs (see docs/backends.md)")
    return API_KINDS.get(parse_env_file(opts.env_file).get("HARNESS_API_KIND", "upstream"), frozenset())


def describe(opts: RunOptions) -> str:
    return f"external testnet described by {opts.env_file}"


def make(opts: RunOptions, workdir: Path, request: TestnetRequest) -> ExternalTestnet:
    return ExternalTestnet(opts)
