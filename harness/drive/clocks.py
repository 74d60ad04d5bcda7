"""The delivery clock's side of the hops on one testnet (harness/audit/contracts.py says what it is): the holds of
every scheduled upgrade, from its proposal to its switch, and each participant's clock over every hop so far.

    clock = SwitchClocks(testnet, contract)
    clock.arm("v0.3.9", H, current="v0.3.8")   # before the proposal: hold blocks B and B+1 at every proxied participant
    clock.settle(H)                            # after block H+1: until the holds ended; their outcomes are kept
    clock.disarm(H)                            # release what is left of them (also on failure)
    clock.clocks(switches)                     # [ParticipantClock]: S, D, U per participant and hop
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness.audit.basis import Delivered, HoldOutcome, ParticipantClock, participant_clock
from harness.audit.contracts import SwitchContract
from harness.audit.timeline import Switch, SwitchTimeline
from harness.drive.switch_holds import HoldSettings, SwitchHolds


class SwitchClocks:
    def __init__(self, testnet: Any, contract: SwitchContract, *, progress: Callable[[str], None] | None = None) -> None:
        self.tn, self.contract = testnet, contract
        self.progress = progress or (lambda _m: None)
        self.settings = HoldSettings(pre_hold_ms=testnet.info.pre_hold_ms, hold_ms=testnet.info.hold_ms)
        self.held: dict[str, list[HoldOutcome]] = {}  # per participant, every hold of every hop (the clock's evidence)
        self._pending: dict[int, SwitchHolds] = {}  # upgrade height -> its holds

    def hold_blocks(self) -> int:
        """Blocks the holds of one switch may last on this chain (a real chain's hop keeps them clear of PoC phases)."""
        s = self.settings
        return int((s.pre_hold_ms + s.hold_ms) / 1000 / max(self.tn.info.block_time_s, 0.05)) + 1

    def arm(self, to_version: str, height: int, *, current: str) -> None:
        """Hold blocks B and B+1 of the upgrade to `to_version` at `height`; the version it leaves is the one pending
        just before it (two plans at once), else `current`. A plan at a height that has one already replaces it (the
        chain keeps one plan per height); a plan to the version it would leave is no switch: nothing is held."""
        self.disarm(height)
        before = [v for h, v in sorted((h, hs.new) for h, hs in self._pending.items()) if h < height]
        old = before[-1] if before else current
        if old == to_version:
            return
        holds = SwitchHolds(self.tn.participants, self.contract, self.settings, old=old, new=to_version,
                            upgrade_height=height, progress=self.progress)  # fmt: skip
        holds.start()
        self._pending[height] = holds

    def settle(self, height: int) -> None:
        """Until no participant's block B+1 of this upgrade is held any more; keep how each hold ended."""
        holds = self._pending.get(height)
        if holds is None:
            return
        holds.wait(self.tn.rpc.height)
        for pid, outcomes in holds.outcomes().items():
            self.held.setdefault(pid, []).extend(outcomes)

    def disarm(self, height: int) -> None:
        holds = self._pending.pop(height, None)
        if holds is not None:
            holds.stop()

    def disarm_all(self) -> None:
        for h in list(self._pending):
            self.disarm(h)

    def clocks(self, switches: Sequence[Switch], contract: SwitchContract | None = None) -> list[ParticipantClock]:
        """Each participant's clock over these switches (the chain's header times; harness/audit/basis.py): the
        delivery clock where its chaos proxy saw the blocks, else the chain's."""
        contract = contract or self.contract
        timeline = SwitchTimeline(switches)
        heights = [contract.switch_block(s.height) for s in timeline.switches[1:] if s.height is not None]
        out = []
        for p in self.tn.participants:
            proxy = p.chain_proxy
            deliveries = None
            if proxy is not None:
                seen = proxy.deliveries(min(heights) - 1) if heights else []
                deliveries = [Delivered(d.height, d.ms, d.conn_id, d.session_ms) for d in seen]
            out.append(participant_clock(p.id, p.node_ids, timeline, contract, deliveries, self.held.get(p.id, ())))
        return out
