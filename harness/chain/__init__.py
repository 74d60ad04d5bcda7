"""Chain side of the harness: keys, signed transactions, governance, queries (simnet or a real Gonka node).

Names are imported on first use, so a process that needs only the keys (the embedded chain, the API node) does not
load the RPC client and its dependencies at start-up.
"""

from __future__ import annotations

from harness.util.lazy import lazy_exports

_WHERE = {
    "ChainClient": "client",
    "ProposalOutcome": "client",
    "TxOutcome": "client",
    "UpgradeTooSoon": "client",
    "UpgradePassedTooLate": "client",
    "ProposalNotPassed": "client",
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
__getattr__ = lazy_exports(__name__, _WHERE, globals())
