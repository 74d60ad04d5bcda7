"""One upgrade hop, as an operator would run it: propose through governance, vote, wait for the height,
drive management and inference traffic across the switch, audit the journals, report.

    runner = UpgradeRunner(testnet)    # audits against contract_for(testnet.info.api_profile, ...)
    hop = runner.hop("v0.3.9")         # HopReport
    assert hop.audit.verdict == "pass", hop.audit.to_text()
    assert not hop.user_failures       # chats that failed outside the windows the hop itself made (admin disable, PoC)

On a network (several participants) the hop drives every participant's API node: chat traffic to each, management
kicks and PoC on each participant's MLNodes through its own API node, a chat after the switch from each; the audit
covers every participant's journals against the one chain timeline and carries the network view
(`hop.audit.network`: each participant's switch, the spread, the participant and request that broke atomicity).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.audit import Switch, audit
from harness.audit.basis import HopTiming, ParticipantClock
from harness.audit.contracts import SwitchContract, contract_for
from harness.audit.lifecycle import UserChat
from harness.audit.timeline import chain_switch
from harness.backends.contract import Capability, participant_nodes, require
from harness.chain.schedule import ATTEMPTS, propose_until_passed
from harness.drive.clocks import SwitchClocks
from harness.drive.epochs import ChainEpochs
from harness.drive.hop_report import HopReport, old_stops, same_version_stops
from harness.drive.management import ManagementTraffic
from harness.drive.traffic import ChatTraffic, ExcusedWindow
from harness.mlnode.collect import collect_records
from harness.util.wait import wait_until
from harness.versions import check_version

HOP_TRAFFIC_MAX_S = 1800.0  # a hop's chat traffic runs until the hop stops it (a real hop takes minutes), at most this
SAME_VERSION_BLOCKS = 3  # an upgrade to the version already current: blocks after H in which no stop of it may come
__all__ = ["ATTEMPTS", "HopReport", "UpgradeRunner", "chain_version", "contract_of"]


def contract_of(testnet) -> SwitchContract:
    """The contract the API node under test is audited against: its profile's, with its own refresh tick."""
    info = testnet.info
    return contract_for(info.api_profile, refresh_tick_s=info.api_refresh_tick_s, block_time_s=info.block_time_s)


class UpgradeRunner(ManagementTraffic):
    """Runs hops on a Testnet and keeps the switch timeline across hops."""

    def __init__(self, testnet, *, progress: Callable[[str], None] | None = None, announce_hops: bool = True) -> None:

        self.tn = testnet
        testnet.last_runner = self  # the failure bundle reports this runner's last audit
        self.progress = progress or (lambda _msg: None)
        self.announce_hops = announce_hops  # pass each hop's summary to `progress`
        self.contract = contract_of(testnet)
        self.clock = SwitchClocks(testnet, self.contract, progress=self.progress)  # holds, each participant's clock
        self.windows: list[ExcusedWindow] = []  # the current hop's intended chat-refusal windows
        start = chain_version(testnet)
        self.epochs = ChainEpochs.from_chain(testnet.chain) if Capability.CHAIN_POC in testnet.capabilities else None
        self.switches = [Switch(version=start, from_ms=0, height=None)]
        self.hops: list[HopReport] = []
        self.started_ms = int(time.time() * 1000)

    @property
    def current_version(self) -> str:
        return self.switches[-1].version

    def schedule(
        self,
        to_version: str,
        *,
        lead_blocks: int | None = None,
        height: int | None = None,
        inside_poc: bool = False,
        spare_blocks: int = 0,
    ) -> tuple[int, int]:
        """Propose + vote; returns (proposal_id, upgrade height). Height = after the voting period + margin, or exactly
        `height` (one attempt: UpgradeTooSoon when the chain can no longer make it). On a chain with PoC phases H is
        placed outside them, or (`inside_poc`, CHAIN_POC only) inside the next one. `spare_blocks`: that many blocks
        more between the proposal's passing and H, for a scenario that acts in between (takes an API node down)."""
        check_version(to_version, field="to_version")
        if inside_poc:
            require(self.tn, Capability.CHAIN_POC)
        keys = self.tn.validator_keys()
        outcome, h = propose_until_passed(
            self.tn.chain,
            to_version,
            lambda extra: height if height is not None else self._pick_height(lead_blocks, extra + spare_blocks, inside_poc),
            proposer=keys[0],
            voters=keys,
            attempts=1 if height is not None else ATTEMPTS,
            before=lambda h: self.clock.arm(to_version, h, current=self.current_version),  # B may follow the vote at once
            refused=self.clock.disarm,
            progress=self.progress,
        )
        self.progress(f"proposal {outcome.proposal_id} passed at height {outcome.passed_height}")
        return outcome.proposal_id, h

    def _pick_height(self, lead_blocks: int | None, margin: int, inside_poc: bool) -> int:
        """One block past the earliest height the chain accepts now (that one has a margin for the votes already),
        `margin` blocks further for a proposal made again (harness/chain/schedule.py)."""
        earliest, _ = self.tn.chain.earliest_upgrade_height()
        height = max(self.tn.rpc.height() + (lead_blocks or 0), earliest + 1 + margin)
        if self.epochs is None:
            return height
        if inside_poc:  # a few blocks into the chain's next PoC phase that starts late enough
            return self.epochs.inside_poc(height)
        # not inside the chain's PoC phase: the switch (and its holds) on a serving node
        return self.epochs.quiet_height(height, room=self.clock.hold_blocks())

    def wait_switch(self, height: int) -> tuple[int, int]:
        """Wait until the chain has produced block height+1 and return (switch height, switch block time ms)."""
        switch_height = self.contract.switch_block(height)
        self.tn.rpc.wait_for_height(height + 1)  # bounded in blocks (the chain's measured interval)
        seen = wait_until(
            lambda: self.tn.timeline.time_of(switch_height),
            timeout_s=10,
            what=f"block {switch_height} in the harness's block timeline",
        )
        self.progress(f"height {height} reached; chain MLNode version: {chain_version(self.tn, default='not tracked')}")
        return switch_height, seen.block_time_ms

    def await_switch(self, to_version: str, height: int) -> tuple[int, int]:
        """wait_switch and the end of the holds of this height, then record the switch in the timeline the audit
        uses (the header time of block B; each participant's own clock is derived from it by clocks())."""
        try:
            switch_height, switch_ms = self.wait_switch(height)
            self.clock.settle(height)
        finally:
            self.clock.disarm(height)
        if to_version != self.current_version:  # an upgrade to the version already current is no switch
            self.switches.append(chain_switch(to_version, height, switch_height, self._block_ms))
        return switch_height, switch_ms

    def wait_past_due(self) -> None:
        """Wait for a block whose header time lies past the last hop's `until` on every participant's clock (the old
        version's stop is due and old-prefix traffic from then on counts as stale)."""
        until_ms = max(c.timeline.switches[-1].until(self.contract.grace_ms) for c in self.clocks())

        def past() -> bool:
            blocks = self.tn.timeline.blocks()
            return bool(blocks) and blocks[-1].block_time_ms > until_ms

        remaining_s = max(0.0, until_ms / 1000 - time.time())
        wait_until(
            past,
            timeout_s=remaining_s + 10 + 20 * self.tn.info.block_time_s,
            what=f"a block after every participant's switch was due and its in-flight window ended ({until_ms} ms)",
        )

    def timing(self, participant: str | None = None, hop: int = -1) -> HopTiming:
        """A participant's clock (default the first) for one hop (default the last) so far."""
        part = self.tn.participant(participant)
        clock = next(c for c in self.clocks() if c.participant == part.id)
        return clock.timing[hop]

    def clocks(self, contract: SwitchContract | None = None, chain: list | None = None) -> list[ParticipantClock]:
        """Each participant's clock over every hop so far (harness/drive/clocks.py)."""
        return self.clock.clocks(chain or self.switches, contract or self.contract)

    def timeline_for(self, contract: SwitchContract) -> list:
        """The switch timeline under another contract: each switch at the header time of its block H + offset."""
        return [self.switches[0], *(chain_switch(s.version, s.height, contract.switch_block(s.height), self._block_ms)
                                    for s in self.switches[1:])]  # fmt: skip

    def _block_ms(self, height: int) -> int | None:
        """A block's header time from the harness's block timeline (None: not in it)."""
        block = self.tn.timeline.time_of(height)
        return None if block is None else block.block_time_ms

    def audit_now(self, contract: SwitchContract | None = None, *, chain_clock: bool = False, user_chats: list | None = None):
        """Audit everything the mocks journaled so far (the audited range ends now) against the switch timeline and
        the API node's contract (or another contract, e.g. to show how one build fails another's promises), each
        participant on its own clock (`chain_clock`: every one on the chain's header times + grace instead).
        `user_chats` (harness.audit.lifecycle.UserChat, e.g. user_chats_of(traffic)): the failed ones are counted in
        each node's switch gap."""

        heights = [(b.height, b.block_time_ms) for b in self.tn.timeline.blocks()]
        switches = self.switches if contract is None else self.timeline_for(contract)
        parts = self.tn.participants
        mlnodes = [n for p in parts for n in p.mlnodes]
        return audit(
            collect_records(mlnodes),
            switches,
            contract or self.contract,
            nodes=[n.id for n in mlnodes],
            heights=heights,
            end_ms=int(time.time() * 1000),
            participants=participant_nodes(parts) if len(parts) > 1 else None,
            clocks=() if chain_clock else self.clocks(contract, switches),
            user_chats=user_chats,
        )

    def chat_traffic(self, participant: str | None = None) -> ChatTraffic:
        """Chat traffic through a participant's API node (default the first), at the hop's pace: a real node writes two
        transactions per chat, so a gentler one on a real chain."""
        part = self.tn.participant(participant)
        return ChatTraffic(part.api, interval_s=0.25 if self.epochs else 0.05, participant=self._tag(part.id))

    def management_before_switch(self, *, kick: bool, poc: bool) -> None:
        """Admin disable/enable per node and a PoC cycle on every participant, on the old version (before the
        proposal)."""
        self._management(poc, kick)

    def hop(
        self,
        to_version: str,
        *,
        kick: bool = True,
        traffic: bool = True,
        after_blocks: int = 1,
        poc: bool | None = None,
        on_scheduled: Callable[[int], None] | None = None,
        inside_poc: bool = False,
    ) -> HopReport:
        """Propose and vote (management traffic forced meanwhile), wait for the switch and past its due time
        (`after_blocks`: at least until block H + after_blocks), force management traffic again, audit.
        `on_scheduled(H)` runs once the upgrade height is known (e.g. to open a fault window around it).
        `inside_poc`: H inside the chain's next PoC phase (CHAIN_POC). An upgrade to the version already current is
        no switch: the timeline stays as it is, and the report lists every stop of that version from block B on
        outside the hop's own windows (`same_version_stops`: there must be none)."""
        from_version = self.current_version
        if to_version == from_version:  # the blocks in which a node that wrongly treats it as a switch shows it
            after_blocks = max(after_blocks, SAME_VERSION_BLOCKS)
        kick, poc, chain_poc = self._management_plan(kick, poc)
        started = int(time.time() * 1000)
        self.windows = []
        chats = self._hop_chats() if traffic else []
        for chat in chats:
            chat.__enter__()
        try:
            scheduled = self._switch(to_version, kick, poc, chain_poc, after_blocks, on_scheduled, inside_poc)
        finally:
            self.clock.disarm_all()  # a hop that failed before its switch leaves nothing held
            for chat in chats:
                chat.stop()
        self._settle(started)
        chats_after = {p.id: p.api.chat("which version answers?") for p in self.tn.participants}
        hop = self._report(from_version, to_version, scheduled, started, chats, chats_after)
        self.hops.append(hop)
        if self.announce_hops:
            self.progress(hop.summary())
        return hop

    def _management_plan(self, kick: bool, poc: bool | None) -> tuple[bool, bool, bool]:
        """(kick, poc, chain_poc): how the hop forces management traffic, by what the backend offers."""
        if poc is None:  # the PoC trigger is a debug endpoint of the model API node
            poc = Capability.POC_ON_DEMAND in self.tn.capabilities
        # `kick`: force management traffic across the switch. Where admin disable/enable does not make the API node
        # reconcile (a real node), the chain's own next PoC phase after the switch is that traffic.
        want_management = kick
        kick = want_management and Capability.ADMIN_RECONCILE in self.tn.capabilities
        chain_poc = want_management and not kick and self.epochs is not None
        return kick, poc, chain_poc

    def _hop_chats(self) -> list[ChatTraffic]:
        """Chat traffic through every participant's API node for the hop (not yet started)."""
        # a real node writes two transactions per chat: a gentler pace keeps the chain's blocks small
        parts = self.tn.participants
        interval = 0.25 if self.epochs else 0.05 * len(parts)
        bound = {"max_duration_s": HOP_TRAFFIC_MAX_S, "max_requests": int(HOP_TRAFFIC_MAX_S / interval) + 1}
        return [ChatTraffic(p.api, interval_s=interval, participant=self._tag(p.id), **bound) for p in parts]

    def _switch(
        self,
        to_version: str,
        kick: bool,
        poc: bool,
        chain_poc: bool,
        after_blocks: int,
        on_scheduled: Callable[[int], None] | None,
        inside_poc: bool,
    ) -> tuple[int, int, int, int]:
        """Schedule the upgrade between bouts of management traffic, wait past its due time; (proposal, H, switch h, ms)."""
        # The management traffic on the old version ends before the proposal is made: overlapping it with the
        # voting period saved 0.8 s a hop, but on a loaded machine (load 10-18) its reconciles or PoC cycle ran into
        # block H-1, when a node switching early shows itself only through chats, which the PoC cycle holds off.
        self.management_before_switch(kick=kick, poc=poc)
        proposal_id, height = self.schedule(to_version, inside_poc=inside_poc)
        if on_scheduled is not None:
            on_scheduled(height)
        switch_height, switch_ms = self.await_switch(to_version, height)
        if after_blocks > 1:
            self.tn.rpc.wait_for_height(height + after_blocks)
        self.wait_past_due()
        self._management(poc, kick)
        if chain_poc:
            self.chain_poc_after(self.tn.rpc.height())
        return proposal_id, height, switch_height, switch_ms

    def _settle(self, started_ms: int) -> None:
        """Wait until every node serves inference again (on a real chain: past its PoC phase, windows recorded)."""
        # the answer must come from the new version once the nodes settled (pr228 brings it up only at its tick)
        self.tn.wait_nodes_inference(timeout_s=30)
        if self.epochs is not None:  # a real node answers no chat inside the chain's PoC phase
            self.wait_quiet()
            self.windows += self.chain_poc_windows(started_ms, int(time.time() * 1000))

    def _report(self, from_version: str, to_version: str, scheduled: tuple[int, int, int, int], started_ms: int,
                chats: list[ChatTraffic], chats_after: dict) -> HopReport:  # fmt: skip
        """The hop's report over an audit of everything journaled so far. `scheduled`: (proposal id, H, switch height,
        switch block time ms)."""
        proposal_id, height, switch_height, switch_ms = scheduled
        report = self.audit_now(user_chats=user_chats_of(chats) if chats else None)
        hop = HopReport(
            from_version=from_version,
            to_version=to_version,
            upgrade_height=height,
            proposal_id=proposal_id,
            switch_height=switch_height,
            switch_ms=switch_ms,
            started_ms=started_ms,
            finished_ms=int(time.time() * 1000),
            audit=report,
            chat_after=chats_after[self.tn.participants[0].id],
            chat_failures=[f for chat in chats for f in chat.failures()],
            traffic_spans={chat.participant: chat.span() for chat in chats},
            old_stops={} if to_version == from_version else old_stops(report, hop_index=len(self.switches) - 1),
            windows=list(self.windows),
            chats_after=chats_after,
        )
        if hop.same_version:
            owners = {n: self._tag(p.id) for p in self.tn.participants for n in p.node_ids}
            hop.same_version_stops = same_version_stops(report.records, to_version, since_ms=switch_ms,
                                                        windows=hop.windows, owners=owners)  # fmt: skip
        return hop


def user_chats_of(traffic: list[ChatTraffic]) -> list:
    """What the users of each participant saw (harness.audit.lifecycle.UserChat per chat sent)."""

    return [UserChat(c.participant, c.started_ms, c.ended_ms, c.result.ok) for t in traffic for c in t.sent]


def chain_version(testnet, *, default: str | None = None) -> str:
    """The MLNode version the chain says is current; on a chain that keeps none (upstream main has no MLNodeVersion
    query) the version the testnet started its API node with, or `default`."""
    if testnet.chain.tracks_mlnode_version():
        return testnet.chain.mlnode_version()
    return default if default is not None else testnet.info.start_version
