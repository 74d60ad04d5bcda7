"""What one upgrade hop found (`HopReport`), and the counts taken from its audit. Made by UpgradeRunner.hop()
(harness/drive/hop.py); judged by harness/drive/assertions.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.audit.basis import HopTiming
from harness.audit.results import STOP_ENDPOINT, AuditReport
from harness.clients.api import ChatResult
from harness.drive.traffic import ExcusedWindow, SentChat, unexcused
from harness.report.evidence import audit_page_data
from harness.report.html import write_report


@dataclass
class HopReport:
    from_version: str
    to_version: str
    upgrade_height: int
    proposal_id: int
    switch_height: int
    switch_ms: int
    started_ms: int
    finished_ms: int
    audit: AuditReport  # over everything journaled so far
    chat_after: ChatResult | None
    chat_failures: list[SentChat] = field(default_factory=list)  # every failed chat of the hop's traffic
    old_stops: dict[str, int] = field(default_factory=dict)
    # spans in which the API node was meant to refuse chats: the hop's own (admin disable, PoC cycle) and, on a real
    # chain, its PoC phases ("chain PoC phase starting at block N (blocks N-M)")
    windows: list[ExcusedWindow] = field(default_factory=list)
    # the chat after the switch, per participant (chat_after is the first participant's)
    chats_after: dict[str, ChatResult | None] = field(default_factory=dict)
    # an upgrade to the version already current (from_version == to_version, no switch): stops of that version from
    # the block that would have switched the API node on, outside the hop's own windows (there must be none)
    same_version_stops: list = field(default_factory=list)
    # per participant tag ("" on a testnet of one): (first chat started, last chat ended) of the hop's chat traffic;
    # empty when the hop sent none (`traffic=False`)
    traffic_spans: dict[str, tuple[int, int] | None] = field(default_factory=dict)

    @property
    def same_version(self) -> bool:
        """An upgrade to the version already current: no switch, no old version, nothing to stop."""
        return self.from_version == self.to_version

    @property
    def duration_s(self) -> float:
        return (self.finished_ms - self.started_ms) / 1000

    def timing(self, participant: str | None = None) -> HopTiming:
        """The clock this hop was judged by for a participant (default the first): S, D, U and why
        (harness/audit/basis.py)."""
        if self.same_version:
            raise LookupError(f"the upgrade to {self.to_version} was no switch (the version already current): no clock")
        hop = len(self.audit.timeline.switches) - 1  # the audit covers every hop so far; this one is the last
        mine = [t for t in self.audit.timing if t.hop == hop and (participant is None or t.participant == participant)]
        if not mine:
            raise LookupError(f"no clock of participant {participant!r} for hop {hop} in the audit")
        return mine[0]

    @property
    def orders(self) -> list:
        """This hop's switch order per node (harness.audit.lifecycle.SwitchOrder): old version stopped, new one up,
        the gap with no serving version and the user chats that failed in it."""
        hop = len(self.audit.timeline.switches) - 1
        return [o for o in self.audit.lifecycle if o.hop == hop]

    @property
    def user_failures(self) -> list[SentChat]:
        """Failed chats that overlap none of the hop's own windows: what a user would have seen across the switch."""
        return unexcused(self.chat_failures, self.windows)

    def write_html(self, path, testnet):
        """This hop's audit as one self-contained HTML page (harness/report/html.py), linking the testnet's logs."""

        title = f"hop {self.from_version} -> {self.to_version} at height {self.upgrade_height}"
        return write_report(audit_page_data(self.audit, testnet, title=title, bodies=None, folder=False), path)

    def summary(self) -> str:
        a = self.audit
        return (
            f"{self.from_version} -> {self.to_version} at height {self.upgrade_height} "
            f"(proposal {self.proposal_id}): verdict {a.verdict}, counts {a.counts}, "
            f"chat after switch: {self.chat_after.content if self.chat_after else '-'!r}, {self.duration_s:.1f}s"
            + "".join(f"\n  {o.describe()}" for o in self.orders)
        )


def old_stops(report, *, hop_index: int) -> dict[str, int]:
    """How many `POST /<old>/api/v1/stop` each node received after this hop's switch (from the audit's stop rule)."""
    out: dict[str, int] = {}
    for s in report.stops:
        n = (s.stop_ms is not None) + s.repeated
        if s.hop == hop_index and n:
            out[s.node] = n
    return out


def same_version_stops(
    records: Iterable, version: str, *, since_ms: int, windows: list[ExcusedWindow], owners: dict[str, str]
) -> list:
    """`POST /<version>/api/v1/stop` requests logged at or after `since_ms` outside every window (a window of
    participant P covers only P's MLNodes; `owners`: MLNode id -> participant tag, "" on a testnet of one)."""

    def excused(r) -> bool:
        owner = owners.get(r.node_key, "")
        return any(w.start_ms <= r.logged_ms <= w.end_ms and w.participant in ("", owner) for w in windows)

    return [
        r for r in records
        if r.method == "POST" and r.endpoint == STOP_ENDPOINT and r.version_seen == version and r.logged_ms >= since_ms
        and not excused(r)
    ]  # fmt: skip
