"""MLNode HTTP client with the upstream URL rules.

    base_url(host, port, segment, version) -> "http://host:port/<version><segment>"   (unversioned when version == "")
    join_path(base, "/api/v1/state")        -> Go url.JoinPath semantics (path.Join cleaning, trailing '/' kept)

POSTs send a JSON body without a Content-Type header and ignore the HTTP status, as upstream does
(utils.SendPostJsonRequest); GET state / pow/status / health must answer 200.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from harness.model.apinode.config import NodeConfig
from harness.validate import shown
from harness.versions import is_version

STATES = ("POW", "INFERENCE", "TRAIN", "STOPPED")

# PoC InitDto constants (decentralized-api/mlnodeclient/poc.go)
POC_PARAMS = {
    "dim": 1792, "n_layers": 64, "n_heads": 64, "n_kv_heads": 64, "vocab_size": 8196, "ffn_dim_multiplier": 10.0,
    "multiple_of": 8192, "norm_eps": 1e-5, "rope_theta": 10000, "use_scaled_rope": False, "seq_len": 256,
}  # fmt: skip
R_TARGET = 1.4013564660458173
FRAUD_THRESHOLD = 1e-7


def clean_path(p: str) -> str:
    """Go path.Clean: collapse '//', drop '.', resolve '..'; '' -> '.'."""
    if not p:
        return "."
    rooted = p.startswith("/")
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    res = ("/" if rooted else "") + "/".join(out)
    return res or "."


def join_path(base: str, *elems: str) -> str:
    """Go url.JoinPath(base, elems...)."""
    parts = urlsplit(base)
    first = parts.path
    items = [first, *elems]
    if not first.startswith("/"):
        items[0] = "/" + first
        p = clean_path("/".join(items))[1:]
    else:
        p = clean_path("/".join(items))
    if items[-1].endswith("/") and not p.endswith("/"):
        p += "/"
    if p and not p.startswith("/") and parts.netloc:
        p = "/" + p
    return urlunsplit((parts.scheme, parts.netloc, p, parts.query, parts.fragment))


def base_url(host: str, port: int, segment: str, version: str) -> str:
    """Upstream MLNodeURL: the version comes before the segment; no version -> unversioned. A version that is not
    vMAJOR.MINOR.PATCH never reaches a URL (it could climb out of the /<version>/ namespace)."""
    if not version:
        return f"http://{host}:{port}{segment}"
    if not is_version(version):
        raise MLNodeError(f"refusing to build an MLNode URL with version {shown(version)}: not vMAJOR.MINOR.PATCH")
    return f"http://{host}:{port}/{version}{segment}"


def poc_url(node: NodeConfig, version: str) -> str:
    return base_url(node.host, node.poc_port, node.poc_segment, version)


def inference_url(node: NodeConfig, version: str) -> str:
    return base_url(node.host, node.inference_port, node.inference_segment, version)


class MLNodeError(Exception):
    """A GET that must answer 200 did not, or the MLNode was unreachable."""


@dataclass
class MLNodeClient:
    """One node's client at one version (upstream mlnodeclient.Client built by NewNodeClient)."""

    node: NodeConfig
    version: str
    session: aiohttp.ClientSession
    timeout_s: float = 10.0

    @property
    def poc_base(self) -> str:
        return poc_url(self.node, self.version)

    @property
    def inference_base(self) -> str:
        return inference_url(self.node, self.version)

    async def _get_json(self, base: str, path: str) -> Any:
        url = join_path(base, path)
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as r:
                text = await r.text()
                if r.status != 200:
                    raise MLNodeError(f"GET {url}: HTTP {r.status}" + (f" {text[:120]}" if text else ""))
        except (aiohttp.ClientError, TimeoutError) as e:
            raise MLNodeError(f"GET {url}: {type(e).__name__}: {e}") from None
        try:
            return json.loads(text) if text else {}
        except ValueError:
            raise MLNodeError(f"GET {url}: body is not JSON: {text[:200]!r}") from None

    async def _post(self, path: str, body: Any | None) -> int:
        """POST like upstream: JSON body, no Content-Type, status ignored (returned for logs). Transport errors raise."""
        url = join_path(self.poc_base, path)
        data = json.dumps(body).encode() if body is not None else None
        try:
            async with self.session.post(
                url, data=data, skip_auto_headers=["Content-Type"], timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            ) as r:
                await r.read()
                return r.status
        except (aiohttp.ClientError, TimeoutError) as e:
            raise MLNodeError(f"POST {url}: {type(e).__name__}: {e}") from None

    async def node_state(self) -> str:
        data = await self._get_json(self.poc_base, "/api/v1/state")
        state = data.get("state") if isinstance(data, dict) else None
        return state if state in STATES else "UNKNOWN"

    async def pow_status(self) -> str:
        data = await self._get_json(self.poc_base, "/api/v1/pow/status")
        return str(data.get("status", "")) if isinstance(data, dict) else ""

    async def inference_health(self) -> None:
        await self._get_json(self.inference_base, "/health")

    async def stop(self) -> int:
        return await self._post("/api/v1/stop", None)

    async def inference_up(self, model: str, args: list[str]) -> int:
        return await self._post("/api/v1/inference/up", {"model": model, "dtype": "float16", "additional_args": list(args)})

    async def init_generate(self, dto: dict[str, Any]) -> int:
        return await self._post("/api/v1/pow/init/generate", dto)

    async def init_validate(self, dto: dict[str, Any]) -> int:
        return await self._post("/api/v1/pow/init/validate", dto)

    async def validate_batch(self, batch: dict[str, Any]) -> int:
        return await self._post("/api/v1/pow/validate", batch)


def init_dto(*, block_hash: str, block_height: int, node_num: int, node_count: int, callback_url: str) -> dict[str, Any]:
    return {
        "block_hash": block_hash,
        "block_height": block_height,
        "public_key": "harness-apinode",
        "batch_size": 100,
        "r_target": R_TARGET,
        "fraud_threshold": FRAUD_THRESHOLD,
        "params": POC_PARAMS,
        "node_id": node_num,
        "node_count": node_count,
        "url": callback_url.rstrip("/") + "/v1/poc-batches",
    }


def proof_batch(*, block_hash: str, block_height: int, node_num: int) -> dict[str, Any]:
    return {
        "public_key": "harness-apinode",
        "block_hash": block_hash,
        "block_height": block_height,
        "nonces": [1, 2, 3],
        "dist": [0.5, 0.6, 0.7],
        "node_id": node_num,
    }
