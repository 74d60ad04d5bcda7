"""The harness's error hierarchy. Every message says what was got, what was expected, and a fix.

HarnessError
├── ConfigError          bad input from a user: option, version string, config file, mapping
├── DependencyMissing    a tool the harness runs is absent (java, nginx, docker engine)
├── StartupError         a service did not become ready (carries log tail and process status)
├── WaitTimeout          a condition was not met before its deadline (carries what was awaited)
└── ChainError           the chain answered with an error
    ├── QueryError       abci_query returned a non-zero code
    └── TxError          a transaction was rejected (CheckTx or DeliverTx code != 0)
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


class WaitTimeout(HarnessError, TimeoutError):
    """A wait for a condition hit its deadline."""


class ChainError(HarnessError):
    """The chain returned an error."""


class QueryError(ChainError):
    def __init__(self, path: str, code: int, log: str, codespace: str = "") -> None:
        self.path, self.code, self.log, self.codespace = path, code, log, codespace
        super().__init__(f"abci_query {path} failed: code={code} codespace={codespace!r} log={log!r}")


class TxError(ChainError):
    def __init__(self, stage: str, code: int, log: str, txhash: str = "") -> None:
        self.stage, self.code, self.log, self.txhash = stage, code, log, txhash
        super().__init__(f"tx {txhash or '?'} rejected at {stage}: code={code} log={log!r}")
