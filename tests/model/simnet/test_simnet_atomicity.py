"""A transaction that fails in delivery fails alone: its own code, indexed and found by `tx`, its ante effects
(sequence, fee) kept and its message effects reverted; every other tx of the block and the block itself survive.
Refusals carry the SDK v0.53 codes at the stage the SDK refuses them (decode and ValidateBasic at CheckTx, message
servers at DeliverTx and in Simulate)."""

from __future__ import annotations

import base64

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
import pytest
import requests
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from cosmos.tx.v1beta1 import tx_pb2

from harness import proto
from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, gov_module_address
from harness.chain.tx import build_signed_tx, pack_any, sign_doc_bytes, tx_hash
from harness.model.simnet import Genesis, Simnet
from harness.model.simnet.msgs import MsgRouter

VAL, USER = Key.from_mnemonic(DEV_MNEMONIC), Key.from_mnemonic(DEV_USER_MNEMONIC)
GOV = gov_module_address()


@pytest.fixture
def net():
    with Simnet(Genesis(block_time_s=0.05, voting_period_blocks=50), port=0, paused=True) as sim:
        sim.produce_blocks(1)
        yield sim


def rpc(net, method, params) -> dict:
    return requests.post(net.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10).json()


def broadcast(net, raw: bytes) -> dict:
    return rpc(net, "broadcast_tx_sync", {"tx": base64.b64encode(raw).decode()})["result"]


def indexed(net, raw: bytes) -> dict:
    body = rpc(net, "tx", {"hash": base64.b64encode(bytes.fromhex(tx_hash(raw))).decode()})
    assert "result" in body, body
    return body["result"]


class Signer:
    """Builds consecutive txs for one key (sequences counted here, as a client with several txs in flight does)."""

    def __init__(self, net, key: Key) -> None:
        acc = net.node.state.store.accounts[key.address]
        self.key, self.number, self.seq = key, acc.number, acc.sequence

    def tx(self, *msgs, fee: int = 0, gas: int = 2_000_000) -> bytes:
        raw = build_signed_tx(
            list(msgs),
            self.key,
            chain_id="gonka-testnet",
            account_number=self.number,
            sequence=self.seq,
            fee_amount=fee,
            gas_limit=gas,
        )
        self.seq += 1
        return raw


def resign(raw: bytes, key: Key, number: int, change) -> bytes:
    """The tx with its AuthInfo changed by `change`, signed again (what build_signed_tx refuses to build)."""
    txraw = tx_pb2.TxRaw.FromString(raw)
    auth = tx_pb2.AuthInfo.FromString(txraw.auth_info_bytes)
    change(auth)
    txraw.auth_info_bytes = auth.SerializeToString()
    txraw.signatures[0] = key.sign(sign_doc_bytes(txraw.body_bytes, txraw.auth_info_bytes, "gonka-testnet", number))
    return txraw.SerializeToString()


def send(frm: Key, to: str, amount: str, denom: str = "ngonka") -> bank_tx.MsgSend:
    msg = bank_tx.MsgSend(from_address=frm.address, to_address=to)
    msg.amount.add(denom=denom, amount=amount)
    return msg


def proposal(proposer: Key, deposit: str, version: str = "v0.3.9") -> proto.gov_tx_pb2.MsgSubmitProposal:
    inner = proto.MsgCreatePartialUpgrade(authority=GOV, height=10_000, nodeVersion=version)
    msg = proto.gov_tx_pb2.MsgSubmitProposal(messages=[pack_any(inner)], proposer=proposer.address, title="t", summary="s")
    msg.initial_deposit.add(denom="ngonka", amount=deposit)
    return msg


def test_failing_tx_fails_alone_in_its_block(net):
    store = net.node.state.store
    supply = dict(store.supply)
    s = Signer(net, VAL)
    good1 = s.tx(send(VAL, USER.address, "5"), fee=100)
    negative = s.tx(proposal(VAL, "-1000000000000"), fee=100)  # D10: passes CheckTx, refused by the gov msg server
    good2 = s.tx(proposal(VAL, "1000"), fee=100)
    for raw in (good1, negative, good2):
        assert broadcast(net, raw)["code"] == 0
    user_before, val_before = store.balances[USER.address]["ngonka"], store.balances[VAL.address]["ngonka"]
    h = net.produce_blocks(1)
    results = [indexed(net, raw) for raw in (good1, negative, good2)]
    assert [(r["height"], r["index"]) for r in results] == [(str(h), 0), (str(h), 1), (str(h), 2)]
    assert [r["tx_result"]["code"] for r in results] == [0, 10, 0]
    bad = results[1]["tx_result"]
    assert (bad["codespace"], bad["log"]) == (
        "sdk",
        "failed to execute message; message index: 0: -1000000000000ngonka: invalid coins",
    )
    store = net.node.state.store
    assert sorted(store.proposals) == [1]  # only good2's proposal exists, with its own deposit
    assert store.proposals[1].total_deposit == {"ngonka": 1000}
    assert store.accounts[VAL.address].sequence == s.seq  # the failed tx's ante ran: sequence and fee taken
    assert store.balances[USER.address]["ngonka"] == user_before + 5
    assert store.balances[VAL.address]["ngonka"] == val_before - 5 - 3 * 100 - 1000
    assert store.balances[GOV]["ngonka"] == 1000
    assert store.supply == supply  # nothing minted or burned
    assert net.produce_blocks(1) == h + 1


def test_unexpected_error_in_a_handler_fails_only_that_tx(net, monkeypatch):
    real = MsgRouter.execute

    def flaky(self, url, msg, signer, height, time_ns):
        if url == "/cosmos.bank.v1beta1.MsgSend" and msg.amount[0].amount == "13":
            raise RuntimeError("handler bug")
        return real(self, url, msg, signer, height, time_ns)

    monkeypatch.setattr(MsgRouter, "execute", flaky)
    s = Signer(net, VAL)
    txs = [s.tx(send(VAL, USER.address, "1")), s.tx(send(VAL, USER.address, "13")), s.tx(send(VAL, USER.address, "2"))]
    for raw in txs:
        broadcast(net, raw)
    before = net.node.state.store.balances[USER.address]["ngonka"]
    net.produce_blocks(1)
    codes = [(indexed(net, raw)["tx_result"]["codespace"], indexed(net, raw)["tx_result"]["code"]) for raw in txs]
    assert codes == [("", 0), ("undefined", 111222), ("", 0)]
    assert "handler bug" in indexed(net, txs[1])["tx_result"]["log"]
    assert net.node.state.store.balances[USER.address]["ngonka"] == before + 3


def test_multi_message_tx_is_all_or_nothing(net):
    s = Signer(net, USER)
    raw = s.tx(send(USER, VAL.address, "10"), send(USER, VAL.address, str(10**20)))
    assert broadcast(net, raw)["code"] == 0
    before = dict(net.node.state.store.balances[USER.address])
    net.produce_blocks(1)
    res = indexed(net, raw)["tx_result"]
    assert (res["code"], res["codespace"]) == (5, "sdk")
    assert "insufficient funds" in res["log"]
    assert net.node.state.store.balances[USER.address] == before  # the first send was reverted too (no fee)
    assert net.node.state.store.accounts[USER.address].sequence == s.seq


@pytest.mark.parametrize(
    ("name", "code", "text"),
    [
        ("amount not a number", 2, 'cannot unmarshal "x" into a *big.Int'),
        ("amount 1__0", 2, 'cannot unmarshal "1__0" into a *big.Int'),  # one `_` between digits is Go syntax; two are not
        ("amount beyond 256 bits", 2, "integer out of range; got: 261, max: 256"),
        ("malformed signer", 1, "decoding bech32 failed: invalid character not part of charset: 111"),  # "o"; undefined 1
        ("unknown message type", 2, "unable to resolve type URL"),
        ("version not vMAJOR.MINOR.PATCH", 18, "is not vMAJOR.MINOR.PATCH"),
        ("partial upgrade height 0", 18, "height must be > 0"),
        ("negative fee", 13, "invalid fee provided"),
        ("gas below the ante's cost", 11, "out of gas"),
        ("memo too long", 12, "maximum number of characters is 256"),
    ],
)
def test_checktx_refusals(net, name, code, text):
    s = Signer(net, VAL)
    bad_send = send(VAL, USER.address, "5")
    if name.startswith("amount"):
        raw = s.tx(send(VAL, USER.address, {"amount not a number": "x", "amount 1__0": "1__0"}.get(name, str(2**260))))
    elif name == "malformed signer":
        raw = s.tx(bank_tx.MsgSend(from_address="gonka1notanaddress", to_address=USER.address))
    elif name == "unknown message type":
        raw = s.tx(pack_any(bad_send, "/cosmos.staking.v1beta1.MsgDelegate"))
    elif name.startswith("version"):
        raw = s.tx(proto.MsgCreatePartialUpgrade(authority=VAL.address, height=50, nodeVersion="../__admin/x"))
    elif name.startswith("partial upgrade height"):
        raw = s.tx(proto.MsgCreatePartialUpgrade(authority=VAL.address, height=0, nodeVersion="v0.3.9"))
    elif name == "negative fee":
        raw = resign(s.tx(bad_send, fee=1), VAL, s.number, lambda auth: setattr(auth.fee.amount[0], "amount", "-5"))
    elif name.startswith("gas"):
        raw = s.tx(bad_send, gas=100)
    else:
        raw = build_signed_tx([bad_send], VAL, chain_id="gonka-testnet", account_number=s.number, sequence=s.seq, memo="m" * 257)
    res = broadcast(net, raw)
    assert res["code"] == code, (name, res)
    assert text in res["log"], (name, res["log"])
    assert net.node.mempool == []


@pytest.mark.parametrize(
    ("name", "code", "codespace", "text"),
    [
        ("malformed recipient", 7, "sdk", "invalid to address"),
        ("bad denom", 10, "sdk", "5X: invalid coins"),
        ("zero amount", 10, "sdk", "0ngonka: invalid coins"),
        ("send to a module account", 4, "sdk", "is not allowed to receive funds"),
        ("proposal with a bad version", 12, "gov", "is not vMAJOR.MINOR.PATCH"),
        ("proposal message not signed by gov", 13, "gov", VAL.address),
        ("vote on a missing proposal", 3, "gov", "99: inactive proposal"),
        ("gas below the messages' cost", 11, "sdk", "out of gas"),
    ],
)
def test_delivertx_refusals_fail_alone_with_the_sdk_codes(net, name, code, codespace, text):
    s = Signer(net, VAL)
    if name == "malformed recipient":
        msgs = [send(VAL, "gonka1xyz", "5")]
    elif name == "bad denom":
        msgs = [send(VAL, USER.address, "5", denom="X")]
    elif name == "zero amount":
        msgs = [send(VAL, USER.address, "0")]
    elif name == "send to a module account":
        msgs = [send(VAL, net.node.state.store.module_address("fee_collector"), "5")]
    elif name == "proposal with a bad version":
        msgs = [proposal(VAL, "1000", version="latest")]
    elif name == "proposal message not signed by gov":
        p = proposal(VAL, "1000")
        p.messages[0].CopyFrom(pack_any(proto.MsgCreatePartialUpgrade(authority=VAL.address, height=9, nodeVersion="v0.3.9")))
        msgs = [p]
    elif name == "vote on a missing proposal":
        msgs = [proto.gov_tx_pb2.MsgVote(proposal_id=99, voter=VAL.address, option=1)]
    else:
        msgs = [send(VAL, USER.address, "5")]
    raw = s.tx(*msgs, gas=30_000 if name.startswith("gas") else 2_000_000)
    ok = s.tx(send(VAL, USER.address, "1"))
    assert broadcast(net, raw)["code"] == 0, name
    assert broadcast(net, ok)["code"] == 0
    net.produce_blocks(1)
    res = indexed(net, raw)["tx_result"]
    assert (res["code"], res["codespace"]) == (code, codespace), (name, res)
    assert text in res["log"], (name, res["log"])
    assert indexed(net, ok)["tx_result"]["code"] == 0
    assert net.node.state.store.proposals == {}


def test_end_block_failure_is_rolled_back_and_the_chain_goes_on(net, monkeypatch):
    from harness.model.simnet.gov import Gov

    def boom(self, *a):
        raise RuntimeError("EndBlock bug")

    monkeypatch.setattr(Gov, "end_block", boom)
    s = Signer(net, VAL)
    raw = s.tx(proposal(VAL, "1000"))
    broadcast(net, raw)
    h = net.produce_blocks(2)
    assert indexed(net, raw)["tx_result"]["code"] == 0
    assert net.node.state.store.proposals[1].status == 2  # the tx's effects stay; only EndBlock's are rolled back
    assert net.produce_blocks(1) == h + 1


def test_broadcast_tx_async_answers_before_checktx(net):
    s = Signer(net, VAL)
    s.seq += 3  # a wrong sequence: CheckTx refuses it, but async does not wait for that verdict
    raw = s.tx(send(VAL, USER.address, "1"))
    res = rpc(net, "broadcast_tx_async", {"tx": base64.b64encode(raw).decode()})["result"]
    assert res == {"code": 0, "data": "", "log": "", "codespace": "", "hash": tx_hash(raw)}
    assert net.node.mempool == []  # refused all the same


def test_strict_node_versions_can_be_turned_off_like_upstream():
    from harness.model.simnet.errors import AbciError
    from harness.model.simnet.msgs import validate_basic

    msg = proto.MsgCreatePartialUpgrade(authority=VAL.address, height=5, nodeVersion="latest")
    validate_basic(proto.TYPE_MSG_CREATE_PARTIAL_UPGRADE, msg, strict_versions=False)  # upstream's ValidateBasic
    with pytest.raises(AbciError, match="is not vMAJOR.MINOR.PATCH"):
        validate_basic(proto.TYPE_MSG_CREATE_PARTIAL_UPGRADE, msg, strict_versions=True)
    assert Genesis.from_dict({"strict_node_versions": False}).strict_node_versions is False
