"""Transactions on simnet: decode real TxRaw bytes, run the SDK ante checks (signers, pubkey, sequence,
SIGN_MODE_DIRECT secp256k1 signature over SignDoc with chain id and account number), then route messages.

CheckTx runs on a check-state overlay of sequences (like the SDK's checkState), so several txs from one
account can wait in the mempool; DeliverTx repeats the ante on the committed state and executes messages
atomically (a failed message reverts the tx's message effects but keeps the sequence increment and fee events).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import cosmpy.protos  # noqa: F401
from cosmos.base.abci.v1beta1 import abci_pb2
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmpy.crypto.keypairs import PublicKey
from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError, Message

from harness.chain.keys import address_from_pubkey, validate_address
from harness.chain.tx import DecodedTx, decode_tx, sign_doc_bytes
from harness.errors import ConfigError
from harness.model.simnet.state import ST_DEPOSIT, ST_VOTING, AbciError, ChainState, Event, Proposal
from harness.proto import (
    TYPE_MSG_CREATE_PARTIAL_UPGRADE,
    TYPE_MSG_DEPOSIT,
    TYPE_MSG_SUBMIT_PROPOSAL,
    TYPE_MSG_VOTE,
    TYPE_SECP256K1_PUBKEY,
    MsgCreatePartialUpgrade,
    MsgCreatePartialUpgradeResponse,
    gov_tx_pb2,
)

SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
MAX_MEMO_CHARS = 256

# type URL -> (message class, module name for `message.module`, signer field)
ROUTES: dict[str, tuple[type[Message], str, str]] = {
    TYPE_MSG_SUBMIT_PROPOSAL: (gov_tx_pb2.MsgSubmitProposal, "gov", "proposer"),
    TYPE_MSG_DEPOSIT: (gov_tx_pb2.MsgDeposit, "gov", "depositor"),
    TYPE_MSG_VOTE: (gov_tx_pb2.MsgVote, "gov", "voter"),
    TYPE_MSG_CREATE_PARTIAL_UPGRADE: (MsgCreatePartialUpgrade, "inference", "authority"),
}


@dataclass
class TxResult:
    """CheckTx / ExecTxResult fields."""

    code: int = 0
    codespace: str = ""
    log: str = ""
    data: bytes = b""
    gas_wanted: int = 0
    gas_used: int = 0
    events: list[Event] = field(default_factory=list)

    @classmethod
    def error(cls, e: AbciError, gas_wanted: int = 0, events: list[Event] | None = None) -> TxResult:
        return cls(e.code, e.codespace, e.log, gas_wanted=gas_wanted, gas_used=min(gas_wanted, 20_000), events=events or [])


@dataclass
class _Ante:
    decoded: DecodedTx
    msgs: list[tuple[str, Message]]
    signers: list[str]
    gas_wanted: int
    events: list[Event]


def _decode_msg(any_msg: Any) -> Message:
    route = ROUTES.get(any_msg.type_url)
    if route is None:
        raise AbciError("sdk", 2, f"unable to resolve type URL {any_msg.type_url}")
    try:
        return route[0].FromString(any_msg.value)
    except DecodeError as e:
        raise AbciError("sdk", 2, f"{any_msg.type_url}: {e}") from None


def _signer(type_url: str, msg: Message) -> str:
    return getattr(msg, ROUTES[type_url][2])


def validate_basic(type_url: str, msg: Message) -> None:
    if type_url == TYPE_MSG_CREATE_PARTIAL_UPGRADE:
        assert isinstance(msg, MsgCreatePartialUpgrade)
        try:
            validate_address(msg.authority, field="authority")
        except ConfigError as e:
            raise AbciError("sdk", 7, f"invalid authority address: {e}") from None
        if msg.height == 0:
            raise AbciError("sdk", 18, "height must be greater than 0")
        if not msg.nodeVersion and not msg.apiBinariesJson:
            raise AbciError("sdk", 18, "at least one of nodeVersion or apiBinariesJson must be set")
        return
    signer = _signer(type_url, msg)
    try:
        validate_address(signer, field=ROUTES[type_url][2])
    except ConfigError as e:
        raise AbciError("sdk", 7, f"invalid {ROUTES[type_url][2]} address: {e}") from None
    if type_url == TYPE_MSG_VOTE and msg.option not in (1, 2, 3, 4):  # type: ignore[attr-defined]
        raise AbciError("gov", 7, str(msg.option))  # type: ignore[attr-defined]


def _ngonka(coins: object) -> int:
    total = 0
    for c in coins:  # type: ignore[attr-defined]
        if c.denom != "ngonka":
            raise AbciError("sdk", 18, f"deposit denom {c.denom!r} is not accepted; use ngonka")
        total += int(c.amount or "0")
    return total


class TxProcessor:
    def __init__(self, state: ChainState) -> None:
        self.state = state
        self.check_sequences: dict[str, int] = {}

    # -- ante ----------------------------------------------------------------------------
    def _ante(self, raw: bytes, height: int, sequences: dict[str, int] | None) -> _Ante:
        try:
            decoded = decode_tx(raw)
        except ConfigError as e:
            raise AbciError("sdk", 2, str(e).removeprefix("decode_tx: ")) from None
        if not decoded.messages:
            raise AbciError("sdk", 18, "must contain at least one message")
        msgs = [(m.type_url, _decode_msg(m)) for m in decoded.messages]
        for url, msg in msgs:
            validate_basic(url, msg)
        if len(decoded.body.memo) > MAX_MEMO_CHARS:
            raise AbciError("sdk", 12, f"maximum number of characters is {MAX_MEMO_CHARS} but received {len(decoded.body.memo)}")
        signers: list[str] = []
        for url, msg in msgs:
            s = _signer(url, msg)
            if s not in signers:
                signers.append(s)
        if not decoded.signatures:
            raise AbciError("sdk", 15, "")
        infos = decoded.auth_info.signer_infos
        if len(decoded.signatures) != len(signers):
            raise AbciError("sdk", 4, f"wrong number of signatures; expected {len(signers)}, got {len(decoded.signatures)}")
        if len(infos) != len(signers):
            raise AbciError("sdk", 4, f"wrong number of signers; expected {len(signers)}, got {len(infos)}")
        th = decoded.body.timeout_height
        if th and height > th:
            raise AbciError("sdk", 30, f"block height: {height}, timeout height: {th}")
        accounts = self.state.store.accounts
        chain_id = self.state.genesis.chain_id
        events = [Event("tx", [("fee", ""), ("fee_payer", signers[0])])]
        new_seqs: list[tuple[str, int, bytes]] = []
        for i, (addr, info, sig) in enumerate(zip(signers, infos, decoded.signatures, strict=True)):
            acc = accounts.get(addr)
            if acc is None:
                raise AbciError("sdk", 9, f"account {addr} does not exist")
            if info.public_key.type_url != TYPE_SECP256K1_PUBKEY:
                raise AbciError("sdk", 8, f"unsupported public key type {info.public_key.type_url!r}; simnet accepts secp256k1")
            try:
                pub = keys_pb2.PubKey.FromString(info.public_key.value).key
            except DecodeError as e:
                raise AbciError("sdk", 2, f"signer {i} public key: {e}") from None
            if address_from_pubkey(pub) != addr:
                raise AbciError("sdk", 8, f"pubKey does not match signer address {addr} with signer index: {i}")
            expected_seq = acc.sequence if sequences is None else sequences.get(addr, acc.sequence)
            if info.sequence != expected_seq:
                raise AbciError("sdk", 32, f"account sequence mismatch, expected {expected_seq}, got {info.sequence}")
            if info.mode_info.single.mode != signing_pb2.SIGN_MODE_DIRECT:
                raise AbciError("sdk", 4, f"simnet verifies SIGN_MODE_DIRECT only, got sign mode {info.mode_info.single.mode}")
            doc = sign_doc_bytes(decoded.body_bytes, decoded.auth_info_bytes, chain_id, acc.number)
            if not _verify(pub, doc, sig):
                raise AbciError(
                    "sdk",
                    4,
                    f"signature verification failed; please verify account number ({acc.number}) and chain-id ({chain_id})",
                )
            new_seqs.append((addr, expected_seq + 1, pub))
            events.append(Event("tx", [("acc_seq", f"{addr}/{expected_seq}")]))
            events.append(Event("tx", [("signature", base64.b64encode(sig).decode())]))
        for addr, seq, pub in new_seqs:  # IncrementSequenceDecorator (+ SetPubKeyDecorator)
            if sequences is None:
                accounts[addr].sequence = seq
                accounts[addr].pub_key = pub
                self.state.mark_dirty()
            else:
                sequences[addr] = seq
        return _Ante(decoded, msgs, signers, decoded.auth_info.fee.gas_limit, events)

    def check_tx(self, raw: bytes, height: int) -> TxResult:
        try:
            ante = self._ante(raw, height + 1, self.check_sequences)
        except AbciError as e:
            return TxResult.error(e)
        return TxResult(gas_wanted=ante.gas_wanted, gas_used=_gas(ante.gas_wanted, raw))

    def reset_check_state(self) -> None:
        self.check_sequences.clear()

    def deliver_tx(self, raw: bytes, height: int, time_ns: int) -> TxResult:
        try:
            ante = self._ante(raw, height, None)
        except AbciError as e:
            return TxResult.error(e)
        st = self.state
        backup = (
            copy.deepcopy(st.store.proposals),
            copy.deepcopy(st.store.upgrades),
            st.next_proposal_id,
            st.store.mlnode_version,
        )
        balances = {a: acc.balance_ngonka for a, acc in st.store.accounts.items()}
        events = list(ante.events)
        responses = []
        try:
            for i, (url, msg) in enumerate(ante.msgs):
                signer = _signer(url, msg)
                events.append(
                    Event("message", [("action", url), ("sender", signer), ("module", ROUTES[url][1]), ("msg_index", str(i))])
                )
                resp, msg_events = self.execute(url, msg, signer, height, time_ns)
                events.extend(Event(e.type, [*e.attributes, ("msg_index", str(i))]) for e in msg_events)
                responses.append(Any(type_url=url + "Response", value=resp.SerializeToString()))
        except AbciError as e:
            st.store.proposals, st.store.upgrades, st.next_proposal_id, st.store.mlnode_version = backup
            for a, bal in balances.items():
                st.store.accounts[a].balance_ngonka = bal
            st.mark_dirty()
            return TxResult.error(e, ante.gas_wanted, ante.events)
        data = abci_pb2.TxMsgData(msg_responses=responses).SerializeToString()
        return TxResult(0, "", "", data, ante.gas_wanted, _gas(ante.gas_wanted, raw), events)

    # -- message router --------------------------------------------------------------------
    def executor(self) -> Callable[[Any, str, int, int], object]:
        """For EndBlock: run a proposal's Any message as the gov module account."""

        def run(any_msg: Any, signer: str, height: int, time_ns: int) -> object:
            msg = _decode_msg(any_msg)
            return self.execute(any_msg.type_url, msg, signer, height, time_ns)

        return run

    def execute(self, url: str, msg: Message, signer: str, height: int, time_ns: int) -> tuple[Message, list[Event]]:
        st = self.state
        if url == TYPE_MSG_CREATE_PARTIAL_UPGRADE:
            assert isinstance(msg, MsgCreatePartialUpgrade)
            if msg.authority != st.gov_address:
                raise AbciError("inference", 1100, f"invalid authority; expected {st.gov_address}, got {msg.authority}")
            st.set_partial_upgrade(msg.height, msg.nodeVersion, msg.apiBinariesJson)
            return MsgCreatePartialUpgradeResponse(), []
        if url == TYPE_MSG_SUBMIT_PROPOSAL:
            return self._submit_proposal(msg, height, time_ns)  # type: ignore[arg-type]
        if url == TYPE_MSG_DEPOSIT:
            p = self._proposal(msg.proposal_id, (ST_DEPOSIT, ST_VOTING))  # type: ignore[attr-defined]
            events = st.add_deposit(p, msg.depositor, _ngonka(msg.amount), height, time_ns)  # type: ignore[attr-defined]
            return gov_tx_pb2.MsgDepositResponse(), events
        if url == TYPE_MSG_VOTE:
            p = self._proposal(msg.proposal_id, (ST_VOTING,))  # type: ignore[attr-defined]
            p.votes[msg.voter] = msg.option  # type: ignore[attr-defined]
            st.mark_dirty()
            option = f'option:{_OPTION_NAMES[msg.option]} weight:"1.000000000000000000"'  # type: ignore[attr-defined]
            attrs = [("option", option), ("proposal_id", str(p.id)), ("voter", msg.voter)]  # type: ignore[attr-defined]
            return gov_tx_pb2.MsgVoteResponse(), [Event("proposal_vote", attrs)]
        raise AbciError("sdk", 6, f"no message handler found for {url}")

    def _proposal(self, pid: int, statuses: tuple[int, ...]) -> Proposal:
        p = self.state.store.proposals.get(pid)
        if p is None:
            raise AbciError("gov", 2, str(pid))
        if p.status not in statuses:
            raise AbciError("gov", 3, str(pid))
        return p

    def _submit_proposal(self, msg: gov_tx_pb2.MsgSubmitProposal, height: int, time_ns: int) -> tuple[Message, list[Event]]:
        st = self.state
        if not msg.messages:
            raise AbciError("gov", 11, "")
        for any_msg in msg.messages:
            if any_msg.type_url not in ROUTES:
                raise AbciError("gov", 10, any_msg.type_url)
            inner = _decode_msg(any_msg)
            try:
                validate_basic(any_msg.type_url, inner)
            except AbciError as e:
                raise AbciError("gov", 12, e.log) from None
            signer = _signer(any_msg.type_url, inner)
            if signer != st.gov_address:
                raise AbciError("gov", 13, signer)
        deposit = _ngonka(msg.initial_deposit)
        p = Proposal(
            id=st.next_proposal_id,
            messages=list(msg.messages),
            proposer=msg.proposer,
            submit_time_ns=time_ns,
            deposit_end_time_ns=time_ns + 48 * 3600 * 10**9,
            title=msg.title,
            summary=msg.summary,
            metadata=msg.metadata,
            expedited=msg.expedited,
        )
        st.next_proposal_id += 1
        st.store.proposals[p.id] = p
        st.mark_dirty()
        urls = ",".join(m.type_url for m in msg.messages)
        events = [Event("submit_proposal", [("proposal_id", str(p.id)), ("proposal_messages", f",{urls},")])]
        if deposit:
            for e in st.add_deposit(p, msg.proposer, deposit, height, time_ns):
                events.append(Event("submit_proposal", e.attributes) if e.attributes[0][0] == "voting_period_start" else e)
        return gov_tx_pb2.MsgSubmitProposalResponse(proposal_id=p.id), events


_OPTION_NAMES = {1: "VOTE_OPTION_YES", 2: "VOTE_OPTION_ABSTAIN", 3: "VOTE_OPTION_NO", 4: "VOTE_OPTION_NO_WITH_VETO"}


def _gas(gas_wanted: int, raw: bytes) -> int:
    return min(gas_wanted, 60_000 + 10 * len(raw)) if gas_wanted else 60_000 + 10 * len(raw)


def _verify(pub: bytes, message: bytes, sig: bytes) -> bool:
    """secp256k1 over sha256(message), 64-byte r||s with low S (the SDK rejects high-S signatures)."""
    if len(sig) != 64 or int.from_bytes(sig[32:], "big") > SECP256K1_HALF_N:
        return False
    try:
        return bool(PublicKey(pub).verify(message, sig))
    except Exception:
        return False
