"""Makes testnets for the configured backend; tracks them so the session can close or keep them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError
from harness.options import RunOptions

if TYPE_CHECKING:
    from harness.backends.contract import BaseTestnet, Capability

# Options that only concern the API node: a shared testnet applies them with a rebuild instead of new mocks.
API_SETTINGS = ("api_profile", "api_overrides", "api_intervals")


def capabilities_for(opts: RunOptions) -> frozenset[Capability]:
    """What a testnet of these options will be able to do, known before any is started (for skip decisions)."""
    from harness.backends.contract import Capability

    if opts.backend == "embedded":
        from harness.backends.embedded import EmbeddedTestnet

        return EmbeddedTestnet.capabilities
    if opts.backend == "docker":
        from harness.backends.docker import LOCAL_CAPABILITIES, UPSTREAM_CAPABILITIES

        upstream_api = opts.images == "upstream" or "api" in opts.image_overrides
        return UPSTREAM_CAPABILITIES if upstream_api else LOCAL_CAPABILITIES
    if opts.backend == "gonka":
        from harness.backends.gonka import CAPABILITIES

        return CAPABILITIES | {Capability.PARTICIPANTS}  # participants=N: harness.backends.gonka.network
    if opts.backend == "external":
        from harness.backends.external import API_KINDS, parse_env_file

        if opts.env_file is None:
            raise ConfigError("--backend external needs --env-file FILE with the testnet's URLs (see docs/backends.md)")
        return API_KINDS.get(parse_env_file(opts.env_file).get("HARNESS_API_KIND", "upstream"), frozenset())
    return frozenset(Capability)


def describe_under_test(opts: RunOptions) -> str:
    """One line for report headers: which API node and chain a run of these options tests."""
    if opts.backend == "embedded":
        return f"model apinode (profile {opts.api_profile}) on model simnet"
    if opts.backend == "docker":
        upstream_api = opts.images == "upstream" or "api" in opts.image_overrides
        if upstream_api:
            return "decentralized-api image (unverified path)"
        return f"model apinode (profile {opts.api_profile}), containers"
    if opts.backend == "gonka":
        return f"your decentralized-api and inferenced from {opts.gonka_bin}"
    return f"external testnet described by {opts.env_file}"


def check_lifecycle(opts: RunOptions, nodes: Any, participants: object) -> None:
    """MLNode lifecycle modes are set up by the backends that run the harness's MLNode mocks (embedded, gonka);
    asked of another backend, or given as something else than an MLNodeLifecycle, it is refused, naming why."""
    from harness.backends.contract import Capability, missing_text
    from harness.backends.lifecycle import MLNodeLifecycle

    if not isinstance(opts.mlnode_lifecycle, MLNodeLifecycle):
        raise ConfigError(
            f"mlnode_lifecycle: expected an MLNodeLifecycle(exclusive=..., slow_start_s=...), got {opts.mlnode_lifecycle!r}"
        )
    specs = [*(nodes or ()), *(participants if isinstance(participants, list | tuple) else ())]
    specs += [n for p in specs for n in getattr(p, "nodes", ())]
    asked = not opts.mlnode_lifecycle.default or any(getattr(x, "lifecycle", None) is not None for x in specs)
    if asked and Capability.MLNODE_LIFECYCLE not in capabilities_for(opts):
        raise ConfigError(f"mlnode lifecycle modes: {missing_text(opts.backend, [Capability.MLNODE_LIFECYCLE])}")


class TestnetFactory:
    __test__ = False

    def __init__(self, opts: RunOptions, root: Path) -> None:
        self.opts = opts
        self.root = Path(root)
        self.live: list[BaseTestnet] = []
        self._shared: dict[str, BaseTestnet] = {}
        self._n = 0

    def make(self, **overrides: Any) -> BaseTestnet:
        """Start and track a testnet of the session's options with these overrides (ConfigError if unsupported)."""
        nodes = overrides.pop("nodes", None)
        participants = overrides.pop("participants", 1)
        chaos = overrides.pop("chaos", True)
        api_overrides = overrides.pop("api_overrides", None)
        api_ivals = overrides.pop("api_intervals", None)
        network_mode = str(overrides.pop("network_mode", "host"))  # docker backend: host or bridge
        voting = overrides.pop("voting_period_blocks", None)  # the model chains' gov voting period, in blocks
        opts = self.opts.with_(**overrides) if overrides else self.opts
        self._n += 1
        workdir = self.root / f"testnet-{self._n}"
        _check_make(opts, nodes, participants, voting)
        tn: BaseTestnet
        if opts.backend == "embedded":
            from harness.backends.contract import NodeSpec
            from harness.backends.embedded import EmbeddedTestnet

            tn = EmbeddedTestnet(
                opts,
                workdir,
                nodes=tuple(nodes) if nodes else (NodeSpec("mlnode-1"),),
                participants=participants,
                chaos=chaos,
                voting_period_blocks=voting,
                api_overrides=api_overrides,
                api_intervals=api_ivals,
            )
        elif opts.backend == "docker":
            from harness.backends.docker import DockerTestnet

            tn = DockerTestnet(
                opts,
                workdir,
                nodes=nodes,
                chaos=chaos,
                network_mode=network_mode,
                **({"voting_period_blocks": voting} if voting is not None else {}),
                api_overrides=api_overrides,
                api_intervals=api_ivals,
            )
        else:
            tn = _real_testnet(opts, workdir, nodes, participants, chaos)
        tn.start()
        self.live.append(tn)
        return tn

    def shared(self, **overrides: Any) -> BaseTestnet:
        """A testnet for these overrides, reused by every module asking for the same mocks (a module's tests reset
        it; a dirty chain is rebuilt before the next test). API-node settings (profile, knobs, intervals) need no
        new mocks: they are applied to the shared testnet and take effect with a chain + API node rebuild.
        Closed at session end by close_all()."""
        api = {k: overrides.pop(k) for k in API_SETTINGS if k in overrides}
        key = repr(sorted(overrides.items()))
        tn = self._shared.get(key)
        if tn is None or tn.closed:
            tn = self.make(**overrides, **api)
            self._shared[key] = tn
        else:
            tn.configure_api(
                profile=str(api.get("api_profile", self.opts.api_profile)),
                overrides=api.get("api_overrides"),
                intervals=api.get("api_intervals"),
            )
        return tn

    def release(self, tn: BaseTestnet) -> None:
        if self.opts.keep_env:
            return
        tn.close()
        if tn in self.live:
            self.live.remove(tn)

    def close_all(self) -> None:
        self._shared.clear()
        while self.live:
            self.live.pop().close()

    def keep(self) -> list[Path]:
        """--keep-env (docker): record each live testnet in a state file for `harness down --state-file`, print it."""
        import os

        from harness.backends.state import DEFAULT_STATE, write_state
        from harness.util.invocation import cli_command

        cli = cli_command()
        paths = []
        for i, tn in enumerate(self.live):
            path = write_state(tn, DEFAULT_STATE.parent / f"kept-testnet-{os.getpid()}-{i + 1}.json")
            paths.append(path)
            print(
                f"\n[harness --keep-env] testnet left running: {tn.endpoints}\n"
                f"  status: {cli} status --state-file {path}\n  remove: {cli} down --state-file {path}"
            )
        return paths


def _check_make(opts: RunOptions, nodes: Any, participants: Any, voting: Any) -> None:
    """Refuse (ConfigError) participants, lifecycle modes or a voting period the backend cannot give."""
    if participants != 1 and opts.backend not in ("embedded", "gonka"):
        from harness.backends.contract import Capability, missing_text

        raise ConfigError(f"participants={participants!r}: {missing_text(opts.backend, [Capability.PARTICIPANTS])}")
    check_lifecycle(opts, nodes, participants)
    if voting is not None and opts.backend not in ("embedded", "docker"):
        raise ConfigError(
            f"voting_period_blocks={voting!r}: --backend {opts.backend} runs its own chain's voting period (measured "
            "on it: testnet.voting_period_blocks); only the embedded and docker model chains take one"
        )


def _real_testnet(opts: RunOptions, workdir: Path, nodes: Any, participants: Any, chaos: Any) -> BaseTestnet:
    """The (not yet started) testnet of a gonka or external backend; any other backend name is refused."""
    if opts.backend == "gonka":
        from harness.backends.contract import NodeSpec
        from harness.backends.gonka import GonkaTestnet

        if participants != 1:  # a network of real participants (genesis validators, each its own API node)
            from harness.backends.gonka.network import GonkaNetworkTestnet

            return GonkaNetworkTestnet(opts, workdir, participants=participants, nodes=tuple(nodes or (NodeSpec("mlnode-1"),)))
        return GonkaTestnet(opts, workdir, nodes=tuple(nodes) if nodes else (NodeSpec("mlnode-1"),), chaos=chaos)
    if opts.backend == "external":
        from harness.backends.external import ExternalTestnet

        return ExternalTestnet(opts)
    raise ConfigError(f"--backend: unknown backend {opts.backend!r}")
