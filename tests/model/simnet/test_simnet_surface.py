"""simnet's wider CometBFT 0.38 surface and the SDK query services: tx_search/block_search semantics (hash lookup,
heights, attributes within one event, paging, order), the block/header/commit/results family, broadcast_tx_commit,
websocket event types and refusals, and the bank/auth/gov/tx/tendermint queries against the chain's own state."""

from __future__ import annotations

import base64
import json

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
import pytest
import requests
from cosmos.auth.v1beta1 import query_pb2 as auth_q
from cosmos.bank.v1beta1 import query_pb2 as bank_q
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from cosmos.base.tendermint.v1beta1 import query_pb2 as tm_q
from cosmos.tx.v1beta1 import service_pb2 as tx_s
from websockets.sync.client import connect

from harness import proto
from harness.chain.client import ChainClient
from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key
from harness.chain.tx import build_signed_tx, tx_hash
from harness.model.simnet import Genesis, Simnet
from harness.util.wait import wait_until

USER, VAL = Key.from_mnemonic(DEV_USER_MNEMONIC), Key.from_mnemonic(DEV_MNEMONIC)


def rpc(net, method, params=None, id_=1) -> dict:
    return requests.post(
        net.rpc_url, json={"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}}, timeout=15
    ).json()


def result(net, method, params=None):
    body = rpc(net, method, params)
    assert "error" not in body, body
    return body["result"]


def query(net, path, req, resp_cls):
    r = result(net, "abci_query", {"path": path, "data": req.SerializeToString().hex()})["response"]
    assert r["code"] == 0, r
    return resp_cls.FromString(base64.b64decode(r["value"] or ""))


def send(to: str, amount: int) -> bank_tx.MsgSend:
    msg = bank_tx.MsgSend(from_address=USER.address, to_address=to)
    msg.amount.add(denom="ngonka", amount=str(amount))
    return msg


@pytest.fixture(scope="module")
def chain():
    """A chain with two sends in blocks of their own and one proposal that passed. (Its voting period, 1 s: at 2
    blocks of 0.05 s the vote missed it under -n 2 at load 12-15, gov's "inactive proposal".)"""
    with Simnet(Genesis(block_time_s=0.05, voting_period_blocks=20), port=0) as net, ChainClient(net.rpc_url) as c:
        wait_until(lambda: net.height >= 1, timeout_s=10, what="first block")
        sends = [c.submit([send(VAL.address, 5)], USER), c.submit([send(VAL.address, 7)], USER)]
        outcome = c.propose_partial_upgrade("v0.3.9", c.earliest_upgrade_height()[0] + 5, proposer=VAL, voters=[VAL])
        yield net, sends, outcome


# -- tx_search / block_search ------------------------------------------------------------------------
def test_tx_search_by_hash_height_and_attributes(chain):
    net, sends, _ = chain
    first, second = sends
    by_hash = result(net, "tx_search", {"query": f"tx.hash='{first.hash}'"})
    assert by_hash["total_count"] == "1"
    assert by_hash["txs"][0]["hash"] == first.hash
    assert list(by_hash["txs"][0]) == ["hash", "height", "index", "tx_result", "tx"]
    by_height = result(net, "tx_search", {"query": f"tx.height={second.height}"})
    assert [t["hash"] for t in by_height["txs"]] == [second.hash]
    both = result(net, "tx_search", {"query": f"transfer.sender='{USER.address}' AND transfer.amount CONTAINS 'ngonka'"})
    assert {first.hash, second.hash} <= {t["hash"] for t in both["txs"]}
    ranged = result(net, "tx_search", {"query": f"tx.height>{first.height} AND message.action='/cosmos.bank.v1beta1.MsgSend'"})
    assert [t["hash"] for t in ranged["txs"]] == [second.hash]
    # attributes of two different events never match together (CometBFT 0.38 indexes per event)
    split = result(net, "tx_search", {"query": "message.action='/cosmos.bank.v1beta1.MsgSend' AND transfer.amount='5ngonka'"})
    assert split["total_count"] == "0"
    # tm.event is not an indexed attribute
    assert result(net, "tx_search", {"query": "tm.event='Tx'"})["total_count"] == "0"


def test_tx_search_paging_and_order(chain):
    net, sends, _ = chain
    q = f"message.sender='{USER.address}' AND message.module='bank'"
    asc = result(net, "tx_search", {"query": q, "order_by": "asc"})
    desc = result(net, "tx_search", {"query": q, "order_by": "desc"})
    assert [t["hash"] for t in asc["txs"]] == [s.hash for s in sends]
    assert [t["hash"] for t in desc["txs"]] == [s.hash for s in reversed(sends)]
    page2 = result(net, "tx_search", {"query": q, "page": "2", "per_page": "1"})
    assert (page2["total_count"], [t["hash"] for t in page2["txs"]]) == ("2", [sends[1].hash])
    errors = {
        "bad order": ({"query": q, "order_by": "up"}, "expected order_by to be either `asc` or `desc` or empty"),
        "page out of range": ({"query": q, "page": "3", "per_page": "1"}, "page should be within [1, 2] range, given 3"),
        "bad syntax": ({"query": "tx.height=="}, "offset"),
        "too long": ({"query": "a.b='" + "x" * 600 + "'"}, "maximum query length exceeded"),
        "bad hash": ({"query": "tx.hash='zz'"}, "encoding/hex"),
    }
    for name, (params, text) in errors.items():
        err = rpc(net, "tx_search", params)["error"]
        assert (err["code"], err["message"]) == (-32603, "Internal error"), name
        assert text in err["data"], (name, err)


def test_block_search_heights_and_finalize_events(chain):
    net, _, outcome = chain
    res = result(net, "block_search", {"query": "block.height >= 2 AND block.height <= 4"})
    assert res["total_count"] == "3"
    assert [b["block"]["header"]["height"] for b in res["blocks"]] == ["4", "3", "2"]  # desc by default
    passed = result(net, "block_search", {"query": "active_proposal.proposal_result='proposal_passed'", "order_by": "asc"})
    heights = [int(b["block"]["header"]["height"]) for b in passed["blocks"]]
    assert outcome.passed_height >= heights[-1] > outcome.submit_height


# -- blocks and info ----------------------------------------------------------------------------------
def test_block_family_shapes(chain):
    net, sends, _ = chain
    h = sends[0].height
    block = result(net, "block", {"height": str(h)})
    assert result(net, "header", {"height": str(h)}) == {"header": block["block"]["header"]}
    by_hash = result(net, "block_by_hash", {"hash": base64.b64encode(bytes.fromhex(block["block_id"]["hash"])).decode()})
    assert by_hash == block
    assert result(net, "header_by_hash", {"hash": block["block_id"]["hash"].lower()})["header"]["height"] == str(h)
    br = result(net, "block_results", {"height": str(h)})
    assert list(br) == [
        "height",
        "txs_results",
        "finalize_block_events",
        "validator_updates",
        "consensus_param_updates",
        "app_hash",
    ]
    assert br["height"] == str(h)
    assert [r["code"] for r in br["txs_results"]] == [0]
    empty = result(net, "block_results", {"height": "1"})
    assert empty["txs_results"] is None
    commit = result(net, "commit", {"height": str(h)})
    assert commit["canonical"] is True
    assert commit["signed_header"]["header"] == block["block"]["header"]
    assert commit["signed_header"]["commit"]["block_id"] == block["block_id"]
    nxt = result(net, "block", {"height": str(h + 1)})
    assert nxt["block"]["last_commit"] == commit["signed_header"]["commit"]
    latest = result(net, "commit", {})
    assert latest["canonical"] is False
    chain_ = result(net, "blockchain", {"minHeight": "1", "maxHeight": "3"})
    assert [m["header"]["height"] for m in chain_["block_metas"]] == ["3", "2", "1"]
    assert int(chain_["last_height"]) >= 3
    assert (
        rpc(net, "blockchain", {"minHeight": "5", "maxHeight": "3"})["error"]["data"]
        == "min height 5 can't be greater than max height 3"
    )


def test_info_methods(chain):
    net, _, _ = chain
    gen = result(net, "genesis")["genesis"]
    assert (gen["chain_id"], gen["initial_height"]) == ("gonka-testnet", "1")
    assert gen["validators"][0]["power"] == "10"
    assert gen["app_state"]["inference"]["mlnode_version"]["current_version"] == "v0.3.8"
    chunk = result(net, "genesis_chunked", {"chunk": "0"})
    assert json.loads(base64.b64decode(chunk["data"])) == gen
    info = result(net, "abci_info")["response"]
    assert int(info["last_block_height"]) >= 1
    assert "app_version" not in info  # libs/json omits zero fields
    assert result(net, "net_info") == {
        "listening": True,
        "listeners": ["Listener(@tcp://127.0.0.1:26656)"],
        "n_peers": "0",
        "peers": [],
    }
    assert result(net, "num_unconfirmed_txs") == {"n_txs": "0", "total": "0", "total_bytes": "0", "txs": None}
    assert result(net, "unconfirmed_txs", {"limit": "5"})["txs"] == []
    assert result(net, "consensus_params")["consensus_params"]["block"]["max_gas"] == "-1"
    for refused in ("consensus_state", "dump_consensus_state"):
        assert "simnet has no consensus rounds" in rpc(net, refused)["error"]["data"]


def test_broadcast_tx_commit(chain):
    net, _, _ = chain
    with ChainClient(net.rpc_url) as c:
        number, seq = c.account(USER.address)
    raw = build_signed_tx([send(VAL.address, 3)], USER, chain_id="gonka-testnet", account_number=number, sequence=seq)
    res = result(net, "broadcast_tx_commit", {"tx": base64.b64encode(raw).decode()})
    assert (res["hash"], res["check_tx"]["code"], res["tx_result"]["code"]) == (tx_hash(raw), 0, 0)
    assert int(res["height"]) >= 1
    assert result(net, "tx", {"hash": base64.b64encode(bytes.fromhex(res["hash"])).decode()})["height"] == res["height"]
    stale = result(
        net,
        "broadcast_tx_commit",
        {
            "tx": base64.b64encode(
                build_signed_tx(
                    [send(VAL.address, 3)], USER, chain_id="gonka-testnet", account_number=number, sequence=seq, memo="x"
                )
            ).decode()
        },
    )
    assert (stale["check_tx"]["code"], stale["height"]) == (32, "0")
    assert list(stale["tx_result"]) == ["code", "data", "log", "info", "gas_wanted", "gas_used", "events", "codespace"]


# -- websocket ------------------------------------------------------------------------------------------
def test_websocket_event_types_and_refusals(chain):
    net, _, _ = chain
    with connect(net.ws_url, open_timeout=5) as ws:
        for i, q in enumerate(("tm.event='NewBlockHeader'", "tm.event = 'NewBlockEvents'", "tm.event='ValidatorSetUpdates'")):
            ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": i, "params": {"query": q}}))
            assert json.loads(ws.recv(timeout=5)) == {"jsonrpc": "2.0", "id": i, "result": {}}
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": 9, "params": ["tm.event='Vote'"]}))
        seen: dict = {}
        while len(seen) < 3:
            msg = json.loads(ws.recv(timeout=5))
            if msg.get("id") == 9:
                seen["refusal"] = msg
            elif "result" in msg:
                seen[msg["result"]["data"]["type"]] = msg
    err = seen["refusal"]["error"]
    assert (err["code"], err["message"]) == (-32603, "Internal error")
    assert "simnet cannot serve tm.event='Vote'" in err["data"]
    assert "NewBlockHeader" in err["data"]
    header = seen["tendermint/event/NewBlockHeader"]["result"]
    assert header["events"] == {"tm.event": ["NewBlockHeader"]}
    assert set(header["data"]["value"]) == {"header"}
    nbe = seen["tendermint/event/NewBlockEvents"]["result"]
    assert nbe["query"] == "tm.event = 'NewBlockEvents'"  # exactly as sent
    assert set(nbe["data"]["value"]) == {"height", "events", "num_txs"}


# -- query services ---------------------------------------------------------------------------------------
def test_bank_and_auth_queries(chain):
    net, _, _ = chain
    store = net.node.state.store
    bal = query(
        net,
        "/cosmos.bank.v1beta1.Query/Balance",
        bank_q.QueryBalanceRequest(address=USER.address, denom="ngonka"),
        bank_q.QueryBalanceResponse,
    )
    assert int(bal.balance.amount) == store.balances[USER.address]["ngonka"]
    allb = query(
        net,
        "/cosmos.bank.v1beta1.Query/AllBalances",
        bank_q.QueryAllBalancesRequest(address=USER.address),
        bank_q.QueryAllBalancesResponse,
    )
    assert [(c.denom, int(c.amount)) for c in allb.balances] == sorted(store.balances[USER.address].items())
    supply = query(
        net, "/cosmos.bank.v1beta1.Query/TotalSupply", bank_q.QueryTotalSupplyRequest(), bank_q.QueryTotalSupplyResponse
    )
    total = sum(b.get("ngonka", 0) for b in store.balances.values())
    assert [(c.denom, int(c.amount)) for c in supply.supply] == [("ngonka", total)]  # fees and deposits move, never vanish
    params = query(net, "/cosmos.auth.v1beta1.Query/Params", auth_q.QueryParamsRequest(), auth_q.QueryParamsResponse)
    assert (params.params.max_memo_characters, params.params.sig_verify_cost_secp256k1) == (256, 1000)
    bad = result(
        net,
        "abci_query",
        {
            "path": "/cosmos.bank.v1beta1.Query/Balance",
            "data": bank_q.QueryBalanceRequest(address="nope", denom="ngonka").SerializeToString().hex(),
        },
    )
    assert (bad["response"]["code"], bad["response"]["codespace"]) == (18, "sdk")
    unknown = result(net, "abci_query", {"path": "/cosmos.distribution.v1beta1.Query/Params", "data": ""})["response"]
    assert unknown["code"] == 6
    assert "unknown query path" in unknown["log"]


def test_gov_queries(chain):
    net, _, outcome = chain
    pid = outcome.proposal_id
    props = query(
        net,
        "/cosmos.gov.v1.Query/Proposals",
        proto.gov_query_pb2.QueryProposalsRequest(),
        proto.gov_query_pb2.QueryProposalsResponse,
    )
    assert [p.id for p in props.proposals] == [pid]
    assert props.proposals[0].status == proto.gov_pb2.PROPOSAL_STATUS_PASSED
    tally = query(
        net,
        "/cosmos.gov.v1.Query/TallyResult",
        proto.gov_query_pb2.QueryTallyResultRequest(proposal_id=pid),
        proto.gov_query_pb2.QueryTallyResultResponse,
    )
    assert tally.tally.yes_count == "10000000"
    deposits = query(
        net,
        "/cosmos.gov.v1.Query/Deposits",
        proto.gov_query_pb2.QueryDepositsRequest(proposal_id=pid),
        proto.gov_query_pb2.QueryDepositsResponse,
    )
    assert deposits.deposits == []  # refunded and deleted once the proposal passed
    votes = query(
        net,
        "/cosmos.gov.v1.Query/Votes",
        proto.gov_query_pb2.QueryVotesRequest(proposal_id=pid),
        proto.gov_query_pb2.QueryVotesResponse,
    )
    assert votes.votes == []  # the tally removes the votes it counted


def test_tx_and_tendermint_services(chain):
    net, sends, _ = chain
    got = query(net, "/cosmos.tx.v1beta1.Service/GetTx", tx_s.GetTxRequest(hash=sends[0].hash), tx_s.GetTxResponse)
    assert (got.tx_response.txhash, got.tx_response.height, got.tx_response.code) == (sends[0].hash, sends[0].height, 0)
    assert got.tx.body.messages[0].type_url == "/cosmos.bank.v1beta1.MsgSend"
    with ChainClient(net.rpc_url) as c:
        number, seq = c.account(USER.address)
    raw = build_signed_tx([send(VAL.address, 1)], USER, chain_id="gonka-testnet", account_number=number, sequence=seq)
    sim = query(net, "/cosmos.tx.v1beta1.Service/Simulate", tx_s.SimulateRequest(tx_bytes=raw), tx_s.SimulateResponse)
    assert 20_000 < sim.gas_info.gas_used < 200_000
    assert sim.result.msg_responses[0].type_url == "/cosmos.bank.v1beta1.MsgSendResponse"
    assert net.node.state.store.accounts[USER.address].sequence == seq  # simulation changed nothing
    over = bank_tx.MsgSend(from_address=USER.address, to_address=VAL.address)
    over.amount.add(denom="ngonka", amount=str(10**30))
    raw = build_signed_tx([over], USER, chain_id="gonka-testnet", account_number=number, sequence=seq)
    failed = result(
        net,
        "abci_query",
        {"path": "/cosmos.tx.v1beta1.Service/Simulate", "data": tx_s.SimulateRequest(tx_bytes=raw).SerializeToString().hex()},
    )["response"]
    assert failed["code"] == 6
    assert "insufficient funds" in failed["log"]
    events = query(
        net,
        "/cosmos.tx.v1beta1.Service/GetTxsEvent",
        tx_s.GetTxsEventRequest(query=f"tx.height={sends[1].height}"),
        tx_s.GetTxsEventResponse,
    )
    assert [r.txhash for r in events.tx_responses] == [sends[1].hash]
    node = query(net, "/cosmos.base.tendermint.v1beta1.Service/GetNodeInfo", tm_q.GetNodeInfoRequest(), tm_q.GetNodeInfoResponse)
    assert node.default_node_info.network == "gonka-testnet"
    blk = query(
        net,
        "/cosmos.base.tendermint.v1beta1.Service/GetBlockByHeight",
        tm_q.GetBlockByHeightRequest(height=sends[0].height),
        tm_q.GetBlockByHeightResponse,
    )
    assert blk.block.header.height == sends[0].height
    assert blk.sdk_block.header.proposer_address.startswith("gonkavalcons1")
    assert list(blk.block.data.txs) == [net.node.tx_index.get(bytes.fromhex(sends[0].hash)).raw]
    latest = query(
        net,
        "/cosmos.base.tendermint.v1beta1.Service/GetLatestValidatorSet",
        tm_q.GetLatestValidatorSetRequest(),
        tm_q.GetLatestValidatorSetResponse,
    )
    assert [v.voting_power for v in latest.validators] == [10]


def test_staking_queries_show_what_gov_tallies_over():
    from cosmos.staking.v1beta1 import query_pb2 as staking_q

    with Simnet(Genesis.with_validators(3, powers=[30, 20, 10], block_time_s=0.05), port=0) as net:
        wait_until(lambda: net.height >= 1, timeout_s=10, what="first block")
        vals = query(
            net, "/cosmos.staking.v1beta1.Query/Validators", staking_q.QueryValidatorsRequest(), staking_q.QueryValidatorsResponse
        )
        assert [(v.tokens, v.status) for v in vals.validators] == [("30000000", 3), ("20000000", 3), ("10000000", 3)]
        assert all(v.operator_address.startswith("gonkavaloper1") for v in vals.validators)
        pool = query(net, "/cosmos.staking.v1beta1.Query/Pool", staking_q.QueryPoolRequest(), staking_q.QueryPoolResponse)
        assert pool.pool.bonded_tokens == "60000000"
        one = query(
            net,
            "/cosmos.staking.v1beta1.Query/Validator",
            staking_q.QueryValidatorRequest(validator_addr=vals.validators[1].operator_address),
            staking_q.QueryValidatorResponse,
        )
        assert one.validator.tokens == "20000000"
