"""CometBFT 0.38 wire shapes for simnet (see reference/cometbft-rpc-shapes.md): libs/json rules (int64 as
strings, HexBytes upper hex, []byte base64, RFC3339Nano times without trailing zeros) and the jsonpb form of
ABCI objects (every field present). Blocks are built here too.

Not real consensus: header and block hashes are sha256 over a canonical JSON of the header, and commit
signatures are deterministic 64-byte placeholders; data_hash and last_results_hash are real CometBFT merkle
roots (RFC 6962) over sha256(tx) and the deterministic ExecTxResult bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from harness.model.simnet.genesis import Genesis, Validator
from harness.model.simnet.state import Event
from harness.model.simnet.txs import TxResult

EMPTY_HASH = hashlib.sha256(b"").digest()
BLOCK_PROTOCOL = "11"
COMETBFT_VERSION = "0.38.17"
EMPTY_BLOCK_ID = {"hash": "", "parts": {"total": 0, "hash": ""}}


def rfc3339(ns: int) -> str:
    secs, frac = divmod(ns, 10**9)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{base}.{frac:09d}".rstrip("0").rstrip(".") + "Z" if frac else base + "Z"


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def b64decode(text: str) -> bytes:
    return base64.b64decode(text)


def hexu(data: bytes) -> str:
    return data.hex().upper()


def merkle_root(items: list[bytes]) -> bytes:
    """CometBFT `merkle.HashFromByteSlices`."""
    n = len(items)
    if n == 0:
        return EMPTY_HASH
    if n == 1:
        return hashlib.sha256(b"\x00" + items[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + merkle_root(items[:k]) + merkle_root(items[k:])).digest()


def merkle_aunts(items: list[bytes], index: int) -> list[bytes]:
    """The aunts of leaf `index` from the leaf up (CometBFT's merkle proof)."""
    n = len(items)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if index < k:
        return [*merkle_aunts(items[:k], index), merkle_root(items[k:])]
    return [*merkle_aunts(items[k:], index - k), merkle_root(items[:k])]


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def deterministic_result_bytes(r: TxResult) -> bytes:
    """ExecTxResult{code, data, gas_wanted, gas_used} proto bytes (what CometBFT hashes into last_results_hash)."""
    out = b""
    if r.code:
        out += b"\x08" + _varint(r.code)
    if r.data:
        out += b"\x12" + _varint(len(r.data)) + r.data
    if r.gas_wanted:
        out += b"\x28" + _varint(r.gas_wanted)
    if r.gas_used:
        out += b"\x30" + _varint(r.gas_used)
    return out


def event_json(e: Event) -> dict[str, Any]:
    return {"type": e.type, "attributes": [{"key": k, "value": v, "index": True} for k, v in e.attributes]}


def result_jsonpb(r: TxResult) -> dict[str, Any]:
    """ExecTxResult / ResponseCheckTx through jsonpb: every field, int64 as strings."""
    return {
        "code": r.code,
        "data": b64(r.data) if r.data else None,
        "log": r.log,
        "info": "",
        "gas_wanted": str(r.gas_wanted),
        "gas_used": str(r.gas_used),
        "events": [event_json(e) for e in r.events],
        "codespace": r.codespace,
    }


def result_omitempty(r: TxResult) -> dict[str, Any]:
    """ExecTxResult inside a websocket Tx event (libs/json with omitempty)."""
    out: dict[str, Any] = {}
    if r.code:
        out["code"] = r.code
    if r.data:
        out["data"] = b64(r.data)
    if r.log:
        out["log"] = r.log
    out["gas_wanted"] = str(r.gas_wanted)
    out["gas_used"] = str(r.gas_used)
    if r.events:
        out["events"] = [event_json(e) for e in r.events]
    if r.codespace:
        out["codespace"] = r.codespace
    return out


def events_map(tm_event: str, events: list[Event]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"tm.event": [tm_event]}
    for e in events:
        if not e.type:
            continue
        for k, v in e.attributes:
            if k:
                out.setdefault(f"{e.type}.{k}", []).append(v)
    return out


def validator_address(v: Validator) -> str:
    return hexu(hashlib.new("ripemd160", hashlib.sha256(v.pub_key).digest()).digest())


def pub_key_json(v: Validator) -> dict[str, str]:
    return {"type": "tendermint/PubKeySecp256k1", "value": base64.b64encode(v.pub_key).decode()}


def validators_hash(validators: list[Validator]) -> bytes:
    return merkle_root([v.pub_key + v.power.to_bytes(8, "big") for v in validators])


@dataclass
class Block:
    height: int
    time_ns: int
    txs: list[bytes]
    results: list[TxResult]
    finalize_events: list[Event]
    app_hash: bytes  # state after this block (goes into the next header)
    hash: bytes
    block_id: dict[str, Any]
    json: dict[str, Any]  # the `block` object of /block
    size: int = 0  # block_size of blockchain's block metas (approximate: simnet does not serialize blocks)

    def results_hash(self) -> bytes:
        return merkle_root([deterministic_result_bytes(r) for r in self.results])


def commit_json(block: Block, validators: list[Validator]) -> dict[str, Any]:
    """The commit for `block` (every validator signed; deterministic placeholder signatures)."""
    sigs = [
        {
            "block_id_flag": 2,
            "validator_address": validator_address(v),
            "timestamp": rfc3339(block.time_ns + 1_000_000),
            "signature": b64(hashlib.sha512(block.hash + v.pub_key).digest()),
        }
        for v in validators
    ]
    return {"height": str(block.height), "round": 0, "block_id": block.block_id, "signatures": sigs}


def build_block(
    *,
    chain_id: str,
    height: int,
    time_ns: int,
    txs: list[bytes],
    results: list[TxResult],
    finalize_events: list[Event],
    app_hash: bytes,
    prev: Block | None,
    validators: list[Validator],
) -> Block:
    vhash = hexu(validators_hash(validators))
    if prev is None:
        last_block_id, last_commit = EMPTY_BLOCK_ID, {"height": "0", "round": 0, "block_id": EMPTY_BLOCK_ID, "signatures": []}
        prev_app_hash, last_results = b"", EMPTY_HASH
    else:
        last_block_id, last_commit = prev.block_id, commit_json(prev, validators)
        prev_app_hash, last_results = prev.app_hash, prev.results_hash()
    header = {
        "version": {"block": BLOCK_PROTOCOL},
        "chain_id": chain_id,
        "height": str(height),
        "time": rfc3339(time_ns),
        "last_block_id": last_block_id,
        "last_commit_hash": hexu(hashlib.sha256(json.dumps(last_commit, sort_keys=True).encode()).digest()),
        "data_hash": hexu(merkle_root([hashlib.sha256(t).digest() for t in txs])),
        "validators_hash": vhash,
        "next_validators_hash": vhash,
        "consensus_hash": hexu(hashlib.sha256(b"simnet-consensus-params").digest()),
        "app_hash": hexu(prev_app_hash),
        "last_results_hash": hexu(last_results),
        "evidence_hash": hexu(EMPTY_HASH),
        "proposer_address": validator_address(validators[(height - 1) % len(validators)]),
    }
    block_hash = hashlib.sha256(json.dumps(header, sort_keys=True, separators=(",", ":")).encode()).digest()
    block_id = {"hash": hexu(block_hash), "parts": {"total": 1, "hash": hexu(hashlib.sha256(b"parts" + block_hash).digest())}}
    body = {
        "header": header,
        "data": {"txs": [b64(t) for t in txs]},
        "evidence": {"evidence": []},
        "last_commit": last_commit,
    }
    size = sum(len(t) for t in txs) + 600 + 110 * len(last_commit["signatures"])
    return Block(height, time_ns, txs, results, finalize_events, app_hash, block_hash, block_id, body, size)


def finalize_block_json(block: Block) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if block.finalize_events:
        out["events"] = [event_json(e) for e in block.finalize_events]
    if block.results:
        out["tx_results"] = [result_jsonpb(r) for r in block.results]
    out["validator_updates"] = None
    if block.app_hash:
        out["app_hash"] = b64(block.app_hash)
    return out


def block_results_json(block: Block) -> dict[str, Any]:
    """`block_results`: libs/json without omitempty (nil lists are null); tx results in jsonpb."""
    return {
        "height": str(block.height),
        "txs_results": [result_jsonpb(r) for r in block.results] or None,
        "finalize_block_events": [event_json(e) for e in block.finalize_events] or None,
        "validator_updates": None,
        "consensus_param_updates": None,
        "app_hash": b64(block.app_hash),
    }


CONSENSUS_PARAMS = {
    "block": {"max_bytes": "22020096", "max_gas": "-1"},
    "evidence": {"max_age_num_blocks": "100000", "max_age_duration": "172800000000000", "max_bytes": "1048576"},
    "validator": {"pub_key_types": ["secp256k1"]},
    "version": {"app": "0"},
    "abci": {"vote_extensions_enable_height": "0"},
}


def node_info(node_id: str, chain_id: str, moniker: str, rpc_address: str) -> dict[str, Any]:
    return {
        "protocol_version": {"p2p": "8", "block": BLOCK_PROTOCOL, "app": "0"},
        "id": node_id,
        "listen_addr": "tcp://127.0.0.1:26656",
        "network": chain_id,
        "version": COMETBFT_VERSION,
        "channels": "40202122233038606100",
        "moniker": moniker,
        "other": {"tx_index": "on", "rpc_address": rpc_address},
    }


def genesis_json(genesis: Genesis, genesis_time_ns: int) -> dict[str, Any]:
    """A GenesisDoc for `genesis`: validators with their power, and an app_state with the modules simnet runs."""
    gov = {f: getattr(genesis.gov, f) for f in ("quorum", "threshold", "veto_threshold", "expedited_threshold")}
    return {
        "genesis_time": rfc3339(genesis_time_ns),
        "chain_id": genesis.chain_id,
        "initial_height": "1",
        "consensus_params": CONSENSUS_PARAMS,
        "validators": [
            {"address": validator_address(v), "pub_key": pub_key_json(v), "power": str(v.power), "name": v.name}
            for v in genesis.validators
        ],
        "app_hash": "",
        "app_state": {
            "bank": {
                "balances": [
                    {"address": a, "coins": [{"denom": "ngonka", "amount": str(b)}]} for a, b in genesis.accounts.items()
                ]
            },
            "gov": {
                "params": {
                    **{k: str(v) for k, v in gov.items()},
                    "min_deposit": [{"denom": "ngonka", "amount": str(genesis.min_deposit)}],
                }
            },
            "inference": {"mlnode_version": {"current_version": genesis.initial_mlnode_version}, "partial_upgrade_list": []},
        },
    }
