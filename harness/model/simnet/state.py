"""simnet's application state: accounts, governance (gov v1) and the inference module's partial upgrades.

All mutation happens on the server's event loop (or directly in unit tests); no locks. `Store` is the part
queries read; `ChainState.snapshot()` keeps a copy per height (copied only when something changed).

Error codes follow the real chain (`AbciError(codespace, code, log)`; log = "<message>: <registered error text>"):
sdk 2 tx parse error, 4 unauthorized, 5 insufficient funds, 6 unknown request, 8 invalid pubkey, 9 unknown address,
18 invalid request, 26 invalid height, 30 tx timeout height, 32 incorrect account sequence, 38 key not found;
gov 2 unknown proposal, 3 inactive proposal, 7 invalid vote option, 11 no messages proposed, 12 invalid proposal message,
13 expected gov account as only signer; inference 1100 (authority check of MsgCreatePartialUpgrade, as upstream).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.any_pb2 import Any

from harness.chain.keys import gov_module_address
from harness.model.simnet.genesis import Genesis
from harness.proto import PartialUpgrade, gov_pb2

SDK_ERRORS = {
    2: "tx parse error",
    4: "unauthorized",
    5: "insufficient funds",
    6: "unknown request",
    7: "invalid address",
    8: "invalid pubkey",
    9: "unknown address",
    12: "memo too large",
    15: "no signatures supplied",
    18: "invalid request",
    26: "invalid height",
    30: "tx timeout height",
    32: "incorrect account sequence",
    38: "key not found",
}
GOV_ERRORS = {
    2: "unknown proposal",
    3: "inactive proposal",
    7: "invalid vote option",
    10: "proposal message not recognized by router",
    11: "no messages proposed",
    12: "invalid proposal message",
    13: "expected gov account as only signer for proposal message",
}
INFERENCE_ERRORS = {1100: "expected gov account as only signer for proposal message"}
_REGISTRY = {"sdk": SDK_ERRORS, "gov": GOV_ERRORS, "inference": INFERENCE_ERRORS}

# Runs one message as `signer` at (height, time_ns); EndBlock uses it for passed proposals.
MsgExecutor = Callable[[Any, str, int, int], object]

ST_DEPOSIT, ST_VOTING, ST_PASSED, ST_REJECTED, ST_FAILED = 1, 2, 3, 4, 5
VOTE_YES, VOTE_ABSTAIN, VOTE_NO, VOTE_VETO = 1, 2, 3, 4
MAX_DEPOSIT_PERIOD_NS = 48 * 3600 * 10**9
SNAPSHOTS_KEPT = 1000


class AbciError(Exception):
    """A non-zero ABCI result: `codespace`, `code` and the SDK-style log."""

    def __init__(self, codespace: str, code: int, message: str = "") -> None:
        reason = _REGISTRY.get(codespace, {}).get(code, "error")
        self.codespace, self.code = codespace, code
        self.log = f"{message}: {reason}" if message else reason
        super().__init__(self.log)


@dataclass
class Account:
    address: str
    number: int
    sequence: int = 0
    balance_ngonka: int = 0
    pub_key: bytes | None = None
    module_name: str = ""


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
    total_deposit_ngonka: int = 0
    deposits: dict[str, int] = field(default_factory=dict)
    voting_start_time_ns: int = 0
    voting_end_time_ns: int = 0
    voting_end_height: int | None = None
    votes: dict[str, int] = field(default_factory=dict)
    tally: dict[int, int] = field(default_factory=dict)
    failed_reason: str = ""

    def to_proto(self, denom: str = "ngonka") -> gov_pb2.Proposal:
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
        if self.total_deposit_ngonka:
            p.total_deposit.add(denom=denom, amount=str(self.total_deposit_ngonka))
        return p


@dataclass
class Store:
    """What queries read: copied per height so a query at height h sees the state committed at h."""

    accounts: dict[str, Account]
    proposals: dict[int, Proposal]
    upgrades: dict[int, PartialUpgrade]
    mlnode_version: str
    height: int = 0


@dataclass
class Event:
    type: str
    attributes: list[tuple[str, str]]


class ChainState:
    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.gov_address = gov_module_address()
        accounts: dict[str, Account] = {}
        for i, (addr, bal) in enumerate(genesis.accounts.items()):
            accounts[addr] = Account(addr, i, balance_ngonka=bal)
        accounts[self.gov_address] = Account(self.gov_address, len(accounts), module_name="gov")
        self.store = Store(accounts, {}, {}, genesis.initial_mlnode_version)
        self.powers = {v.address: v.power for v in genesis.validators}
        self.next_proposal_id = 1
        self._snapshots: OrderedDict[int, Store] = OrderedDict()
        self._dirty = True

    # -- queries -------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.store.height

    def view(self, height: int = 0) -> Store:
        """The store as committed at `height` (0 = latest). AbciError 26/18 as the SDK for future/pruned heights."""
        latest = self.store.height
        if height == 0 or height == latest:
            return self._snapshots[latest] if latest in self._snapshots else self.store
        if height > latest:
            raise AbciError("sdk", 26, "cannot query with height in the future; please provide a valid height")
        snap = self._snapshots.get(height)
        if snap is None:
            raise AbciError(
                "sdk", 18, f"failed to load state at height {height}; version does not exist (latest height: {latest})"
            )
        return snap

    def commit(self, height: int) -> None:
        self.store.height = height
        if self._dirty or not self._snapshots:
            self._snapshots[height] = copy.deepcopy(self.store)
            self._dirty = False
        else:
            last = next(reversed(self._snapshots.values()))
            self._snapshots[height] = last if last.height == height else _rehight(last, height)
        while len(self._snapshots) > SNAPSHOTS_KEPT:
            self._snapshots.popitem(last=False)

    def mark_dirty(self) -> None:
        self._dirty = True

    # -- gov -----------------------------------------------------------------------------
    def voting_period_ns(self) -> int:
        g = self.genesis
        if g.voting_period_s is not None:
            return int(g.voting_period_s * 1e9)
        return int((g.voting_period_blocks or 1) * max(g.block_time_s, 0.001) * 1e9)

    def add_deposit(self, p: Proposal, depositor: str, amount: int, height: int, time_ns: int) -> list[Event]:
        acc = self.store.accounts.get(depositor)
        if acc is None or acc.balance_ngonka < amount:
            have = acc.balance_ngonka if acc else 0
            raise AbciError("sdk", 5, f"spendable balance {have}ngonka is smaller than {amount}ngonka")
        acc.balance_ngonka -= amount
        self.store.accounts[self.gov_address].balance_ngonka += amount
        p.deposits[depositor] = p.deposits.get(depositor, 0) + amount
        p.total_deposit_ngonka += amount
        events = [
            Event("proposal_deposit", [("amount", f"{amount}ngonka"), ("proposal_id", str(p.id)), ("depositor", depositor)])
        ]
        if p.status == ST_DEPOSIT and p.total_deposit_ngonka >= self.genesis.min_deposit:
            p.status = ST_VOTING
            p.voting_start_time_ns = time_ns
            p.voting_end_time_ns = time_ns + self.voting_period_ns()
            if self.genesis.voting_period_blocks is not None:
                p.voting_end_height = height + self.genesis.voting_period_blocks
            events.append(Event("proposal_deposit", [("voting_period_start", str(p.id))]))
        self.mark_dirty()
        return events

    def _voting_ended(self, p: Proposal, height: int, time_ns: int) -> bool:
        if p.voting_end_height is not None:
            return height >= p.voting_end_height
        return time_ns >= p.voting_end_time_ns

    def _refund(self, p: Proposal) -> None:
        gov = self.store.accounts[self.gov_address]
        for depositor, amount in p.deposits.items():
            gov.balance_ngonka -= amount
            self.store.accounts[depositor].balance_ngonka += amount
        p.deposits.clear()

    # -- EndBlock ------------------------------------------------------------------------
    def end_block(self, height: int, time_ns: int, execute: MsgExecutor | None = None) -> list[Event]:
        """Gov tally for proposals whose voting ended, then the partial-upgrade rule. Returns finalize-block events."""
        events: list[Event] = []
        for p in list(self.store.proposals.values()):
            if p.status == ST_DEPOSIT and time_ns >= p.deposit_end_time_ns:
                p.status = ST_REJECTED  # deposit period ended without reaching min_deposit (deposits burned)
                events.append(Event("inactive_proposal", [("proposal_id", str(p.id)), ("proposal_result", "proposal_dropped")]))
                self.mark_dirty()
            if p.status != ST_VOTING or not self._voting_ended(p, height, time_ns):
                continue
            tally = {o: 0 for o in (VOTE_YES, VOTE_ABSTAIN, VOTE_NO, VOTE_VETO)}
            for voter, option in p.votes.items():
                tally[option] += self.powers.get(voter, 0)
            p.tally = tally
            total = self.genesis.total_power
            result = "proposal_rejected"
            if tally[VOTE_YES] * 2 > total:
                p.status, result = ST_PASSED, "proposal_passed"
                for msg in p.messages:
                    try:
                        if execute is None:
                            raise AbciError("sdk", 6, "no message executor")
                        execute(msg, self.gov_address, height, time_ns)
                    except AbciError as e:
                        p.status, p.failed_reason, result = ST_FAILED, e.log, "proposal_failed"
                        break
            else:
                p.status = ST_REJECTED
            self._refund(p)
            events.append(Event("active_proposal", [("proposal_id", str(p.id)), ("proposal_result", result)]))
            self.mark_dirty()
        self.apply_partial_upgrades(height)
        return events

    def apply_partial_upgrades(self, height: int) -> None:
        """Upstream [PR228]: height == h and node_version set -> MLNodeVersion; height < h -> delete the entry."""
        for h, up in list(self.store.upgrades.items()):
            if h == height and up.node_version:
                self.store.mlnode_version = up.node_version
                self.mark_dirty()
            elif h < height:
                del self.store.upgrades[h]
                self.mark_dirty()

    def set_partial_upgrade(self, height: int, node_version: str, api_binaries_json: str) -> PartialUpgrade:
        up = PartialUpgrade(
            height=height,
            node_version=node_version,
            api_binaries_json=api_binaries_json,
            name=f"PartialUpgrade at height {height} for node version {node_version}",
        )
        self.store.upgrades[height] = up  # keyed by height: a new entry overwrites an old one
        self.mark_dirty()
        return up


def _rehight(store: Store, height: int) -> Store:
    s = copy.copy(store)
    s.height = height
    return s
