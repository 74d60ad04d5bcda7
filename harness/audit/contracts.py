"""The switch contract: what an API node promises about a partial upgrade, and the named contracts the harness
audits against. The one place every caller (hop, scenarios, `harness audit --live`, `harness upgrade`) takes it from.

    contract = contract_for("reference")                      # switch at H, grace 750 ms, old version stopped
    contract = contract_for("pr228", refresh_tick_s=30)       # switch at H-1, old prefix until the 30 s tick

A partial upgrade to V at height H. Let S be the header time of block H + switch_offset (the block whose processing
must switch the node) and G the grace:
- `early`: a request on V before S - early_tolerance_ms (no node can see block H before it exists);
- old prefix in [S, S + G): allowed (requests in flight, the node's processing of the block);
- `late`: old prefix at or after S + G from a node that had not yet sent any request on V (or a later version):
  the node itself switched late, or not at all; also the old-version stop when it comes at or after S + G
  (reason `late_stop`);
- `stale`: old prefix at or after S + G from a node that had already sent requests on V: a client that kept the
  old prefix after the node switched (e.g. worker clients refreshed on a ticker);
- stop rule (stop_old): one `POST /<old>/api/v1/stop` per node inside [S, S + G); none by S + G is `missing_stop`;
  a second one is `stale` (reason `repeated_stop`) after S + G, and also inside it when `stop_once` (the reference
  node stops each old version exactly once; PR #228's cached worker clients may reconcile through the old prefix
  until their tick, sending more).

The grace does not grow with the block time or the machine's load: it covers the node's reaction to one block
(measured on the embedded model: 151 ms at most for the stop, 156 ms for the last in-flight old-prefix request,
over 32 switches at load 6-9 on 2 cores; 750 ms leaves a margin for stalls). A node that switches k blocks late
keeps the old prefix until block H + k arrives, so it is caught when the chain's interval from H to H + k is longer
than the grace: on a real chain with block times of one second or more, always; the embedded chain holds block
H + 1 for `UPGRADE_HOLD_S` after H, so that `switch at H + 1` is caught at its fast default block time too, and
block H for `PRE_UPGRADE_HOLD_S` after H - 1, so that `switch at H - 1` has time to show its new prefix before block
H exists (an early switch is caught when the node reacts to block H - 1 before H; a correct node can never be
early). Comparing request times
(the mocks' clock) with block header times (the chain's clock) needs the two hosts' clocks in sync to well under
the grace.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import ConfigError

SWITCH_SLACK_MS = 750  # the node's reaction to the switch block: see the module docstring
UPGRADE_HOLD_S = 0.8  # embedded chain: H+1 comes this long after H (> grace: a node switching at H+1 cannot
# send its stop or its first new-prefix request before H+1 exists, so both come after the grace; see the docstring)
PRE_UPGRADE_HOLD_S = 1.0  # embedded chain: H comes this long after H-1 (> a node's reaction to H-1, under load:
# 0.6 s was exceeded at load 17, where a node switching at H-1 sent its first new-prefix request 1.1 s after H-1)
PR228_REFRESH_TICK_S = 30.0  # upstream PR #228 refreshes worker clients on its 30 s reconciler tick
NAMES = ("reference", "pr228")


def _int_field(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field}: expected an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{field}: must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Contract:
    """What the API node under test promises (see the module docstring for the verdicts it implies).

    switch_offset: the node switches while processing block H + switch_offset (reference 0, PR #228 -1).
    grace_ms: after that block's header time the old prefix is still allowed this long; the old-version stop is due
        inside the same window.
    stop_old: one `POST /<old>/api/v1/stop` per node is due after each switch.
    stop_once: a second old-version stop is an offender even inside the grace window.
    early_tolerance_ms: a later version's prefix is allowed this long before its switch (clock slack; default 0).
    """

    grace_ms: int = 0
    stop_old: bool = True
    early_tolerance_ms: int = 0
    switch_offset: int = 0
    name: str = "custom"
    stop_once: bool = False

    def __post_init__(self) -> None:
        _int_field(self.grace_ms, "grace_ms")
        _int_field(self.early_tolerance_ms, "early_tolerance_ms")
        _int_field(self.switch_offset, "switch_offset", minimum=-10)
        for flag in ("stop_old", "stop_once"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{flag}: expected true or false, got {getattr(self, flag)!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        at = "H" if self.switch_offset == 0 else f"H{self.switch_offset:+d}"
        once = " exactly once" if self.stop_once else ""
        stop = f", old version stopped{once} within {self.grace_ms} ms" if self.stop_old else ", no old-version stop due"
        return f"{self.name}: switch while processing block {at}, old prefix allowed {self.grace_ms} ms after it{stop}"


def contract_for(name: str, *, refresh_tick_s: float | None = None, block_time_s: float = 0.0) -> Contract:
    """The named contract. `refresh_tick_s`: the node's client refresh tick (pr228; default PR #228's 30 s);
    `block_time_s`: the chain's block time (pr228's tick may fire up to one block after the switch is processed)."""
    if name == "reference":
        return Contract(grace_ms=SWITCH_SLACK_MS, stop_old=True, switch_offset=0, name=name, stop_once=True)
    if name == "pr228":
        tick_s = PR228_REFRESH_TICK_S if refresh_tick_s is None else refresh_tick_s
        if not 0 < tick_s <= 3600:
            raise ConfigError(f"pr228 contract: refresh tick {tick_s!r} s is out of range (0, 3600]")
        grace = int(tick_s * 1000) + int(block_time_s * 1000) + SWITCH_SLACK_MS
        return Contract(grace_ms=grace, stop_old=True, switch_offset=-1, name=name)
    raise ConfigError(f"contract: unknown API node contract {name!r}; choose one of {', '.join(NAMES)}")
