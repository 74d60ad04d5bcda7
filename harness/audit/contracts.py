"""The switch contract: what an API node promises about a partial upgrade, and the named contracts the harness
audits against. The one place every caller (hop, scenarios, `harness audit --live`, `harness upgrade`) takes it from.

    contract = contract_for("reference")                      # switch at H, old version stopped at once
    contract = contract_for("pr228", refresh_tick_s=30)       # switch at H-1, old prefix until the 30 s tick

A partial upgrade to V at height H; B = H + switch_offset is the block whose processing must switch the API node.
Each request is judged against three times (audit/timeline.py): S (V expected from then on), D (the node must have
shown its switch by then: a request on V, or its old-version stop) and U (old-prefix requests still in flight are
allowed until then). Which clock gives them (audit/basis.py):

- **delivery** (every backend whose chaos proxy fronts the API node's chain connection): S = when NewBlock(B) reached
  that participant's API node; D = when NewBlock(B+1) reached it, and the proxy holds NewBlock(B+1) back until the
  node has shown its switch on every MLNode or `hold_ms` ran out, so an on-time node always has the time it needs to
  finish processing B, and a node that switches only while processing B+1 cannot show its switch before D, however
  fast or slow the machine is; D is never earlier than S + refresh_grace_ms (a client refresh tick, PR #228); U =
  D + inflight_ms. The proxy also holds NewBlock(B) for `pre_hold_ms` after NewBlock(B-1), released at once when
  the node shows V: a node switching while processing B-1 shows V before S.
- **chain** (no proxy: the external backend; or a participant whose API node did not receive B-1 and B on one
  connection: it was down or reconnecting): S = the header time of block B, D = U = S + grace_ms. The grace covers a
  node's reaction to one block, so it flips with load and block time; every report says which clock judged a run.

Verdicts (the same words on both clocks):
- `early`: a request on V before S - early_tolerance_ms (no node can know of B before it has it);
- old prefix before D: allowed (the node is processing B);
- `late`: old prefix at or after D from a node that had not switched yet; its old-version stop at or after D is
  `late_stop`, none at all `missing_stop`;
- `stale`: old prefix at or after U from a node that had switched (a client that kept the old prefix); a second
  old-version stop is `repeated_stop` (from U on, or at any time under `stop_once`).
Comparing request times (the mocks' clock) with proxy or block times needs the hosts' clocks in sync to well under
the smallest window (one host, as here, shares one clock).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import ConfigError

SWITCH_SLACK_MS = 750  # chain clock: the node's reaction to the switch block (docs/verdicts.md has the figures)
INFLIGHT_MS = 500  # delivery clock: an old-prefix request already on its way when the node switched
UPGRADE_HOLD_S = 0.8  # chain clock, embedded chain without a proxy: H+1 comes this long after H (> the grace)
PRE_UPGRADE_HOLD_S = 1.0  # and H this long after H-1 (a node switching at H-1 shows its new prefix before H)
PR228_REFRESH_TICK_S = 30.0  # upstream PR #228 refreshes worker clients on its 30 s reconciler tick
NAMES = ("reference", "pr228")


def _int_field(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field}: expected an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{field}: must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class SwitchContract:
    """What the API node under test promises (see the module docstring for the verdicts it implies).

    switch_offset: the node switches while processing block H + switch_offset (reference 0, PR #228 -1).
    grace_ms: after that block's header time the old prefix is still allowed this long; the old-version stop is due
        inside the same window.
    stop_old: one `POST /<old>/api/v1/stop` per node is due after each switch.
    stop_once: a second old-version stop is an offender even inside the grace window.
    early_tolerance_ms: a later version's prefix is allowed this long before its switch (clock slack; default 0).
    inflight_ms: delivery clock: old-prefix requests in flight allowed this long after the switch was due.
    refresh_grace_ms: delivery clock: the switch is never due earlier than this long after the switch block reached
        the node (clients refreshed on a tick); 0: it is due when the next block reaches the node.
    """

    grace_ms: int = 0
    stop_old: bool = True
    early_tolerance_ms: int = 0
    switch_offset: int = 0
    name: str = "custom"
    stop_once: bool = False
    inflight_ms: int = INFLIGHT_MS
    refresh_grace_ms: int = 0

    def __post_init__(self) -> None:
        _int_field(self.grace_ms, "grace_ms")
        _int_field(self.early_tolerance_ms, "early_tolerance_ms")
        _int_field(self.inflight_ms, "inflight_ms")
        _int_field(self.refresh_grace_ms, "refresh_grace_ms")
        _int_field(self.switch_offset, "switch_offset", minimum=-10)
        for flag in ("stop_old", "stop_once"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{flag}: expected true or false, got {getattr(self, flag)!r}")

    def switch_block(self, upgrade_height: int) -> int:
        """B: the block whose processing must switch the API node, for an upgrade at `upgrade_height` (H)."""
        return upgrade_height + self.switch_offset

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        at = "H" if self.switch_offset == 0 else f"H{self.switch_offset:+d}"
        once = " exactly once" if self.stop_once else ""
        stop = f", old version stopped{once}" if self.stop_old else ", no old-version stop due"
        tick = f", clients refreshed within {self.refresh_grace_ms} ms" if self.refresh_grace_ms else ""
        return f"{self.name}: switch while processing block {at}{tick}{stop}"


def contract_for(name: str, *, refresh_tick_s: float | None = None, block_time_s: float = 0.0) -> SwitchContract:
    """The named contract. `refresh_tick_s`: the node's client refresh tick (pr228; default PR #228's 30 s);
    `block_time_s`: the chain's block time (pr228's tick may fire up to one block after the switch is processed)."""
    if name == "reference":
        return SwitchContract(grace_ms=SWITCH_SLACK_MS, stop_old=True, switch_offset=0, name=name, stop_once=True)
    if name == "pr228":
        tick_s = PR228_REFRESH_TICK_S if refresh_tick_s is None else refresh_tick_s
        if not 0 < tick_s <= 3600:
            raise ConfigError(f"pr228 contract: refresh tick {tick_s!r} s is out of range (0, 3600]")
        grace = int(tick_s * 1000) + int(block_time_s * 1000) + SWITCH_SLACK_MS
        return SwitchContract(grace_ms=grace, stop_old=True, switch_offset=-1, name=name, refresh_grace_ms=grace)
    raise ConfigError(f"contract: unknown API node contract {name!r}; choose one of {', '.join(NAMES)}")
