"""Makes testnets for the configured backend; tracks them so the session can close or keep them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import BaseTestnet, TestnetRequest
from harness.backends.contract import Capability, missing_text
from harness.backends.registry import backend
from harness.errors import ConfigError
from harness.mlnode.lifecycle import MLNodeLifecycle
from harness.options import RunOptions

if TYPE_CHECKING:
    from harness.backends.contract import Capability

# Options that only concern the API node: a shared testnet applies them with a rebuild instead of new mocks.
API_SETTINGS = ("api_profile", "api_overrides", "api_intervals")


def capabilities_for(opts: RunOptions) -> frozenset[Capability]:
    """What a testnet of these options will be able to do, known before any is started (for skip decisions)."""
    caps: frozenset[Capability] = backend(opts.backend).adapter().capabilities(opts)
    return caps


def describe_under_test(opts: RunOptions) -> str:
    """One line for report headers: which API node and chain a run of these options tests."""
    return str(backend(opts.backend).adapter().describe(opts))


def check_lifecycle(opts: RunOptions, nodes: Any, participants: object) -> None:
    """MLNode lifecycle modes are set up by the backends that run the harness's MLNode mocks (embedded, gonka);
    asked of another backend, or given as something else than an MLNodeLifecycle, it is refused, naming why."""

    if not isinstance(opts.mlnode_lifecycle, MLNodeLifecycle):
        raise ConfigError(
            f"mlnode_lifecycle: expected an MLNodeLifecycle(exclusive=..., slow_start_s=...), got {opts.mlnode_lifecycle!r}"
        )
    specs = [*(nodes or ()), *(participants if isinstance(participants, list | tuple) else ())]
    specs += [n for p in specs for n in getattr(p, "nodes", ())]
    asked = not opts.mlnode_lifecycle.default or any(getattr(x, "lifecycle", None) is not None for x in specs)
    if asked and Capability.MLNODE_LIFECYCLE not in capabilities_for(opts):
        raise ConfigError(f"mlnode lifecycle modes: {missing_text(opts.backend, [Capability.MLNODE_LIFECYCLE])}")


def make_testnet(opts: RunOptions, workdir: Path, request: TestnetRequest) -> BaseTestnet:
    """A testnet of these options (not yet started), after the refusals of what the backend cannot give."""

    entry = backend(opts.backend)
    if request.several and Capability.PARTICIPANTS not in capabilities_for(opts):
        raise ConfigError(f"participants={request.participants!r}: {missing_text(opts.backend, [Capability.PARTICIPANTS])}")
    check_lifecycle(opts, request.nodes, request.participants)
    if request.voting_period_blocks is not None and not entry.voting_period:
        raise ConfigError(
            f"voting_period_blocks={request.voting_period_blocks!r}: --backend {opts.backend} runs its own chain's voting "
            "period (measured on it: testnet.voting_period_blocks); only the embedded and docker model chains take one"
        )
    tn: BaseTestnet = entry.adapter().make(opts, workdir, request)
    return tn


class TestnetFactory:
    __test__ = False

    def __init__(self, opts: RunOptions, root: Path) -> None:
        self.opts = opts
        self.root = Path(root)
        self.live: list[BaseTestnet] = []
        self._shared: dict[str, BaseTestnet] = {}
        self.failed_start: BaseTestnet | None = None  # the last testnet whose start failed
        self._n = 0

    def make(self, **overrides: Any) -> BaseTestnet:
        """Start and track a testnet of the session's options with these overrides (ConfigError if unsupported)."""
        request = TestnetRequest(
            nodes=overrides.pop("nodes", None),
            participants=overrides.pop("participants", 1),
            chaos=overrides.pop("chaos", True),
            voting_period_blocks=overrides.pop("voting_period_blocks", None),  # the model chains' gov voting period
            api_overrides=overrides.pop("api_overrides", None),
            api_intervals=overrides.pop("api_intervals", None),
            network_mode=str(overrides.pop("network_mode", "host")),  # docker backend: host or bridge
        )
        opts = self.opts.with_(**overrides) if overrides else self.opts
        self._n += 1
        tn = make_testnet(opts, self.root / f"testnet-{self._n}", request)
        try:
            tn.start()
        except BaseException:
            self.failed_start = tn  # stopped by start() itself; its logs stay for the setup bundle
            raise
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
