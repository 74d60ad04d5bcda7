"""gov v1 on simnet, as cosmos-sdk v0.53's x/gov does it: proposals with messages run as the gov module account,
deposits (min deposit, deposit period, refund or burn), weighted votes, and the EndBlock tally over bonded
voting power: quorum, all-abstain, veto threshold, then threshold (expedited: its own threshold and period, and
converted to a regular proposal when it fails), in LegacyDec arithmetic.

Staking is modelled minimally: each validator's tokens (power x 10^6) are all self-delegated to it, so a
validator's vote weighs its tokens and an account without a validator weighs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from google.protobuf.any_pb2 import Any

from harness.model.simnet.bank import Coins, coins_str
from harness.model.simnet.errors import AbciError, GoPanic
from harness.model.simnet.numbers import DEC_ONE, dec_mul, dec_quo, dec_str
from harness.model.simnet.store import Event
from harness.proto import gov_pb2

if TYPE_CHECKING:
    from harness.model.simnet.state import ChainState

ST_DEPOSIT, ST_VOTING, ST_PASSED, ST_REJECTED, ST_FAILED = 1, 2, 3, 4, 5
VOTE_YES, VOTE_ABSTAIN, VOTE_NO, VOTE_VETO = 1, 2, 3, 4
OPTIONS = (VOTE_YES, VOTE_ABSTAIN, VOTE_NO, VOTE_VETO)
MAX_METADATA_LEN, MAX_SUMMARY_LEN = 255, 10200

# Runs one proposal message as the gov module account at (height, time_ns); returns its events.
MsgExecutor = Callable[[Any, str, int, int], list[Event]]


@dataclass
class Proposal:
    id: int
    messages: list[Any]
    proposer: str
    submit_time_ns: int
    deposit_end_time_ns: int
    title: str = ""
    summary: str = ""
    metadata: str = ""
    expedited: bool = False
    status: int = ST_DEPOSIT
    total_deposit: dict[str, int] = field(default_factory=dict)
    deposits: dict[str, dict[str, int]] = field(default_factory=dict)
    voting_start_time_ns: int = 0
    voting_end_time_ns: int = 0
    voting_start_height: int = 0
    voting_end_height: int | None = None
    votes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # voter -> [(option, weight as LegacyDec)]
    tally: dict[int, int] = field(default_factory=dict)  # option -> tokens (truncated)
    failed_reason: str = ""

    def copy(self) -> Proposal:
        return replace(
            self,
            messages=list(self.messages),
            total_deposit=dict(self.total_deposit),
            deposits={d: dict(a) for d, a in self.deposits.items()},
            votes={v: list(o) for v, o in self.votes.items()},
            tally=dict(self.tally),
        )

    @property
    def total_deposit_ngonka(self) -> int:
        return self.total_deposit.get("ngonka", 0)

    def to_proto(self) -> gov_pb2.Proposal:
        p = gov_pb2.Proposal(
            id=self.id,
            messages=self.messages,
            status=self.status,
            metadata=self.metadata,
            title=self.title,
            summary=self.summary,
            proposer=self.proposer,
            expedited=self.expedited,
            failed_reason=self.failed_reason,
        )
        t = self.tally
        p.final_tally_result.yes_count = str(t.get(VOTE_YES, 0))
        p.final_tally_result.abstain_count = str(t.get(VOTE_ABSTAIN, 0))
        p.final_tally_result.no_count = str(t.get(VOTE_NO, 0))
        p.final_tally_result.no_with_veto_count = str(t.get(VOTE_VETO, 0))
        for name, ns in (
            ("submit_time", self.submit_time_ns),
            ("deposit_end_time", self.deposit_end_time_ns),
            ("voting_start_time", self.voting_start_time_ns),
            ("voting_end_time", self.voting_end_time_ns),
        ):
            if ns:
                getattr(p, name).FromNanoseconds(ns)
        for denom, amount in sorted(self.total_deposit.items()):
            p.total_deposit.add(denom=denom, amount=str(amount))
        return p


def options_json(options: list[tuple[int, int]]) -> str:
    """WeightedVoteOptions.String() as the SDK emits it in proposal_vote.option."""
    return json.dumps([{"option": o, "weight": dec_str(w)} for o, w in options], separators=(",", ":"))


class Gov:
    def __init__(self, state: ChainState) -> None:
        self.state = state
        self.params = state.genesis.gov

    # -- periods and deposits ------------------------------------------------------------
    def voting_period_ns(self, expedited: bool = False) -> int:
        g = self.state.genesis
        if g.voting_period_s is not None:
            ns = int(g.voting_period_s * 1e9)
        else:
            ns = int((g.voting_period_blocks or 1) * max(g.block_time_s, 0.001) * 1e9)
        return max(ns // 2, 1) if expedited else ns

    def voting_period_blocks(self, expedited: bool = False) -> int | None:
        blocks = self.state.genesis.voting_period_blocks
        if blocks is None:
            return None
        return max(blocks // 2, 1) if expedited else blocks

    def min_deposit(self, expedited: bool = False) -> dict[str, int]:
        return {"ngonka": self.state.genesis.min_deposit * (5 if expedited else 1)}

    def check_initial_deposit(self, coins: Coins, expedited: bool) -> None:
        """keeper.validateInitialDeposit's ratio: with `min_initial_deposit_ratio` set, the initial deposit must hold
        every min-deposit coin x ratio (rounded half to even), empty deposits included (gov 16)."""
        ratio = self.params.dec("min_initial_deposit_ratio")
        if not ratio:
            return
        need = {d: _round_half_even(v * ratio, DEC_ONE) for d, v in self.min_deposit(expedited).items()}
        have = {d: a for d, a in coins if a is not None}
        if not coins or any(have.get(d, 0) < v for d, v in need.items()):
            raise AbciError("gov", 16, f"was ({coins_str(coins)}), need ({coins_str(need)})")

    def check_deposit_denoms(self, coins: Coins) -> None:
        """keeper.validateDepositDenom: only the min deposit's denoms (gov 23)."""
        allowed = list(self.min_deposit())
        if any(d not in allowed for d, _ in coins):
            raise AbciError(
                "gov", 23, f"deposited {coins_str(coins)}, but gov accepts only the following denom(s): [{' '.join(allowed)}]"
            )

    def add_deposit(
        self, p: Proposal, depositor: str, amount: dict[str, int], coins: Coins, height: int, time_ns: int
    ) -> tuple[list[Event], bool]:
        """keeper.AddDeposit: the proposal must still take deposits (gov 3), the denoms be gov's (gov 23), and with
        `min_deposit_ratio` set, one denom at least min deposit x ratio (gov 16; an empty deposit never is). Then
        the deposit moves to the gov account and the voting period starts when the min deposit is reached."""
        st = self.state
        if p.status not in (ST_DEPOSIT, ST_VOTING):
            raise AbciError("gov", 3, str(p.id))
        self.check_deposit_denoms(coins)
        ratio = self.params.dec("min_deposit_ratio")
        need = self.min_deposit(p.expedited)
        if ratio:
            thresholds = {d: v * ratio // DEC_ONE for d, v in need.items()}
            if not any(d in amount and amount[d] >= t for d, t in thresholds.items()):
                shown = ",".join(coins_str({d: t}) for d, t in thresholds.items())
                raise AbciError("gov", 16, f"received {coins_str(coins)} but need at least one of the following: {shown}")
        events = st.bank.send(depositor, st.gov_address, amount)
        for denom, value in amount.items():
            p.total_deposit[denom] = p.total_deposit.get(denom, 0) + value
            mine = p.deposits.setdefault(depositor, {})
            mine[denom] = mine.get(denom, 0) + value
        events.append(
            Event("proposal_deposit", [("depositor", depositor), ("amount", coins_str(coins)), ("proposal_id", str(p.id))])
        )
        started = p.status == ST_DEPOSIT and all(p.total_deposit.get(d, 0) >= v for d, v in need.items())
        if started:
            self._start_voting(p, height, time_ns)
        return events, started

    def _start_voting(self, p: Proposal, height: int, time_ns: int) -> None:
        p.status = ST_VOTING
        p.voting_start_time_ns, p.voting_start_height = time_ns, height
        p.voting_end_time_ns = time_ns + self.voting_period_ns(p.expedited)
        blocks = self.voting_period_blocks(p.expedited)
        p.voting_end_height = height + blocks if blocks is not None else None

    def _settle_deposits(self, p: Proposal, burn: bool) -> list[Event]:
        st = self.state
        if burn:
            events = st.bank.burn(st.gov_address, dict(p.total_deposit))
        else:
            events = []
            for depositor, amount in p.deposits.items():
                events += st.bank.send(st.gov_address, depositor, amount)
        p.deposits.clear()
        return events

    # -- votes and tally -----------------------------------------------------------------
    def vote(self, p: Proposal, voter: str, options: list[tuple[int, int]]) -> Event:
        p.votes[voter] = options
        return Event("proposal_vote", [("voter", voter), ("option", options_json(options)), ("proposal_id", str(p.id))])

    def tally(self, p: Proposal) -> tuple[bool, bool, dict[int, int]]:
        """(passes, burn deposits, tally in tokens) as x/gov's Tally over bonded tokens."""
        tokens = {v.address: v.tokens * DEC_ONE for v in self.state.genesis.validators}
        results = dict.fromkeys(OPTIONS, 0)
        total = 0
        for voter, options in p.votes.items():
            power = tokens.get(voter, 0)  # only a validator's self-delegation carries voting power here
            if not power:
                continue
            for option, weight in options:
                results[option] += dec_mul(power, weight)
            total += power
        counts = {o: r // DEC_ONE for o, r in results.items()}
        params, bonded = self.params, sum(tokens.values())
        if bonded == 0:
            return False, False, counts
        if dec_quo(total, bonded) < params.dec("quorum"):
            return False, params.burn_vote_quorum, counts
        if total - results[VOTE_ABSTAIN] == 0:
            return False, False, counts
        if dec_quo(results[VOTE_VETO], total) > params.dec("veto_threshold"):
            return False, params.burn_vote_veto, counts
        threshold = params.dec("expedited_threshold" if p.expedited else "threshold")
        return dec_quo(results[VOTE_YES], total - results[VOTE_ABSTAIN]) > threshold, False, counts

    # -- EndBlock ------------------------------------------------------------------------
    def end_block(self, height: int, time_ns: int, execute: MsgExecutor) -> list[Event]:
        events: list[Event] = []
        for pid in sorted(self.state.store.proposals):
            p = self.state.store.proposals[pid]
            if p.status == ST_DEPOSIT and time_ns >= p.deposit_end_time_ns:
                events += self._settle_deposits(p, self.params.burn_proposal_deposit_prevote)
                p.status = ST_REJECTED
                events.append(Event("inactive_proposal", [("proposal_id", str(p.id)), ("proposal_result", "proposal_dropped")]))
            elif p.status == ST_VOTING and self._voting_ended(p, height, time_ns):
                events += self._finish(p, height, time_ns, execute)
        return events

    def _voting_ended(self, p: Proposal, height: int, time_ns: int) -> bool:
        if p.voting_end_height is not None:
            return height >= p.voting_end_height
        return time_ns >= p.voting_end_time_ns

    def _finish(self, p: Proposal, height: int, time_ns: int, execute: MsgExecutor) -> list[Event]:
        passes, burn, counts = self.tally(p)
        pid = p.id
        events: list[Event] = []
        log = ""
        if passes:
            result, log, msg_events = self._execute(p, height, time_ns, execute)
            p = self.state.store.proposals[pid]  # the store is a restored copy when the messages failed
            events += msg_events
        elif p.expedited:
            p.expedited = False
            self._start_voting(p, p.voting_start_height, p.voting_start_time_ns)
            p.status = ST_VOTING
            result, log = "expedited_proposal_rejected", "expedited proposal converted to regular"
        else:
            p.status, p.failed_reason = ST_REJECTED, "proposal did not get enough votes to pass"
            result, log = "proposal_rejected", "rejected"
        if p.status != ST_VOTING:
            events = self._settle_deposits(p, burn) + events
            p.tally = counts
        p.votes.clear()  # x/gov's tally removes the votes it counted
        attrs = [("proposal_id", str(pid)), ("proposal_result", result), ("proposal_log", log)]
        return [*events, Event("active_proposal", attrs)]

    def _execute(self, p: Proposal, height: int, time_ns: int, execute: MsgExecutor) -> tuple[str, str, list[Event]]:
        """Run the messages atomically (all or nothing); the proposal ends PASSED, or FAILED with the failing
        message's error as its failed_reason and x/gov's "passed, but msg N (type) failed on execution" log."""
        st = self.state
        saved = st.checkpoint()
        events: list[Event] = []
        for i, msg in enumerate(p.messages):
            try:
                events += execute(msg, st.gov_address, height, time_ns)
                continue
            except GoPanic as e:  # x/gov's safeExecuteHandler recovers it into the proposal's failure
                error = f"handling x/gov proposal msg [{msg.type_url}] PANICKED: {e.value}"
            except AbciError as e:
                error = e.log
            except Exception as e:  # x/gov's safeExecuteHandler: a panicking handler fails the proposal only
                error = f"handling x/gov proposal msg [{msg.type_url}] PANICKED: {type(e).__name__}: {str(e)[:200]}"
            st.restore(saved)
            failed = st.store.proposals[p.id]
            failed.status, failed.failed_reason = ST_FAILED, error
            return "proposal_failed", f"passed, but msg {i} ({msg.type_url}) failed on execution: {error}", []
        p.status = ST_PASSED
        return "proposal_passed", "passed", events


def _round_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half to even (LegacyDec.RoundInt)."""
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q % 2):
        q += 1
    return q
