"""simnet transactions: real signed TxRaw through broadcast_tx_sync; every rejected input gets the real SDK error
and the chain keeps producing blocks; accepted txs get a `tx` result and websocket Tx events with tx.height."""

from __future__ import annotations

import base64
import json

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
import pytest
import requests
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx_pb2
from cosmos.base.abci.v1beta1 import abci_pb2
from cosmos.tx.v1beta1 import tx_pb2
from websockets.sync.client import connect

from harness import proto
from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, gov_module_address
from harness.chain.tx import build_signed_tx, pack_any, tx_hash
from harness.model.simnet import Genesis, Simnet
from harness.util.wait import wait_until

GOV = gov_module_address()


@pytest.fixture(scope="module")
def net():
    with Simnet(Genesis(block_time_s=0.05, voting_period_blocks=2), port=0) as sim:
        wait_until(lambda: sim.height >= 1, timeout_s=10, what="first block")
        yield sim


@pytest.fixture(scope="module")
def user() -> Key:
    return Key.from_mnemonic(DEV_USER_MNEMONIC, name="user")


@pytest.fixture(scope="module")
def validator() -> Key:
    return Key.from_mnemonic(DEV_MNEMONIC, name="validator")


def rpc(net, method, params):
    r = requests.post(net.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=5)
    return r.json()


def account(net, address: str) -> tuple[int, int]:
    data = proto.auth_query_pb2.QueryAccountRequest(address=address).SerializeToString().hex()
    resp = rpc(net, "abci_query", {"path": proto.Q_ACCOUNT, "data": data})["result"]["response"]
    assert resp["code"] == 0, resp
    any_acc = proto.auth_query_pb2.QueryAccountResponse.FromString(base64.b64decode(resp["value"])).account
    assert any_acc.type_url == proto.TYPE_BASE_ACCOUNT
    acc = proto.auth_pb2.BaseAccount.FromString(any_acc.value)
    return acc.account_number, acc.sequence


def broadcast(net, raw: bytes) -> dict:
    return rpc(net, "broadcast_tx_sync", {"tx": base64.b64encode(raw).decode()})


def wait_tx(net, raw: bytes) -> dict:
    h64 = base64.b64encode(bytes.fromhex(tx_hash(raw))).decode()
    return wait_until(lambda: rpc(net, "tx", {"hash": h64, "prove": False}).get("result"), timeout_s=10, what="tx indexed")


def vote_msg(key: Key, pid: int = 1):
    return proto.gov_tx_pb2.MsgVote(proposal_id=pid, voter=key.address, option=proto.gov_pb2.VOTE_OPTION_YES)


def assert_chain_advances(net, blocks: int = 2) -> None:
    start = net.height
    wait_until(lambda: net.height >= start + blocks, timeout_s=10, what=f"{blocks} more blocks after a rejected tx")


def test_broadcast_and_tx_shapes_and_tx_event(net, user):
    number, seq = account(net, user.address)
    bad = proto.MsgCreatePartialUpgrade(authority=user.address, height=50, nodeVersion="v0.3.9")
    raw = build_signed_tx([bad], user, chain_id="gonka-testnet", account_number=number, sequence=seq)
    with connect(net.ws_url, open_timeout=5) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "2", "params": ["tm.event='Tx'"]}))
        assert json.loads(ws.recv(timeout=5))["result"] == {}
        res = broadcast(net, raw)["result"]
        assert res == {"code": 0, "data": "", "log": "", "codespace": "", "hash": tx_hash(raw)}  # CheckTx passes
        event = json.loads(ws.recv(timeout=10))
    assert event["id"] == "2"
    assert event["result"]["query"] == "tm.event='Tx'"
    data = event["result"]["data"]
    assert data["type"] == "tendermint/event/Tx"
    txr = data["value"]["TxResult"]
    assert "index" not in txr
    assert base64.b64decode(txr["tx"]) == raw
    assert txr["result"]["code"] == 1100
    assert txr["result"]["codespace"] == "inference"
    evs = event["result"]["events"]
    assert evs["tx.hash"] == [tx_hash(raw)]
    assert evs["tx.height"] == [txr["height"]]
    assert evs["tm.event"] == ["Tx"]
    assert "message.module" not in evs  # a failed message emits no message events

    got = wait_tx(net, raw)
    assert got["hash"] == tx_hash(raw)
    assert got["height"] == txr["height"]
    assert got["index"] == 0
    r = got["tx_result"]
    assert list(r) == ["code", "data", "log", "info", "gas_wanted", "gas_used", "events", "codespace"]
    assert r["code"] == 1100
    assert r["data"] is None
    assert r["gas_wanted"] == "2000000"
    assert r["log"] == (  # baseapp's runMsgs wraps a message's error with its index
        f"failed to execute message; message index: 0: invalid authority; expected {GOV}, got {user.address}: "
        "expected gov account as only signer for proposal message"
    )
    assert account(net, user.address)[1] == seq + 1  # the ante handler ran: sequence advanced
    assert_chain_advances(net)


def test_rejections_get_the_real_errors_and_blocks_continue(net, user):
    number, seq = account(net, user.address)
    cases = {
        "wrong sequence": (
            build_signed_tx([vote_msg(user)], user, chain_id="gonka-testnet", account_number=number, sequence=seq + 5),
            32,
            f"account sequence mismatch, expected {seq}, got {seq + 5}: incorrect account sequence",
        ),
        "wrong chain id": (
            build_signed_tx([vote_msg(user)], user, chain_id="gonka-mainnet", account_number=number, sequence=seq),
            4,
            f"signature verification failed; please verify account number ({number}) and chain-id (gonka-testnet): "
            "(unable to verify single signer signature): unauthorized",
        ),
        "wrong account number": (
            build_signed_tx([vote_msg(user)], user, chain_id="gonka-testnet", account_number=number + 1, sequence=seq),
            4,
            f"signature verification failed; please verify account number ({number}) and chain-id (gonka-testnet): "
            "(unable to verify single signer signature): unauthorized",
        ),
        "malformed bytes": (b"\x0a\xff\xff\x01garbage", 2, None),
        "unknown message": (
            build_signed_tx(
                [pack_any(bank_tx_pb2.MsgSend(from_address=user.address, to_address=GOV), "/cosmos.staking.v1beta1.MsgDelegate")],
                user,
                chain_id="gonka-testnet",
                account_number=number,
                sequence=seq,
            ),
            2,
            "unable to resolve type URL /cosmos.staking.v1beta1.MsgDelegate: tx parse error",
        ),
    }
    good = build_signed_tx([vote_msg(user)], user, chain_id="gonka-testnet", account_number=number, sequence=seq)
    txraw = tx_pb2.TxRaw.FromString(good)
    sig = bytearray(txraw.signatures[0])
    sig[5] ^= 0x01
    txraw.signatures[0] = bytes(sig)
    cases["bad signature"] = (txraw.SerializeToString(), 4, cases["wrong chain id"][2])
    signer_mismatch = proto.MsgCreatePartialUpgrade(authority=GOV, height=50, nodeVersion="v0.3.9")
    cases["signer is not the authority"] = (
        build_signed_tx([signer_mismatch], user, chain_id="gonka-testnet", account_number=number, sequence=seq),
        8,
        f"pubKey does not match signer address {GOV} with signer index: 0: invalid pubkey",
    )
    for name, (raw, code, log) in cases.items():
        res = broadcast(net, raw)["result"]
        assert res["code"] == code, (name, res)
        assert res["codespace"] == "sdk", name
        assert res["hash"] == tx_hash(raw), name
        if log is not None:
            assert res["log"] == log, name
        else:
            assert res["log"].endswith(": tx parse error"), name
    assert account(net, user.address)[1] == seq  # nothing was accepted
    assert_chain_advances(net)
    # the same tx twice is a mempool refusal (-32603), not a CheckTx code
    ok = build_signed_tx(
        [proto.MsgCreatePartialUpgrade(authority=user.address, height=9, nodeVersion="v0.3.9")],
        user,
        chain_id="gonka-testnet",
        account_number=number,
        sequence=seq,
    )
    assert broadcast(net, ok)["result"]["code"] == 0
    assert broadcast(net, ok)["error"]["data"] == "tx already exists in cache"


def test_sequence_advances_at_checktx_for_mempool_txs(net, validator):
    pause_height = net.height
    net.pause_blocks()
    try:
        number, seq = account(net, validator.address)
        msg = proto.MsgCreatePartialUpgrade(authority=validator.address, height=9, nodeVersion="v0.3.9")
        first = build_signed_tx([msg], validator, chain_id="gonka-testnet", account_number=number, sequence=seq)
        second = build_signed_tx([msg], validator, chain_id="gonka-testnet", account_number=number, sequence=seq + 1, memo="2")
        assert broadcast(net, first)["result"]["code"] == 0
        assert broadcast(net, second)["result"]["code"] == 0  # check state already counts the first
        assert net.height == pause_height or net.height == pause_height + 1
        h = net.produce_blocks(1)
        assert [int(wait_tx(net, r)["height"]) for r in (first, second)] == [h, h]
        assert account(net, validator.address)[1] == seq + 2
    finally:
        net.resume_blocks()
    assert_chain_advances(net)


def test_governance_flow_events_and_upgrade(net, validator):
    number, seq = account(net, validator.address)
    h_up = net.height + 12
    inner = proto.MsgCreatePartialUpgrade(authority=GOV, height=h_up, nodeVersion="v0.3.9")
    submit = proto.gov_tx_pb2.MsgSubmitProposal(
        messages=[pack_any(inner)], proposer=validator.address, title="t", summary="s", metadata="m"
    )
    submit.initial_deposit.add(denom="ngonka", amount="1000")
    raw = build_signed_tx([submit], validator, chain_id="gonka-testnet", account_number=number, sequence=seq)
    assert broadcast(net, raw)["result"]["code"] == 0
    res = wait_tx(net, raw)["tx_result"]
    assert res["code"] == 0, res
    attrs = {(e["type"], a["key"]): a["value"] for e in res["events"] for a in e["attributes"]}
    assert attrs[("message", "action")] == proto.TYPE_MSG_SUBMIT_PROPOSAL
    assert attrs[("message", "module")] == "gov"
    assert attrs[("message", "sender")] == validator.address
    pid = int(attrs[("submit_proposal", "proposal_id")])
    assert attrs[("proposal_deposit", "amount")] == "1000ngonka"
    msg_data = proto.gov_tx_pb2.MsgSubmitProposalResponse  # TxMsgData -> msg_responses[0]
    responses = abci_pb2.TxMsgData.FromString(base64.b64decode(res["data"])).msg_responses
    assert msg_data.FromString(responses[0].value).proposal_id == pid
    vote = build_signed_tx(
        [vote_msg(validator, pid)], validator, chain_id="gonka-testnet", account_number=number, sequence=seq + 1
    )
    assert broadcast(net, vote)["result"]["code"] == 0
    vres = wait_tx(net, vote)["tx_result"]
    assert {(e["type"], a["key"]) for e in vres["events"] for a in e["attributes"]} >= {("proposal_vote", "voter")}
    wait_until(lambda: net.height >= h_up + 2, timeout_s=15, what=f"height {h_up + 2}")

    def version_at(h: int) -> str:
        resp = rpc(net, "abci_query", {"path": proto.Q_MLNODE_VERSION, "data": "", "height": str(h)})["result"]["response"]
        out = proto.inference_pb2.QueryGetMLNodeVersionResponse.FromString(base64.b64decode(resp["value"]))
        return out.mlnode_version.current_version

    assert (version_at(h_up - 1), version_at(h_up), version_at(h_up + 1)) == ("v0.3.8", "v0.3.9", "v0.3.9")
    pdata = proto.gov_query_pb2.QueryProposalRequest(proposal_id=pid).SerializeToString().hex()
    presp = rpc(net, "abci_query", {"path": proto.Q_GOV_PROPOSAL, "data": pdata})["result"]["response"]
    prop = proto.gov_query_pb2.QueryProposalResponse.FromString(base64.b64decode(presp["value"])).proposal
    assert prop.status == proto.gov_pb2.PROPOSAL_STATUS_PASSED
    assert prop.final_tally_result.yes_count == "10000000"  # bonded tokens: power 10 x 10^6
