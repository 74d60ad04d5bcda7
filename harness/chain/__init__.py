"""Chain side of the harness: keys, signed transactions, governance, queries (simnet or a real Gonka node)."""

from harness.chain.client import ChainClient, ProposalOutcome, TxOutcome
from harness.chain.keys import DENOM, DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, address_from_pubkey, gov_module_address
from harness.chain.tx import DecodedTx, build_signed_tx, decode_tx, pack_any, sign_doc_bytes, tx_hash, verify_signature

__all__ = [
    "DENOM",
    "DEV_MNEMONIC",
    "DEV_USER_MNEMONIC",
    "ChainClient",
    "DecodedTx",
    "Key",
    "ProposalOutcome",
    "TxOutcome",
    "address_from_pubkey",
    "build_signed_tx",
    "decode_tx",
    "gov_module_address",
    "pack_any",
    "sign_doc_bytes",
    "tx_hash",
    "verify_signature",
]
