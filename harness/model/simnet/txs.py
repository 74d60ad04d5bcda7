"""Transactions on simnet: CheckTx, DeliverTx and Simulate over real TxRaw bytes, with the SDK's atomicity.

- Decoding (TxRaw, messages, nested proposal messages, public key types, coin amounts) and the messages' own
  ValidateBasic run first: a failure is the tx's own result (sdk 2, 7, 18), at CheckTx already.
- The ante handler (`ante.py`) runs next; in DeliverTx its effects (fee, sequence, public key) stay even when a
  message then fails, as in the SDK. If the ante handler fails, nothing of the tx stays.
- Messages run in a checkpoint: one failing message reverts every message of its tx, and nothing else. Its error
  is logged as baseapp's runMsgs wraps it ("failed to execute message; message index: N: ..."), with the
  message's own codespace and code. Any unexpected error is the tx's own failure (codespace undefined, 111222,
  as baseapp reports a recovered panic), never the block's.
- CheckTx and Simulate run on a copy of the state that is thrown away; CheckTx keeps sequence and unordered-nonce
  overlays (the SDK's check state) so several txs of one account can wait in the mempool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.base.abci.v1beta1 import abci_pb2
from google.protobuf.any_pb2 import Any

from harness.chain.tx import decode_tx
from harness.errors import ConfigError
from harness.model.simnet.ante import CHECK, DELIVER, SIMULATE, AnteResult, GasMeter, TxContext, run_ante
from harness.model.simnet.bank import parse_coins
from harness.model.simnet.errors import AbciError, GoPanic, OutOfGas, panic_error
from harness.model.simnet.msg_checks import ROUTES, check_pubkey_types, decode_msg, signer_of, validate_basic
from harness.model.simnet.msgs import MsgRouter
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Event
from harness.proto import TYPE_MSG_SUBMIT_PROPOSAL

PROPOSAL_GAS_PER_BYTE = 90  # 3 x the KV write cost per byte, as x/gov charges for storing a proposal


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
    def error(cls, e: AbciError, gas_wanted: int = 0, gas_used: int = 0, events: list[Event] | None = None) -> TxResult:
        return cls(e.code, e.codespace, e.log, gas_wanted=gas_wanted, gas_used=gas_used, events=events or [])


class TxProcessor:
    def __init__(self, state: ChainState) -> None:
        self.state = state
        self.router = MsgRouter(state)
        self.check_sequences: dict[str, int] = {}
        self.check_nonces: set[str] = set()  # unordered-tx nonces CheckTx has seen since the last commit
        self.block_time_ns = 0  # time of the latest committed block: CheckTx and Simulate check timeouts against it

    # -- decoding ------------------------------------------------------------------------
    def _context(self, raw: bytes, mode: str, height: int, time_ns: int) -> TxContext:
        """The tx's decoder (sdk 2: its body and messages, then its AuthInfo), then baseapp's checks before the
        ante handler: at least one message (sdk 18) and each message's own ValidateBasic."""
        try:
            decoded = decode_tx(raw)
        except ConfigError as e:
            raise AbciError("sdk", 2, str(e).removeprefix("decode_tx: ")) from None
        msgs = [(m.type_url, decode_msg(m)) for m in decoded.messages]
        check_pubkey_types(decoded.auth_info.signer_infos)
        fee = parse_coins(decoded.auth_info.fee.amount)
        if not msgs:
            raise AbciError("sdk", 18, "must contain at least one message")
        for url, msg in msgs:
            validate_basic(url, msg, strict_versions=self.state.genesis.strict_node_versions)
        signers = [signer_of(url, msg) for url, msg in msgs]
        limit = None if mode == SIMULATE else decoded.auth_info.fee.gas_limit
        return TxContext(raw, decoded, msgs, signers, fee, mode, height, time_ns, GasMeter(limit))

    # -- CheckTx / Simulate ----------------------------------------------------------------
    def check_tx(self, raw: bytes, height: int) -> TxResult:
        """CheckTx for the next block (height = latest committed height)."""
        return self._dry_run(raw, CHECK, height + 1)[0]

    def simulate(self, raw: bytes, height: int) -> tuple[TxResult, list[Any]]:
        """Ante handler and messages on a throwaway copy; (result with gas used, message responses)."""
        return self._dry_run(raw, SIMULATE, height + 1)

    def _dry_run(self, raw: bytes, mode: str, height: int) -> tuple[TxResult, list[Any]]:
        st = self.state
        live = st.store
        st.store = live.copy()  # the dry run changes a copy; the live store object is untouched
        gas_wanted = gas_used = 0
        try:
            ctx = self._context(raw, mode, height, self.block_time_ns)
            gas_wanted = ctx.decoded.auth_info.fee.gas_limit
            sequences = self.check_sequences if mode == CHECK else dict(self.check_sequences)
            ante = run_ante(st, ctx, sequences, self.check_nonces if mode == CHECK else None)
            gas_used = ctx.gas.used
            if mode == CHECK:
                return TxResult(gas_wanted=gas_wanted, gas_used=gas_used, events=ante.events), []
            responses, events = self._run_msgs(ctx)
            return TxResult(gas_wanted=gas_wanted, gas_used=ctx.gas.used, events=ante.events + events), responses
        except AbciError as e:
            return TxResult.error(e, gas_wanted, gas_used), []
        except Exception as e:  # baseapp recovers a panic into this tx's own error
            return TxResult.error(panic_error(mode, e), gas_wanted, gas_used), []
        finally:
            st.store = live

    def reset_check_state(self, block_time_ns: int) -> None:
        self.check_sequences.clear()
        self.check_nonces.clear()
        self.block_time_ns = block_time_ns

    # -- DeliverTx ---------------------------------------------------------------------------
    def deliver_tx(self, raw: bytes, height: int, time_ns: int) -> TxResult:
        """Execute one tx of block `height`; never raises: every failure is this tx's result."""
        st = self.state
        try:
            ctx = self._context(raw, DELIVER, height, time_ns)
        except AbciError as e:
            return TxResult.error(e)
        except Exception as e:
            return TxResult.error(panic_error("decode", e))
        gas_wanted = ctx.decoded.auth_info.fee.gas_limit
        before_ante = st.checkpoint()
        ante: AnteResult | None = None
        try:
            ante = run_ante(st, ctx)
            after_ante = st.checkpoint()
            responses, events = self._run_msgs(ctx)
        except Exception as e:
            err = e if isinstance(e, AbciError) else panic_error("deliver", e)
            if ante is None:
                st.restore(before_ante)
                return TxResult.error(err, gas_wanted, ctx.gas.used)
            st.restore(after_ante)
            return TxResult.error(err, gas_wanted, ctx.gas.used, ante.events)
        data = abci_pb2.TxMsgData(msg_responses=responses).SerializeToString()
        return TxResult(0, "", "", data, gas_wanted, ctx.gas.used, ante.events + events)

    def _run_msgs(self, ctx: TxContext) -> tuple[list[Any], list[Event]]:
        events: list[Event] = []
        responses: list[Any] = []
        for i, (url, msg) in enumerate(ctx.msgs):
            route = ROUTES[url]
            signer = signer_of(url, msg)
            ctx.gas.consume(route.gas, url)
            if url == TYPE_MSG_SUBMIT_PROPOSAL:
                ctx.gas.consume(PROPOSAL_GAS_PER_BYTE * msg.ByteSize(), "submit proposal")
            events.append(
                Event("message", [("action", url), ("sender", signer), ("module", route.module), ("msg_index", str(i))])
            )
            try:
                resp, msg_events = self.router.execute(url, msg, signer, ctx.height, ctx.time_ns)
            except (OutOfGas, GoPanic):
                raise  # recovered by baseapp as they are
            except AbciError as e:  # baseapp's runMsgs wraps a message's error with its index
                raise AbciError.with_log(e.codespace, e.code, f"failed to execute message; message index: {i}: {e.log}") from None
            events.extend(Event(e.type, [*e.attributes, ("msg_index", str(i))]) for e in msg_events)
            responses.append(Any(type_url=url + "Response", value=resp.SerializeToString()))
        return responses, events

    # -- EndBlock ------------------------------------------------------------------------------
    def executor(self):  # type: ignore[no-untyped-def]
        """For EndBlock: run a proposal's Any message as the gov module account; returns its events."""

        def run(any_msg: Any, signer: str, height: int, time_ns: int) -> list[Event]:
            msg = decode_msg(any_msg)
            return self.router.execute(any_msg.type_url, msg, signer, height, time_ns)[1]

        return run
