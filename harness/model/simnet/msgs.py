"""Messages simnet routes, with the checks of their SDK v0.53 message servers: bank MsgSend here, gov v1
MsgSubmitProposal, MsgDeposit, MsgVote and MsgVoteWeighted in `msgs_gov.py`, and the inference module's
MsgCreatePartialUpgrade (ValidateBasic before the ante handler, the authority check when executed). The checks every
message gets before it runs (decoding, ValidateBasic, signers) are in `msg_checks.py`.
"""

from __future__ import annotations

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx_pb2
from google.protobuf.message import Message

from harness.chain.keys import module_address
from harness.model.simnet import msgs_gov
from harness.model.simnet.bank import check_coins, parse_coins
from harness.model.simnet.errors import AbciError
from harness.model.simnet.msg_checks import (
    BLOCKED_MODULES,
    TYPE_MSG_SEND,
    TYPE_MSG_VOTE_WEIGHTED,
    check_address,
    validate_basic,
)
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Event
from harness.proto import (
    TYPE_MSG_CREATE_PARTIAL_UPGRADE,
    TYPE_MSG_DEPOSIT,
    TYPE_MSG_SUBMIT_PROPOSAL,
    TYPE_MSG_VOTE,
    MsgCreatePartialUpgrade,
    MsgCreatePartialUpgradeResponse,
)


class MsgRouter:
    def __init__(self, state: ChainState) -> None:
        self.state = state
        self.blocked = {module_address(name) for name in BLOCKED_MODULES}

    def execute(self, url: str, msg: Message, signer: str, height: int, time_ns: int) -> tuple[Message, list[Event]]:
        """Run one message; AbciError with the module's code on refusal (the caller reverts the tx's messages).
        The msg service router runs the message's ValidateBasic first, as baseapp's does (gov executes through it)."""
        validate_basic(url, msg, strict_versions=self.state.genesis.strict_node_versions)
        if url == TYPE_MSG_CREATE_PARTIAL_UPGRADE:
            return self._partial_upgrade(msg)  # type: ignore[arg-type]
        if url == TYPE_MSG_SEND:
            return self._send(msg)  # type: ignore[arg-type]
        if url == TYPE_MSG_SUBMIT_PROPOSAL:
            return msgs_gov.submit_proposal(self.state, msg, height, time_ns)  # type: ignore[arg-type]
        if url == TYPE_MSG_DEPOSIT:
            return msgs_gov.deposit(self.state, msg, height, time_ns)  # type: ignore[arg-type]
        if url in (TYPE_MSG_VOTE, TYPE_MSG_VOTE_WEIGHTED):
            return msgs_gov.vote(self.state, url, msg)
        raise AbciError("sdk", 6, f"no message handler found for {url}")

    def _partial_upgrade(self, msg: MsgCreatePartialUpgrade) -> tuple[Message, list[Event]]:
        """The inference msg server's CreatePartialUpgrade: only the gov account may (inference 1100)."""
        st = self.state
        if msg.authority != st.gov_address:
            raise AbciError("inference", 1100, f"invalid authority; expected {st.gov_address}, got {msg.authority}")
        st.set_partial_upgrade(msg.height, msg.nodeVersion, msg.apiBinariesJson)
        return MsgCreatePartialUpgradeResponse(), []

    def _send(self, msg: bank_tx_pb2.MsgSend) -> tuple[Message, list[Event]]:
        """x/bank msgServer.Send: addresses (sdk 7), IsValid and IsAllPositive coins (sdk 10), blocked recipients
        (sdk 4), then SendCoins (sdk 5 when the sender cannot pay)."""
        check_address(msg.from_address, "from")
        check_address(msg.to_address, "to")
        coins = check_coins(parse_coins(msg.amount))
        if msg.to_address.lower() in self.blocked:
            raise AbciError("sdk", 4, f"{msg.to_address} is not allowed to receive funds")
        return bank_tx_pb2.MsgSendResponse(), self.state.bank.send(msg.from_address, msg.to_address, coins)
