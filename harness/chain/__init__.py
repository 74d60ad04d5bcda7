"""Chain side of the harness: keys, signed transactions, governance, queries (simnet or a real Gonka node).

Names are imported on first use, so a process that needs only the keys (the embedded chain, the API node) does not
load the RPC client and its dependencies at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ChainClient": "client",
    "ProposalOutcome": "client",
    "TxOutcome": "client",
    "UpgradeTooSoon": "client",
    "UpgradePassedTooLate": "client",
    "DENOM": "keys",
    "DEV_MNEMONIC": "keys",
    "DEV_USER_MNEMONIC": "keys",
    "Key": "keys",
    "address_from_pubkey": "keys",
    "gov_module_address": "keys",
    "DecodedTx": "tx",
    "build_signed_tx": "tx",
    "decode_tx": "tx",
    "pack_any": "tx",
    "sign_doc_bytes": "tx",
    "tx_hash": "tx",
    "verify_signature": "tx",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.chain' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"harness.chain.{module}"), name)
    globals()[name] = value
    return value
