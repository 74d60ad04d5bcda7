"""The harness's error hierarchy. Every message says what was got, what was expected, and a fix.

HarnessError
├── ConfigError          bad input from a user: option, version string, config file, mapping
├── DependencyMissing    a tool the harness runs is absent (java, nginx, docker engine)
├── StartupError         a service did not become ready (carries log tail and process status)
├── Unreachable          a testnet, proxy or mock the command talks to does not answer
├── WaitTimeout          a condition was not met before its deadline (carries what was awaited)
└── ChainError           the chain answered with an error
    ├── QueryError       abci_query returned a non-zero code
    ├── TxError          a transaction was rejected (CheckTx or DeliverTx code != 0)
    └── RpcTransportError  the HTTP exchange with a chain RPC port failed (re-exported by harness.cometbft)
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class ConfigError(HarnessError, ValueError):
    """Bad input: names the field, what it got, and the accepted form."""


class DependencyMissing(HarnessError):
    """A required external program is missing or too old; the message says how to install it."""


class StartupError(HarnessError):
    """A service failed to start or to become ready."""


class Unreachable(HarnessError):
    """Something the command must talk to (chain RPC, chaos control API, WireMock admin API) does not answer."""


class WaitTimeout(HarnessError, TimeoutError):
    """A wait for a condition hit its deadline."""


class ChainError(HarnessError):
    """The chain returned an error."""


class RpcTransportError(ChainError):
    """The HTTP exchange itself failed (refused, EOF, reset, timeout, non-JSON body). Defined here, not in the RPC
    client that raises it, so that exit_code_for needs no import of the client (harness.cometbft imports this module)."""


class QueryError(ChainError):
    def __init__(self, path: str, code: int, log: str, codespace: str = "") -> None:
        self.path, self.code, self.log, self.codespace = path, code, log, codespace
        super().__init__(f"abci_query {path} failed: code={code} codespace={codespace!r} log={log!r}")


class TxError(ChainError):
    def __init__(self, stage: str, code: int, log: str, txhash: str = "") -> None:
        self.stage, self.code, self.log, self.txhash = stage, code, log, txhash
        super().__init__(f"tx {txhash or '?'} rejected at {stage}: code={code} log={log!r}")


# -- the exit-code contract of every `harness` command ---------------------------------------------------------
EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 0, 1, 2, 3


def exit_code_for(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception that ended a command: 2 bad input, 3 unreachable or a missing
    dependency, 1 a check failed (any other HarnessError). An exception the harness did not raise on purpose is
    never reported as a failed check: it exits 2, saying the input got past validation (a harness bug)."""
    import requests  # here, not at the top: every command imports this module, few need requests' start-up time

    if isinstance(exc, ConfigError):
        return EXIT_BAD_INPUT, f"bad input: {exc}"
    if isinstance(exc, Unreachable | RpcTransportError):
        return EXIT_UNREACHABLE, f"cannot reach the testnet: {exc}"
    if isinstance(exc, DependencyMissing | StartupError):
        return EXIT_UNREACHABLE, str(exc)
    if isinstance(exc, HarnessError):
        return EXIT_CHECK_FAILED, str(exc)
    if isinstance(exc, ConnectionError | requests.ConnectionError | requests.Timeout):
        return EXIT_UNREACHABLE, f"cannot reach the testnet: {type(exc).__name__}: {_short(exc)}"
    if isinstance(exc, MemoryError):
        return EXIT_BAD_INPUT, "bad input: out of memory while reading the input; give smaller input"
    return EXIT_BAD_INPUT, (
        f"bad input: {type(exc).__name__}: {_short(exc)} (this input should have been refused with a clear message; "
        "that it was not is a harness bug: please report it; HARNESS_DEBUG=1 prints the traceback)"
    )


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."
