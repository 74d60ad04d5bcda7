"""ABCI errors as the Cosmos SDK registers them: `(codespace, code)` plus the registered text, and the SDK's log
form `"<message>: <registered text>"`. Codes as in cosmos-sdk v0.53 `types/errors`, `x/gov/types`, `x/bank/types`
and Gonka's inference module.
"""

from __future__ import annotations

SDK_ERRORS = {
    2: "tx parse error",
    3: "invalid sequence",
    4: "unauthorized",
    5: "insufficient funds",
    6: "unknown request",
    7: "invalid address",
    8: "invalid pubkey",
    9: "unknown address",
    10: "invalid coins",
    11: "out of gas",
    12: "memo too large",
    13: "insufficient fee",
    14: "maximum number of signatures exceeded",
    15: "no signatures supplied",
    18: "invalid request",
    21: "tx too large",
    22: "key not found",
    26: "invalid height",
    30: "tx timeout height",
    31: "unknown extension options",
    32: "incorrect account sequence",
    35: "internal logic error",
    37: "feature not supported",
    38: "not found",
    41: "invalid gas limit",
    42: "tx timeout",
}
GOV_ERRORS = {
    2: "unknown proposal",
    3: "inactive proposal",
    5: "invalid proposal content",
    7: "invalid vote option",
    10: "proposal message not recognized by router",
    11: "no messages proposed",
    12: "invalid proposal message",
    13: "expected gov account as only signer for proposal message",
    15: "metadata too long",
    16: "minimum deposit is too small",
    20: "voting period already ended",
    22: "summary too long",
    23: "invalid deposit denom",
}
BANK_ERRORS = {2: "no inputs to send transaction", 3: "no outputs to send transaction", 5: "send transactions are disabled"}
INFERENCE_ERRORS = {1100: "expected gov account as only signer for proposal message"}
# baseapp turns a panic in a handler into this (codespace "undefined")
UNDEFINED_ERRORS = {1: "internal", 111222: "panic"}
REGISTRY = {
    "sdk": SDK_ERRORS,
    "gov": GOV_ERRORS,
    "bank": BANK_ERRORS,
    "inference": INFERENCE_ERRORS,
    "undefined": UNDEFINED_ERRORS,
}

# gRPC status -> SDK error, as baseapp maps a failed gRPC query (gRPCErrorToSDKError)
GRPC_NOT_FOUND, GRPC_INVALID_ARGUMENT = 22, 18


class MethodError(Exception):
    """An error an RPC method returns: JSON-RPC -32603 Internal error with this text as `data`."""


class AbciError(Exception):
    """A non-zero ABCI result: `codespace`, `code` and the SDK-style log.

    `message` None is the registered error itself (log "insufficient fee"); a string, even "", wraps it as
    errorsmod.Wrap does (log "<message>: insufficient fee").
    """

    def __init__(self, codespace: str, code: int, message: str | None = None) -> None:
        reason = REGISTRY.get(codespace, {}).get(code, "error")
        self.codespace, self.code = codespace, code
        self.log = reason if message is None else f"{message}: {reason}"
        super().__init__(self.log)

    @classmethod
    def with_log(cls, codespace: str, code: int, log: str) -> AbciError:
        """An error whose log is `log` exactly: a Go error the SDK never registered (codespace undefined, code 1,
        log = its Error() text), or one whose text already carries its registered reason."""
        err = cls(codespace, code)
        err.log = log
        err.args = (log,)
        return err


class OutOfGas(AbciError):
    """sdk 11: the gas meter's panic, which baseapp recovers; never wrapped with a message index."""

    def __init__(self, message: str) -> None:
        super().__init__("sdk", 11, message)


def not_found(desc: str) -> AbciError:
    """A gRPC NotFound from a query handler, as baseapp reports it (sdk 22 key not found)."""
    return AbciError("sdk", GRPC_NOT_FOUND, f"rpc error: code = NotFound desc = {desc}")


def invalid_argument(desc: str) -> AbciError:
    """A gRPC InvalidArgument from a query handler (sdk 18 invalid request)."""
    return AbciError("sdk", GRPC_INVALID_ARGUMENT, f"rpc error: code = InvalidArgument desc = {desc}")


def panic_error(where: str, exc: BaseException) -> AbciError:
    """What baseapp's recover turns an unexpected failure into: the tx fails alone with codespace undefined, 111222."""
    return AbciError("undefined", 111222, f"recovered: {where}: {type(exc).__name__}: {str(exc)[:200]}")


class GoPanic(AbciError):
    """A panic the chain's Go code raises on this input (an index out of range, a nil amount), as baseapp's
    default recovery reports it: undefined 111222 "recovered: <panic value>" (the SDK appends the Go stack,
    which simnet has not got). Like OutOfGas, never wrapped with a message index."""

    def __init__(self, value: str) -> None:
        super().__init__("undefined", 111222, f"recovered: {value}")
        self.value = value


def go_panic(value: str) -> AbciError:
    return GoPanic(value)


def unregistered(err: Exception) -> AbciError:
    """A Go error returned as it is: codespace and code from a GoError (undefined 1 when unregistered), log = its text."""
    return AbciError.with_log(getattr(err, "codespace", "undefined"), getattr(err, "code", 1), str(err))
