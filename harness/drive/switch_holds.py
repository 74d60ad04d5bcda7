"""The holds of one hop on the delivery clock (harness/audit/contracts.py says what they are for): for every
participant whose chain connection runs through a chaos proxy, NewBlock(B) is held `pre_hold_ms` after NewBlock(B-1)
and NewBlock(B+1) at most `hold_ms` after NewBlock(B); a watcher reads the participant's MLNode journals and
releases them as soon as the node shows itself:

- a request on the new version while NewBlock(B) is still held, or before it was delivered: the node switched early;
  both holds are released (there is nothing left to wait for);
- after NewBlock(B) reached the node, every one of its MLNodes has received the stop of the version it leaves (or,
  where the contract wants no stop, a request on the new version): the node switched; NewBlock(B+1) is released.

    holds = SwitchHolds(testnet.participants, contract, settings, old="v0.3.8", new="v0.3.9", upgrade_height=H)
    holds.start()                # arm on every proxied participant, watch in a thread
    holds.wait(rpc.height)       # until no participant's NewBlock(B+1) is held any more (bounded)
    holds.outcomes()             # {participant: [HoldOutcome(B), HoldOutcome(B+1)]}, for the audit's clock
    holds.stop()                 # stop watching, drop the holds (also on failure)

The watcher reads the journals before it asks the proxy what it delivered, so a request logged after NewBlock(B)
is never taken for an early one. Its polls are bounded by the holds themselves. A poll that fails (a journal or the
proxy slow to answer on a loaded machine) is said on the progress line and tried again at the next poll: the holds
run out by themselves, so a watcher that cannot see makes a hop slower, never its verdict wrong, and its last error
is in the evidence of a wait that does not end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from harness.audit.basis import HoldOutcome
from harness.audit.contracts import SwitchContract
from harness.audit.results import STOP_ENDPOINT
from harness.chaos.holds import Hold
from harness.errors import ConfigError, WaitTimeout
from harness.mlnode.collect import collect_records
from harness.util.wait import wait_until

HOLD_SLACK_S = 5.0  # after a late hold's own bound: its delivery and the next poll

_OPEN = ("armed", "holding")


@dataclass(frozen=True)
class HoldSettings:
    """pre_hold_ms: NewBlock(B) waits this long after NewBlock(B-1) (a node switching at B-1 shows V meanwhile).
    hold_ms: NewBlock(B+1) waits at most this long after NewBlock(B) for the node to show its switch.
    poll_s: how often the watcher reads the journals."""

    pre_hold_ms: int
    hold_ms: int
    poll_s: float = 0.05


class _Watch:
    """One participant's holds."""

    def __init__(self, participant, b: int, armed_ms: int) -> None:
        self.participant = participant
        self.proxy = participant.chain_proxy
        self.b = b
        self.armed_ms = armed_ms
        self.holds: dict[int, Hold] = {}
        self.delivered: dict[int, float] = {}
        self.done = False

    def refresh(self) -> None:
        self.holds = {h.height: h for h in self.proxy.holds() if h.height in (self.b, self.b + 1)}
        self.delivered = {d.height: d.ms for d in self.proxy.deliveries(self.b - 1, self.b + 1)}

    def release(self, heights: tuple[int, ...], reason: str) -> None:
        for h in heights:
            hold = self.holds.get(h)
            if hold is not None and hold.outcome in _OPEN:
                self.proxy.release_hold(h, reason)

    def over(self) -> bool:
        """From the proxy now (the watcher's view may be a poll old): every hold of this hop has ended (released,
        expired, not held: final states, each reached within the hold's own bound while the API node is connected),
        or the API node has no websocket through the proxy (not connected, or gone with a block held), so that
        nothing held can reach it. Which blocks were delivered is no evidence either way: a hold whose bound has
        just run out shows as expired a moment before its block goes out, and the next hold begins only then."""
        if not any(h.outcome in _OPEN for h in self.proxy.holds() if h.height in (self.b, self.b + 1)):
            return True
        return int(self.proxy.status().get("websockets", 1)) == 0

    def settled(self, b: int) -> bool:
        """NewBlock(b+1) is no longer held: delivered, released or run out."""
        hold = self.holds.get(b + 1)
        return b + 1 in self.delivered or (hold is not None and hold.outcome not in _OPEN)


class SwitchHolds:
    def __init__(
        self,
        participants: Sequence,
        contract: SwitchContract,
        settings: HoldSettings,
        *,
        old: str,
        new: str,
        upgrade_height: int,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.contract, self.settings = contract, settings
        self.old, self.new = old, new
        self.b = contract.switch_block(upgrade_height)
        self.progress = progress or (lambda _m: None)
        self.watches = [_Watch(p, self.b, 0) for p in participants if getattr(p, "chain_proxy", None) is not None]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None  # the watcher's last failed poll
        self.failed_polls = 0

    def start(self) -> None:
        """Arm the holds at every proxied participant, side by side (the proposal waits for this: on a loaded machine
        each proxy answers slowly, and the height was chosen just before), then watch."""
        now = int(time.time() * 1000)
        if len(self.watches) > 1:
            with ThreadPoolExecutor(len(self.watches), thread_name_prefix="arm-holds") as pool:
                for f in [pool.submit(self._arm, w, now) for w in self.watches]:
                    f.result()
        elif self.watches:
            self._arm(self.watches[0], now)
        if self.watches:
            self.progress(f"holding block {self.b} {self.settings.pre_hold_ms} ms and block {self.b + 1} until the switch "
                          f"shows (at most {self.settings.hold_ms} ms) at {len(self.watches)} API node(s)")  # fmt: skip
            self._thread = threading.Thread(target=self._run, name="switch-holds", daemon=True)
            self._thread.start()

    def _arm(self, w: _Watch, now: int) -> None:
        w.armed_ms = now
        late = []
        for h, ms in ((self.b, self.settings.pre_hold_ms), (self.b + 1, self.settings.hold_ms)):
            try:
                w.proxy.arm_hold(h, ms)
            except ConfigError as e:  # the chain got there first (a stalled, loaded machine): nothing to hold
                if "already delivered" not in str(e):
                    raise
                late.append(h)
        if late:  # a proposal for this height is refused as too soon anyway, and proposed again further out
            self.progress(f"{w.participant.id}: block(s) {late} already reached its API node; not held")

    def _run(self) -> None:
        while not self._stop.is_set() and not all(w.done for w in self.watches):
            try:
                for w in self.watches:
                    if not w.done:
                        self._look(w)
            except Exception as e:  # tried again at the next poll (see the module's docstring)
                self.error = e
                self.failed_polls += 1
                if self.failed_polls == 1:
                    self.progress(f"watching the holds: {type(e).__name__}: {e}; trying again at every poll")
            self._stop.wait(self.settings.poll_s)

    def _look(self, w: _Watch) -> None:
        records = collect_records(w.participant.mlnodes, since_ms=w.armed_ms)  # journals first, then the proxy
        w.refresh()
        d_b = w.delivered.get(self.b)
        newer = [r for r in records if r.version_seen == self.new]
        if any(d_b is None or r.logged_ms < int(d_b) for r in newer):
            w.release((self.b, self.b + 1), f"a newer version seen before block {self.b} reached the API node (early)")
        elif d_b is not None and self._shown(w, records, int(d_b)):
            w.release((self.b + 1,), f"switch seen on every MLNode of {w.participant.id}")
        w.done = w.settled(self.b)

    def _shown(self, w: _Watch, records: list, since_ms: int) -> bool:
        """Every MLNode of the participant received the old version's stop (or a request on the new version where no
        stop is due) after NewBlock(B) reached its API node."""

        def shows(r) -> bool:
            if self.contract.stop_old:  # the stop of the version it leaves (with two plans pending: whichever it ran)
                return r.version_seen not in (None, self.new) and r.method == "POST" and r.endpoint == STOP_ENDPOINT
            return r.version_seen == self.new

        seen = {r.node_key for r in records if r.logged_ms >= since_ms and shows(r)}
        return all(n.id in seen for n in w.participant.mlnodes)

    def wait(self, height: Callable[[], int], timeout_s: float | None = None) -> None:
        """Until no participant's NewBlock(B+1) is held any more: delivered, released or run out; or, with the chain
        two blocks past B+1, every hold over or unable to begin (an API node that was not connected)."""
        if not self.watches:
            return
        bound = timeout_s or (self.settings.pre_hold_ms + self.settings.hold_ms) / 1000 + 30

        def settled() -> bool:
            if all(w.done for w in self.watches):
                return True
            if height() <= self.b + 2:
                return False
            return all(w.done or w.over() for w in self.watches)

        what = f"the holds of blocks {self.b} and {self.b + 1} to end"

        def evidence() -> str:
            holds = "; ".join(f"{w.participant.id}: {w.holds}" for w in self.watches)
            if self.error is None:
                return holds
            last = f"{type(self.error).__name__}: {self.error}"
            return f"{holds}; the watcher's polls failed {self.failed_polls} times, last: {last}"

        while True:
            try:
                wait_until(settled, timeout_s=bound, what=what, evidence=evidence)
                return
            except WaitTimeout:
                # A hold that began late (an API node restarted after B, a real node's start takes half a minute)
                # runs to its own bound: wait for that, not for the bound counted from this call.
                left_s = self._latest_hold_end_ms() / 1000 - time.time() + HOLD_SLACK_S
                if left_s <= 0:
                    raise
                bound = left_s

    def _latest_hold_end_ms(self) -> float:
        """When the last NewBlock still held runs out at the latest (its max_ms after it was kept back); 0 if none is."""
        ends = [h.held_from_ms + h.max_ms for w in self.watches for h in w.holds.values()
                if h.outcome == "holding" and h.held_from_ms is not None]  # fmt: skip
        return max(ends, default=0.0)

    def outcomes(self) -> dict[str, list[HoldOutcome]]:
        out: dict[str, list[HoldOutcome]] = {}
        for w in self.watches:
            w.refresh()
            out[w.participant.id] = [_outcome(w.holds[h]) for h in (self.b, self.b + 1) if h in w.holds]
        return out

    def stop(self) -> None:
        """Stop watching and release this switch's holds (another pending upgrade's holds stay armed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for w in self.watches:
            try:
                w.refresh()
                w.release((self.b, self.b + 1), "the hop is over")
            except Exception as e:  # the proxy may be gone with a stopped testnet; nothing is held there any more
                self.progress(f"releasing the holds at {w.participant.id}'s proxy: {e}")


def _outcome(h: Hold) -> HoldOutcome:
    held = None
    if h.held_from_ms is not None and h.delivered_ms is not None and h.outcome in ("released", "expired"):
        held = int(h.delivered_ms - h.held_from_ms)
    return HoldOutcome(h.height, held, h.outcome, h.reason)
