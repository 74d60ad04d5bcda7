"""gov v1's message server on simnet (x/gov/keeper msg_server.go and the keeper calls behind it), check by
check in the SDK's order; `gov.py` holds the proposals, deposits and tally.

- SubmitProposal: title and summary set (sdk 18), proposer (sdk 7), messages or metadata (gov 11), metadata
  JSON whose title/summary differ from the proposal's (gov 5), the initial deposit (sdk 10, gov 16 below
  `min_initial_deposit_ratio`, gov 23), lengths (gov 15 metadata and title, gov 22 summary), each proposal
  message's ValidateBasic (gov 12) and signer, which must be the gov account (gov 13); then the initial deposit
  goes through AddDeposit like any deposit, so it must meet `min_deposit_ratio` (gov 16) even when empty.
- Deposit: depositor (sdk 7), coins (sdk 10), then AddDeposit: a proposal that does not exist is the store's own
  error (undefined 1, "collections: not found"), one past its deposit and voting periods gov 3, denoms gov 23,
  `min_deposit_ratio` gov 16, and the transfer (sdk 5).
- Vote / VoteWeighted: voter (sdk 7), options (no options sdk 18; an invalid option or weight gov 7 with the
  option's protobuf text; duplicates and a total other than 1 gov 7), then AddVote: a proposal not in its voting
  period, existing or not, gov 3; metadata gov 15.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from google.protobuf.message import Message

from harness.model.simnet.bank import check_coins, parse_coins
from harness.model.simnet.errors import AbciError, unregistered
from harness.model.simnet.gotext import GoError, codec_address, parse_legacy_dec
from harness.model.simnet.gov import MAX_METADATA_LEN, MAX_SUMMARY_LEN, OPTIONS, ST_VOTING, Proposal
from harness.model.simnet.msg_checks import BECH32_PREFIX, TYPE_MSG_VOTE, check_address, decode_msg, signer_of, validate_basic
from harness.model.simnet.numbers import DEC_ONE
from harness.model.simnet.store import Event
from harness.proto import gov_pb2, gov_tx_pb2

if TYPE_CHECKING:
    from google.protobuf.any_pb2 import Any

    from harness.model.simnet.state import ChainState

_METADATA_STRINGS = ("title", "summary", "details", "proposal_forum_url", "vote_option_context")


def submit_proposal(
    st: ChainState, msg: gov_tx_pb2.MsgSubmitProposal, height: int, time_ns: int
) -> tuple[Message, list[Event]]:
    """msgServer.SubmitProposal, keeper.SubmitProposal, then AddDeposit of the initial deposit."""
    gov = st.gov
    if not msg.title:
        raise AbciError("sdk", 18, "proposal title cannot be empty")
    if not msg.summary:
        raise AbciError("sdk", 18, "proposal summary cannot be empty")
    check_address(msg.proposer, "proposer")
    if not msg.messages and not msg.metadata:
        raise AbciError("gov", 11, "either metadata or Msgs length must be non-nil")
    _check_metadata_json(msg)
    coins = parse_coins(msg.initial_deposit)
    deposit = check_coins(coins, allow_empty=True)  # validateInitialDeposit
    gov.check_initial_deposit(coins, msg.expedited)
    gov.check_deposit_denoms(coins)
    for text, limit, code, what in (
        (msg.metadata, MAX_METADATA_LEN, 15, "metadata"),
        (msg.summary, MAX_SUMMARY_LEN, 22, "summary"),
        (msg.title, MAX_METADATA_LEN, 15, "metadata"),
    ):
        if len(text.encode("utf-8")) > limit:
            raise AbciError("gov", code, f"got {what} with length {len(text.encode('utf-8'))}")
    _check_proposal_messages(st, msg.messages)
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
    attrs = [("proposal_id", str(p.id)), ("proposal_proposer", msg.proposer), ("proposal_messages", urls)]
    events = [Event("submit_proposal", attrs)]
    deposit_events, started = gov.add_deposit(p, msg.proposer, deposit, coins, height, time_ns)
    events += deposit_events
    if started:
        events.append(Event("submit_proposal", [("voting_period_start", str(p.id))]))
    return gov_tx_pb2.MsgSubmitProposalResponse(proposal_id=p.id), events


def _metadata_fields(metadata: str) -> dict[str, object] | None:
    """ProposalMetadata as Go's json.Unmarshal fills it (keys matched without regard to case, the last one
    winning), or None where Unmarshal returns an error (bad JSON, not an object, a field of the wrong type)."""

    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        value = json.loads(metadata, parse_constant=refuse, object_pairs_hook=list)
    except (ValueError, RecursionError):
        return None
    if value is None:
        return {}
    if not isinstance(value, list):
        return None
    fields: dict[str, object] = {}
    for key, item in value:
        name = next((f for f in (*_METADATA_STRINGS, "authors") if f.casefold() == key.casefold()), None)
        if name is None or item is None:
            continue
        if name == "authors":
            ok = isinstance(item, list) and all(isinstance(a, str) or a is None for a in item)
        else:
            ok = isinstance(item, str)
        if not ok:
            return None
        fields[name] = item
    return fields


def _check_metadata_json(msg: gov_tx_pb2.MsgSubmitProposal) -> None:
    """When the metadata is ProposalMetadata JSON, its title and summary must be the proposal's (gov 5)."""
    if not msg.metadata:
        return
    fields = _metadata_fields(msg.metadata)
    if fields is None:  # not the recommended format: the SDK ignores it
        return
    title, summary = str(fields.get("title", "")), str(fields.get("summary", ""))
    if title != msg.title:
        raise AbciError("gov", 5, f"metadata title '{title}' must equal proposal title '{msg.title}'")
    if summary != msg.summary:
        raise AbciError("gov", 5, f"metadata summary '{summary}' must equal proposal summary '{msg.summary}'")


def _check_proposal_messages(st: ChainState, messages: list[Any]) -> None:
    """keeper.SubmitProposal's loop: ValidateBasic (gov 12), then one signer, the gov account (gov 13)."""
    gov_bytes = codec_address(st.gov_address, BECH32_PREFIX)
    for any_msg in messages:
        inner = decode_msg(any_msg)
        try:
            validate_basic(any_msg.type_url, inner, strict_versions=st.genesis.strict_node_versions)
        except AbciError as e:
            raise AbciError("gov", 12, e.log) from None
        signer = signer_of(any_msg.type_url, inner)
        try:
            signer_bytes = codec_address(signer, BECH32_PREFIX)
        except GoError as e:
            raise unregistered(e) from None
        if signer_bytes != gov_bytes:
            raise AbciError("gov", 13, signer.lower())


def deposit(st: ChainState, msg: gov_tx_pb2.MsgDeposit, height: int, time_ns: int) -> tuple[Message, list[Event]]:
    """msgServer.Deposit, then keeper.AddDeposit."""
    check_address(msg.depositor, "depositor")
    coins = parse_coins(msg.amount)
    amount = check_coins(coins)  # validateDeposit
    p = st.store.proposals.get(msg.proposal_id)
    if p is None:  # Proposals.Get's collections.ErrNotFound, returned as it is
        raise AbciError.with_log(
            "undefined",
            1,
            f"collections: not found: key '{msg.proposal_id}' of type github.com/cosmos/gogoproto/cosmos.gov.v1.Proposal",
        )
    events, started = st.gov.add_deposit(p, msg.depositor, amount, coins, height, time_ns)
    if started:
        events.append(Event("proposal_deposit", [("voting_period_start", str(p.id))]))
    return gov_tx_pb2.MsgDepositResponse(), events


def vote(st: ChainState, url: str, msg: Message) -> tuple[Message, list[Event]]:
    """msgServer.Vote / VoteWeighted, then keeper.AddVote."""
    check_address(msg.voter, "voter")  # type: ignore[attr-defined]
    if url == TYPE_MSG_VOTE:
        if msg.option not in OPTIONS:  # type: ignore[attr-defined]
            raise AbciError("gov", 7, _option_name(msg.option))  # type: ignore[attr-defined]
        options = [(msg.option, DEC_ONE)]  # type: ignore[attr-defined]
    else:
        options = _weighted_options(msg.options)  # type: ignore[attr-defined]
    p = st.store.proposals.get(msg.proposal_id)  # type: ignore[attr-defined]
    if p is None or p.status != ST_VOTING:
        raise AbciError("gov", 3, str(msg.proposal_id))  # type: ignore[attr-defined]
    metadata = msg.metadata.encode("utf-8")  # type: ignore[attr-defined]
    if len(metadata) > MAX_METADATA_LEN:
        raise AbciError("gov", 15, f"got metadata with length {len(metadata)}")
    event = st.gov.vote(p, msg.voter, options)  # type: ignore[attr-defined]
    resp = gov_tx_pb2.MsgVoteResponse() if url == TYPE_MSG_VOTE else gov_tx_pb2.MsgVoteWeightedResponse()
    return resp, [event]


def _option_name(option: int) -> str:
    """VoteOption.String(): its protobuf name, or the number when it has none."""
    try:
        return gov_pb2.VoteOption.Name(option)
    except ValueError:
        return str(option)


_TEXT_ESCAPES = {10: "\\n", 13: "\\r", 9: "\\t", 34: '\\"', 92: "\\\\"}


def _option_text(option: int, weight: str) -> str:
    """WeightedVoteOption.String(): gogoproto's compact text, `option:1 weight:"0.5" ` (the enum prints through
    VoteOption's Format as its byte value; zero fields are left out)."""
    out = f"option:{option & 0xFF} " if option else ""
    if weight:
        escaped = "".join(
            _TEXT_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\{b:03o}") for b in weight.encode("utf-8")
        )
        out += f'weight:"{escaped}" '
    return out


def _weighted_options(options: list[object]) -> list[tuple[int, int]]:
    """VoteWeighted's option checks: each option valid with a weight in (0, 1], no duplicates, a total of 1."""
    if not options:
        raise AbciError("sdk", 18, "null")  # WeightedVoteOptions(nil).String() is JSON null
    out: list[tuple[int, int]] = []
    total = 0
    for o in options:
        option, text = o.option, o.weight  # type: ignore[attr-defined]
        weight = parse_legacy_dec(text)
        if weight is None or not 0 < weight <= DEC_ONE or option not in OPTIONS:
            raise AbciError("gov", 7, _option_text(option, text))
        total += weight
        if any(option == seen for seen, _ in out):
            raise AbciError("gov", 7, "duplicated vote option")
        out.append((option, weight))
    if total > DEC_ONE:
        raise AbciError("gov", 7, "total weight overflow 1.00")
    if total < DEC_ONE:
        raise AbciError("gov", 7, "total weight lower than 1.00")
    return out

