"""The SDK's gRPC services that clients reach through abci_query: `cosmos.tx.v1beta1.Service` (Simulate with the
gas the tx would use, GetTx, BroadcastTx, GetTxsEvent) and `cosmos.base.tendermint.v1beta1.Service` (GetNodeInfo,
GetSyncing, GetLatestBlock, GetBlockByHeight, GetLatestValidatorSet, GetValidatorSetByHeight).
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING

import bech32
import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.base.abci.v1beta1 import abci_pb2
from cosmos.base.tendermint.v1beta1 import query_pb2 as tm_q
from cosmos.base.tendermint.v1beta1 import types_pb2 as sdk_types
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.v1beta1 import service_pb2 as tx_s
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message
from tendermint.p2p import types_pb2 as p2p
from tendermint.types import block_pb2, types_pb2

from harness.chain.keys import BECH32_PREFIX
from harness.cometbft.rfc3339 import parse_rfc3339_ns
from harness.model.simnet import encoding as enc
from harness.model.simnet.errors import AbciError, MethodError, invalid_argument, not_found
from harness.model.simnet.query import QueryParseError, parse_query
from harness.model.simnet.routes import Routes, paginate
from harness.model.simnet.search import SearchError
from harness.model.simnet.store import Store

if TYPE_CHECKING:
    from harness.model.simnet.node import Node
    from harness.model.simnet.search import IndexedTx

TX = "/cosmos.tx.v1beta1.Service/{}"
TM = "/cosmos.base.tendermint.v1beta1.Service/{}"
COSMOS_SDK_VERSION = "v0.53.3"


def _id_proto(block_id: dict) -> types_pb2.BlockID:
    out = types_pb2.BlockID(hash=bytes.fromhex(block_id["hash"]))
    out.part_set_header.total = block_id["parts"]["total"]
    out.part_set_header.hash = bytes.fromhex(block_id["parts"]["hash"])
    return out


def _header_fields(h: dict, target: Message) -> None:
    target.version.block = int(h["version"]["block"])  # type: ignore[attr-defined]
    target.chain_id, target.height = h["chain_id"], int(h["height"])  # type: ignore[attr-defined]
    target.time.FromNanoseconds(parse_rfc3339_ns(h["time"]))  # type: ignore[attr-defined]
    target.last_block_id.CopyFrom(_id_proto(h["last_block_id"]))  # type: ignore[attr-defined]
    for name in (
        "last_commit_hash",
        "data_hash",
        "validators_hash",
        "next_validators_hash",
        "consensus_hash",
        "app_hash",
        "last_results_hash",
        "evidence_hash",
    ):
        setattr(target, name, bytes.fromhex(h[name]))


def _commit(c: dict) -> types_pb2.Commit:
    out = types_pb2.Commit(height=int(c["height"]), round=c["round"], block_id=_id_proto(c["block_id"]))
    for s in c["signatures"]:
        sig = out.signatures.add(block_id_flag=s["block_id_flag"], validator_address=bytes.fromhex(s["validator_address"]))
        sig.timestamp.FromNanoseconds(parse_rfc3339_ns(s["timestamp"]))
        sig.signature = enc.b64decode(s["signature"])
    return out


def block_protos(block: enc.Block) -> tuple[types_pb2.BlockID, block_pb2.Block, sdk_types.Block]:
    """(block_id, tendermint Block, SDK Block with a bech32 valcons proposer) for the tendermint service."""
    j = block.json
    tm = block_pb2.Block()
    _header_fields(j["header"], tm.header)
    tm.header.proposer_address = bytes.fromhex(j["header"]["proposer_address"])
    tm.data.txs.extend(block.txs)
    tm.last_commit.CopyFrom(_commit(j["last_commit"]))
    sdk = sdk_types.Block()
    _header_fields(j["header"], sdk.header)
    sdk.header.proposer_address = valcons(bytes.fromhex(j["header"]["proposer_address"]))
    sdk.data.CopyFrom(tm.data)
    sdk.last_commit.CopyFrom(tm.last_commit)
    return _id_proto(block.block_id), tm, sdk


def valcons(raw: bytes) -> str:
    return bech32.bech32_encode(BECH32_PREFIX + "valcons", bech32.convertbits(raw, 8, 5))


def tx_response(it: IndexedTx, block_time: str) -> abci_pb2.TxResponse:
    r = it.result
    out = abci_pb2.TxResponse(
        height=it.height,
        txhash=enc.hexu(it.hash),
        codespace=r.codespace,
        code=r.code,  # type: ignore[attr-defined]
        data=r.data.hex().upper(),
        raw_log=r.log,
        gas_wanted=r.gas_wanted,
        gas_used=r.gas_used,
        timestamp=block_time,  # type: ignore[attr-defined]
    )
    out.tx.CopyFrom(Any(type_url="/cosmos.tx.v1beta1.Tx", value=_tx_proto(it.raw).SerializeToString()))
    for e in r.events:  # type: ignore[attr-defined]
        ev = out.events.add(type=e.type)
        for k, v in e.attributes:
            ev.attributes.add(key=k, value=v, index=True)
    return out


def _tx_proto(raw: bytes) -> tx_pb2.Tx:
    txraw = tx_pb2.TxRaw.FromString(raw)
    return tx_pb2.Tx(
        body=tx_pb2.TxBody.FromString(txraw.body_bytes),
        auth_info=tx_pb2.AuthInfo.FromString(txraw.auth_info_bytes),
        signatures=txraw.signatures,
    )


class Services:
    def __init__(self, node: Node) -> None:
        self.node = node

    # -- cosmos.tx.v1beta1.Service ---------------------------------------------------------
    def simulate(self, req: Message, store: Store) -> Message:
        raw = req.tx_bytes  # type: ignore[attr-defined]
        if not raw and req.HasField("tx"):  # type: ignore[attr-defined]
            t = req.tx  # type: ignore[attr-defined]
            raw = tx_pb2.TxRaw(
                body_bytes=t.body.SerializeToString(), auth_info_bytes=t.auth_info.SerializeToString(), signatures=t.signatures
            ).SerializeToString()
        if not raw:
            raise invalid_argument("empty txBytes is not allowed")
        res, responses = self.node.txp.simulate(raw, self.node.height)
        if res.code:
            raise AbciError("sdk", 6, f"rpc error: code = Unknown desc = {res.log} with gas used: '{res.gas_used}'")
        out = tx_s.SimulateResponse()
        out.gas_info.gas_wanted, out.gas_info.gas_used = res.gas_wanted, res.gas_used
        out.result.msg_responses.extend(responses)
        out.result.data = abci_pb2.TxMsgData(msg_responses=responses).SerializeToString()
        for e in res.events:
            ev = out.result.events.add(type=e.type)
            for k, v in e.attributes:
                ev.attributes.add(key=k, value=v, index=True)
        return out

    def _block_time(self, height: int) -> str:
        b = self.node.blocks.get(height)
        return enc.rfc3339(b.time_ns) if b else ""

    def get_tx(self, req: Message, store: Store) -> Message:
        h = req.hash  # type: ignore[attr-defined]
        if not h:
            raise invalid_argument("tx hash cannot be empty")
        try:
            it = self.node.tx_index.get(binascii.unhexlify(h))
        except (binascii.Error, ValueError):
            it = None
        if it is None:
            raise not_found(f"tx not found: {h[:80]}")
        return tx_s.GetTxResponse(tx=_tx_proto(it.raw), tx_response=tx_response(it, self._block_time(it.height)))

    def broadcast_tx(self, req: Message, store: Store) -> Message:
        raw, mode = req.tx_bytes, req.mode  # type: ignore[attr-defined]
        if not raw:
            raise invalid_argument("invalid empty tx")
        if mode not in (tx_s.BROADCAST_MODE_SYNC, tx_s.BROADCAST_MODE_ASYNC):
            raise invalid_argument(f"unsupported broadcast mode {tx_s.BroadcastMode.Name(mode) if mode in (0, 1) else mode}")
        try:
            digest, res = self.node.admit(raw)
        except MethodError as e:
            raise AbciError("sdk", 19 if "cache" in str(e) else 20, str(e)) from None
        out = abci_pb2.TxResponse(txhash=enc.hexu(digest), code=res.code, codespace=res.codespace, raw_log=res.log)
        return tx_s.BroadcastTxResponse(tx_response=out)

    def get_txs_event(self, req: Message, store: Store) -> Message:
        text = req.query or " AND ".join(req.events)  # type: ignore[attr-defined]
        if not text:
            raise invalid_argument("query cannot be empty")
        try:
            found = self.node.tx_index.search(parse_query(text))
        except (QueryParseError, SearchError) as e:
            raise invalid_argument(str(e)) from None
        if req.order_by == 2:  # type: ignore[attr-defined]
            found.reverse()
        page, limit = int(req.page) or 1, int(req.limit) or 100  # type: ignore[attr-defined]
        chunk = found[(page - 1) * limit : page * limit]
        out = tx_s.GetTxsEventResponse(total=len(found))
        for it in chunk:
            out.txs.append(_tx_proto(it.raw))
            out.tx_responses.append(tx_response(it, self._block_time(it.height)))
        return out

    # -- cosmos.base.tendermint.v1beta1.Service ----------------------------------------------
    def node_info(self, req: Message, store: Store) -> Message:
        n = self.node
        st = enc.node_info(n.node_id, n.genesis.chain_id, n.genesis.moniker, n.rpc_address)
        info = p2p.DefaultNodeInfo(
            default_node_id=st["id"],
            listen_addr=st["listen_addr"],
            network=st["network"],
            version=st["version"],
            channels=bytes.fromhex(st["channels"]),
            moniker=st["moniker"],
        )
        info.protocol_version.p2p, info.protocol_version.block, info.protocol_version.app = 8, 11, 0
        info.other.tx_index, info.other.rpc_address = st["other"]["tx_index"], st["other"]["rpc_address"]
        app = tm_q.VersionInfo(
            name="inference", app_name="inferenced", version="simnet", go_version="python", cosmos_sdk_version=COSMOS_SDK_VERSION
        )
        return tm_q.GetNodeInfoResponse(default_node_info=info, application_version=app)

    def latest_block(self, req: Message, store: Store) -> Message:
        block_id, tm, sdk = block_protos(self.node.block_at(None))
        return tm_q.GetLatestBlockResponse(block_id=block_id, block=tm, sdk_block=sdk)

    def block_by_height(self, req: Message, store: Store) -> Message:
        h = req.height  # type: ignore[attr-defined]
        if h > self.node.height:
            raise invalid_argument("requested block height is bigger then the chain length")
        if h < 1:
            raise invalid_argument(f"height must be greater than 0, but got {h}")
        try:
            block = self.node.block_at(h)
        except MethodError as e:
            raise invalid_argument(str(e)) from None
        block_id, tm, sdk = block_protos(block)
        return tm_q.GetBlockByHeightResponse(block_id=block_id, block=tm, sdk_block=sdk)

    def validator_set(self, req: Message, store: Store) -> Message:
        height = getattr(req, "height", 0) or self.node.height
        if height > self.node.height:
            raise invalid_argument("requested block height is bigger then the chain length")
        vals = sorted(self.node.genesis.validators, key=lambda v: (-v.power, enc.validator_address(v)))
        chunk, page = paginate(vals, req.pagination)  # type: ignore[attr-defined]
        cls = (
            tm_q.GetLatestValidatorSetResponse
            if isinstance(req, tm_q.GetLatestValidatorSetRequest)
            else tm_q.GetValidatorSetByHeightResponse
        )
        out = cls(block_height=height, pagination=page)
        for v in chunk:
            pub = Any(type_url="/cosmos.crypto.secp256k1.PubKey", value=keys_pb2.PubKey(key=v.pub_key).SerializeToString())
            out.validators.add(address=valcons(bytes.fromhex(enc.validator_address(v))), pub_key=pub, voting_power=v.power)
        return out

    def table(self) -> Routes:
        s = self
        return {
            TX.format("Simulate"): (tx_s.SimulateRequest, s.simulate),
            TX.format("GetTx"): (tx_s.GetTxRequest, s.get_tx),
            TX.format("BroadcastTx"): (tx_s.BroadcastTxRequest, s.broadcast_tx),
            TX.format("GetTxsEvent"): (tx_s.GetTxsEventRequest, s.get_txs_event),
            TM.format("GetNodeInfo"): (tm_q.GetNodeInfoRequest, s.node_info),
            TM.format("GetSyncing"): (tm_q.GetSyncingRequest, lambda r, _: tm_q.GetSyncingResponse(syncing=False)),
            TM.format("GetLatestBlock"): (tm_q.GetLatestBlockRequest, s.latest_block),
            TM.format("GetBlockByHeight"): (tm_q.GetBlockByHeightRequest, s.block_by_height),
            TM.format("GetLatestValidatorSet"): (tm_q.GetLatestValidatorSetRequest, s.validator_set),
            TM.format("GetValidatorSetByHeight"): (tm_q.GetValidatorSetByHeightRequest, s.validator_set),
        }


def routes(node: Node) -> Routes:
    return Services(node).table()
