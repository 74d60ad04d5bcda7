"""Messages simnet routes, with the checks of their SDK v0.53 message servers (bank MsgSend; gov v1 MsgSubmitProposal,
MsgDeposit, MsgVote, MsgVoteWeighted) and the inference module's MsgCreatePartialUpgrade (ValidateBasic at CheckTx,
authority check when executed). A message type simnet does not know makes the tx undecodable (sdk 2), as an
unregistered type URL does in the SDK's decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx_pb2
from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError, Message

from harness.chain.keys import validate_address
from harness.errors import ConfigError
from harness.model.simnet.bank import check_coins, coins_str, parse_coins
from harness.model.simnet.errors import AbciError
from harness.model.simnet.gov import MAX_METADATA_LEN, MAX_SUMMARY_LEN, OPTIONS, ST_DEPOSIT, ST_VOTING, Proposal
from harness.model.simnet.numbers import DEC_ONE, dec_mul, parse_dec
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Event
from harness.proto import (
    TYPE_MSG_CREATE_PARTIAL_UPGRADE,
    TYPE_MSG_DEPOSIT,
    TYPE_MSG_SUBMIT_PROPOSAL,
    TYPE_MSG_VOTE,
    MsgCreatePartialUpgrade,
    MsgCreatePartialUpgradeResponse,
    gov_tx_pb2,
)
from harness.versions import VERSION_RE

TYPE_MSG_SEND = "/cosmos.bank.v1beta1.MsgSend"
TYPE_MSG_VOTE_WEIGHTED = "/cosmos.gov.v1.MsgVoteWeighted"


@dataclass(frozen=True)
class Route:
    cls: type[Message]
    module: str
    signer_field: str
    gas: int  # execution gas (store reads and writes of the handler)


ROUTES: dict[str, Route] = {
    TYPE_MSG_SEND: Route(bank_tx_pb2.MsgSend, "bank", "from_address", 30_000),
    TYPE_MSG_SUBMIT_PROPOSAL: Route(gov_tx_pb2.MsgSubmitProposal, "gov", "proposer", 40_000),
    TYPE_MSG_DEPOSIT: Route(gov_tx_pb2.MsgDeposit, "gov", "depositor", 30_000),
    TYPE_MSG_VOTE: Route(gov_tx_pb2.MsgVote, "gov", "voter", 20_000),
    TYPE_MSG_VOTE_WEIGHTED: Route(gov_tx_pb2.MsgVoteWeighted, "gov", "voter", 22_000),
    TYPE_MSG_CREATE_PARTIAL_UPGRADE: Route(MsgCreatePartialUpgrade, "inference", "authority", 12_000),
}
_COIN_FIELDS = {TYPE_MSG_SEND: "amount", TYPE_MSG_SUBMIT_PROPOSAL: "initial_deposit", TYPE_MSG_DEPOSIT: "amount"}


def decode_msg(any_msg: Any, *, depth: int = 0) -> Message:
    """The message behind an Any, as the SDK's decoder resolves it (nested proposal messages too); sdk 2 otherwise."""
    route = ROUTES.get(any_msg.type_url)
    if route is None:
        raise AbciError("sdk", 2, f"unable to resolve type URL {any_msg.type_url[:200]}")
    try:
        msg = route.cls.FromString(any_msg.value)
    except DecodeError as e:
        raise AbciError("sdk", 2, f"{any_msg.type_url}: {e}") from None
    if any_msg.type_url in _COIN_FIELDS:
        parse_coins(getattr(msg, _COIN_FIELDS[any_msg.type_url]), any_msg.type_url)
    if any_msg.type_url == TYPE_MSG_SUBMIT_PROPOSAL:
        if depth > 4:
            raise AbciError("sdk", 2, "proposal messages nested too deep")
        for inner in msg.messages:  # type: ignore[attr-defined]
            decode_msg(inner, depth=depth + 1)
    return msg


def signer_of(url: str, msg: Message) -> str:
    return getattr(msg, ROUTES[url].signer_field)


def decode_signer(url: str, msg: Message) -> str:
    """The message's signer; an address that does not decode makes the tx undecodable (sdk 2), as in the SDK."""
    signer = signer_of(url, msg)
    try:
        validate_address(signer, field=ROUTES[url].signer_field)
    except ConfigError as e:
        raise AbciError("sdk", 2, f"failed to get signers: {e}") from None
    return signer


def validate_basic(url: str, msg: Message, *, strict_versions: bool) -> None:
    """ValidateBasic of the messages that have one (the inference module's); AbciError sdk 7/18 otherwise."""
    if url != TYPE_MSG_CREATE_PARTIAL_UPGRADE:
        return
    assert isinstance(msg, MsgCreatePartialUpgrade)
    try:
        validate_address(msg.authority, field="authority")
    except ConfigError as e:
        raise AbciError("sdk", 7, f"invalid creator address ({e})") from None
    if msg.height == 0:
        raise AbciError("sdk", 18, "height must be > 0")
    if not msg.nodeVersion.strip() and not msg.apiBinariesJson.strip():
        raise AbciError("sdk", 18, "either apiBinariesJson or nodeVersion must be set")
    if strict_versions and msg.nodeVersion and not VERSION_RE.match(msg.nodeVersion):
        shown = msg.nodeVersion[:80]
        raise AbciError("sdk", 18, f"nodeVersion {shown!r} is not vMAJOR.MINOR.PATCH (such as v0.3.9)")


def check_address(addr: str, what: str) -> str:
    """A bech32 `gonka1...` address; AbciError sdk 7 'invalid <what> address: ...' otherwise."""
    try:
        validate_address(addr)
    except ConfigError as e:
        raise AbciError("sdk", 7, f"invalid {what} address: {e}") from None
    return addr


class MsgRouter:
    def __init__(self, state: ChainState) -> None:
        self.state = state

    def execute(self, url: str, msg: Message, signer: str, height: int, time_ns: int) -> tuple[Message, list[Event]]:
        """Run one message; AbciError with the module's code on refusal (the caller reverts the tx's messages)."""
        if url == TYPE_MSG_CREATE_PARTIAL_UPGRADE:
            return self._partial_upgrade(msg)  # type: ignore[arg-type]
        if url == TYPE_MSG_SEND:
            return self._send(msg)  # type: ignore[arg-type]
        if url == TYPE_MSG_SUBMIT_PROPOSAL:
            return self._submit_proposal(msg, height, time_ns)  # type: ignore[arg-type]
        if url == TYPE_MSG_DEPOSIT:
            return self._deposit(msg, height, time_ns)  # type: ignore[arg-type]
        if url in (TYPE_MSG_VOTE, TYPE_MSG_VOTE_WEIGHTED):
            return self._vote(url, msg)
        raise AbciError("sdk", 6, f"no message handler found for {url}")

    def _partial_upgrade(self, msg: MsgCreatePartialUpgrade) -> tuple[Message, list[Event]]:
        st = self.state
        if msg.authority != st.gov_address:
            raise AbciError("inference", 1100, f"invalid authority; expected {st.gov_address}, got {msg.authority}")
        st.set_partial_upgrade(msg.height, msg.nodeVersion, msg.apiBinariesJson)
        return MsgCreatePartialUpgradeResponse(), []

    def _send(self, msg: bank_tx_pb2.MsgSend) -> tuple[Message, list[Event]]:
        check_address(msg.from_address, "from")
        check_address(msg.to_address, "to")
        coins = check_coins(parse_coins(msg.amount, "amount"))
        if not coins:
            raise AbciError("sdk", 10, "")
        target = self.state.store.accounts.get(msg.to_address)
        if target is not None and target.module_name and target.module_name != "gov":
            raise AbciError("sdk", 4, f"{msg.to_address} is not allowed to receive funds")
        return bank_tx_pb2.MsgSendResponse(), self.state.bank.send(msg.from_address, msg.to_address, coins)

    def _submit_proposal(self, msg: gov_tx_pb2.MsgSubmitProposal, height: int, time_ns: int) -> tuple[Message, list[Event]]:
        st, gov = self.state, self.state.gov
        if not msg.title:
            raise AbciError("sdk", 18, "proposal title cannot be empty")
        if not msg.summary:
            raise AbciError("sdk", 18, "proposal summary cannot be empty")
        check_address(msg.proposer, "proposer")
        if not msg.messages and not msg.metadata:
            raise AbciError("gov", 11, "either metadata or Msgs length must be non-nil")
        deposit = check_coins([c for c in parse_coins(msg.initial_deposit, "initial_deposit")])
        gov.check_deposit_denoms(deposit)
        for text, limit, code in (
            (msg.metadata, MAX_METADATA_LEN, 15),
            (msg.summary, MAX_SUMMARY_LEN, 22),
            (msg.title, MAX_METADATA_LEN, 15),
        ):
            if len(text) > limit:
                raise AbciError("gov", code, f"got metadata with length {len(text)}")
        self._check_proposal_messages(msg.messages)
        p = Proposal(
            id=st.store.next_proposal_id,
            messages=list(msg.messages),
            proposer=msg.proposer,
            submit_time_ns=time_ns,
            deposit_end_time_ns=time_ns + int(gov.params.max_deposit_period_s * 1e9),
            title=msg.title,
            summary=msg.summary,
            metadata=msg.metadata,
            expedited=msg.expedited,
        )
        st.store.next_proposal_id += 1
        st.store.proposals[p.id] = p
        urls = "".join(f",{m.type_url}" for m in msg.messages)
        events = [
            Event(
                "submit_proposal", [("proposal_id", str(p.id)), ("proposal_proposer", msg.proposer), ("proposal_messages", urls)]
            )
        ]
        deposit_events, started = gov.add_deposit(p, msg.proposer, deposit, height, time_ns) if deposit else ([], False)
        events += deposit_events
        if started:
            events.append(Event("submit_proposal", [("voting_period_start", str(p.id))]))
        return gov_tx_pb2.MsgSubmitProposalResponse(proposal_id=p.id), events

    def _check_proposal_messages(self, messages: list[Any]) -> None:
        gov_address = self.state.gov_address
        for any_msg in messages:
            inner = decode_msg(any_msg)
            try:
                validate_basic(any_msg.type_url, inner, strict_versions=self.state.genesis.strict_node_versions)
            except AbciError as e:
                raise AbciError("gov", 12, e.log) from None
            signer = signer_of(any_msg.type_url, inner)
            if signer != gov_address:
                raise AbciError("gov", 13, signer)

    def _proposal(self, pid: int, statuses: tuple[int, ...]) -> Proposal:
        p = self.state.store.proposals.get(pid)
        if p is None:
            raise AbciError("gov", 2, str(pid))
        if p.status not in statuses:
            raise AbciError("gov", 3, str(pid))
        return p

    def _deposit(self, msg: gov_tx_pb2.MsgDeposit, height: int, time_ns: int) -> tuple[Message, list[Event]]:
        gov = self.state.gov
        check_address(msg.depositor, "depositor")
        amount = check_coins(parse_coins(msg.amount, "amount"))
        if not amount:
            raise AbciError("sdk", 10, "")
        p = self._proposal(msg.proposal_id, (ST_DEPOSIT, ST_VOTING))
        gov.check_deposit_denoms(amount)
        ratio = gov.params.dec("min_deposit_ratio")
        thresholds = {d: dec_mul(v * DEC_ONE, ratio) // DEC_ONE for d, v in gov.min_deposit(p.expedited).items()}
        if ratio and not any(amount.get(d, 0) >= t for d, t in thresholds.items()):
            need = ",".join(f"{t}{d}" for d, t in sorted(thresholds.items()))
            raise AbciError("gov", 16, f"received {coins_str(amount)} but need at least one of the following: {need}")
        events, started = gov.add_deposit(p, msg.depositor, amount, height, time_ns)
        if started:
            events.append(Event("proposal_deposit", [("voting_period_start", str(p.id))]))
        return gov_tx_pb2.MsgDepositResponse(), events

    def _vote(self, url: str, msg: Message) -> tuple[Message, list[Event]]:
        check_address(msg.voter, "voter")  # type: ignore[attr-defined]
        if url == TYPE_MSG_VOTE:
            if msg.option not in OPTIONS:  # type: ignore[attr-defined]
                raise AbciError("gov", 7, _option_name(msg.option))  # type: ignore[attr-defined]
            options = [(msg.option, DEC_ONE)]  # type: ignore[attr-defined]
        else:
            options = _weighted_options(msg.options)  # type: ignore[attr-defined]
        if len(msg.metadata) > MAX_METADATA_LEN:  # type: ignore[attr-defined]
            raise AbciError("gov", 15, f"got metadata with length {len(msg.metadata)}")  # type: ignore[attr-defined]
        p = self._proposal(msg.proposal_id, (ST_VOTING,))  # type: ignore[attr-defined]
        event = self.state.gov.vote(p, msg.voter, options)  # type: ignore[attr-defined]
        resp = gov_tx_pb2.MsgVoteResponse() if url == TYPE_MSG_VOTE else gov_tx_pb2.MsgVoteWeightedResponse()
        return resp, [event]


def _option_name(option: int) -> str:
    from harness.proto import gov_pb2

    try:
        return gov_pb2.VoteOption.Name(option)
    except ValueError:
        return str(option)


def _weighted_options(options: list[object]) -> list[tuple[int, int]]:
    if not options:
        raise AbciError("gov", 7, "empty vote options")
    out: list[tuple[int, int]] = []
    total = 0
    for o in options:
        option, text = o.option, o.weight  # type: ignore[attr-defined]
        if option not in OPTIONS:
            raise AbciError("gov", 7, _option_name(option))
        try:
            weight = parse_dec(text, "weight")
        except ConfigError:
            raise AbciError("gov", 7, f"invalid weight {text[:40]!r}") from None
        if not 0 < weight <= DEC_ONE:
            raise AbciError("gov", 7, f"weight {text} must be in (0, 1]")
        if any(option == seen for seen, _ in out):
            raise AbciError("gov", 7, "duplicated vote option")
        out.append((option, weight))
        total += weight
    if total != DEC_ONE:
        raise AbciError("gov", 7, f"total weight {'overflow' if total > DEC_ONE else 'lower than'} 1.00")
    return out
