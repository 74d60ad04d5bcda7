"""Helpers shared by simnet's tests."""

from __future__ import annotations

from typing import Any


def app_state(sim: Any) -> tuple:
    """What a request must never change: accounts (numbers, sequences), balances, supply, proposals, upgrades."""
    s = sim.node.state.store
    accounts = {a: (acc.number, acc.sequence) for a, acc in s.accounts.items()}
    return accounts, {a: dict(b) for a, b in s.balances.items()}, dict(s.supply), sorted(s.proposals), dict(s.upgrades)


CHAIN_ID = "gonka-testnet"
Signer = tuple[Any, int, int]  # (harness.chain.keys.Key, account number, sequence)


def signed_tx(
    msgs: list[Any],
    signers: list[Signer],
    *,
    fee: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    gas: int = 2_000_000,
    payer: str = "",
    granter: str = "",
    memo: str = "",
    body_edit: Any = None,
    auth_edit: Any = None,
    chain_id: str = CHAIN_ID,
) -> bytes:
    """A SIGN_MODE_DIRECT tx with anything a client may put in it: fee coins as (denom, amount text), a fee payer
    and granter, several signers; `body_edit`/`auth_edit` change the TxBody/AuthInfo before everyone signs."""
    import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
    from cosmos.base.v1beta1 import coin_pb2
    from cosmos.crypto.secp256k1 import keys_pb2
    from cosmos.tx.v1beta1 import tx_pb2

    from harness.chain.tx import SIGN_MODE_DIRECT, TYPE_SECP256K1_PUBKEY, pack_any, sign_doc_bytes

    body = tx_pb2.TxBody(messages=[pack_any(m) for m in msgs], memo=memo)
    if body_edit is not None:
        body_edit(body)
    infos = [
        tx_pb2.SignerInfo(
            public_key=pack_any(keys_pb2.PubKey(key=key.public_key_bytes), TYPE_SECP256K1_PUBKEY),
            mode_info=tx_pb2.ModeInfo(single=tx_pb2.ModeInfo.Single(mode=SIGN_MODE_DIRECT)),
            sequence=sequence,
        )
        for key, _, sequence in signers
    ]
    coins = [coin_pb2.Coin(denom=denom, amount=amount) for denom, amount in fee]
    auth = tx_pb2.AuthInfo(signer_infos=infos, fee=tx_pb2.Fee(amount=coins, gas_limit=gas, payer=payer, granter=granter))
    if auth_edit is not None:
        auth_edit(auth)
    body_bytes, auth_bytes = body.SerializeToString(), auth.SerializeToString()
    sigs = [key.sign(sign_doc_bytes(body_bytes, auth_bytes, chain_id, number)) for key, number, _ in signers]
    return tx_pb2.TxRaw(body_bytes=body_bytes, auth_info_bytes=auth_bytes, signatures=sigs).SerializeToString()


def fresh_node(**genesis: Any) -> Any:
    """A simnet node driven directly (no server, no block timer), one block in."""
    from harness.model.simnet import Genesis
    from harness.model.simnet.node import Node

    node = Node(Genesis(**{"block_time_s": 0.05, "voting_period_blocks": 50, **genesis}))
    node.produce_block()
    return node


def signer(node: Any, key: Any) -> Signer:
    """(key, account number, sequence) as the chain has them now (DeliverTx state)."""
    acc = node.state.store.accounts[key.address]
    return key, acc.number, acc.sequence


def deliver(node: Any, raw: bytes) -> Any:
    """CheckTx (must pass), then the next block; the tx's DeliverTx result."""
    digest, checked = node.admit(raw)
    assert checked.code == 0, f"CheckTx refused the tx: {checked.codespace} {checked.code} {checked.log}"
    node.produce_block()
    return node.tx_index.get(digest).result


def balance(node: Any, address: str, denom: str = "ngonka") -> int:
    return node.state.store.balances.get(address, {}).get(denom, 0)
