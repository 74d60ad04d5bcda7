"""Client for the API node's public and admin HTTP surfaces (the model API node and the real decentralized-api).

A real API node accepts a chat request only when it is signed by a funded account it can look up on chain; give the
client a `RequestSigner` and every chat carries the headers a Gonka client sends:

    Authorization        base64 secp256k1 signature of  body + X-Timestamp + transfer address  (sha256, low-S r||s)
    X-Requester-Address  the paying account (its public key must be on chain: it has sent a transaction)
    X-Timestamp          nanoseconds since the epoch; the API node refuses one too far from its latest block time
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from harness.errors import HarnessError

DEFAULT_MODEL = "Qwen/Qwen2.5-7B-Instruct"


@dataclass(frozen=True)
class ChatResult:
    status: int
    content: str
    body: str
    elapsed_ms: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


@dataclass(frozen=True)
class RequestSigner:
    """Signs chat requests as a Gonka client: `key` pays (the requester), `transfer_address` is the API node's own
    account (the transfer agent that will execute or forward the request)."""

    key: Any  # harness.chain.keys.Key
    transfer_address: str

    def headers(self, body: bytes, *, timestamp_ns: int | None = None) -> dict[str, str]:
        ts = timestamp_ns if timestamp_ns is not None else time.time_ns()
        signature = self.key.sign(body + str(ts).encode() + self.transfer_address.encode())
        return {
            "Authorization": base64.b64encode(signature).decode(),
            "X-Requester-Address": self.key.address,
            "X-Timestamp": str(ts),
        }


class ApiClient:
    def __init__(
        self, public_url: str, admin_url: str, *, timeout_s: float = 10.0, signer: RequestSigner | None = None
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.admin_url = admin_url.rstrip("/")
        self.timeout_s = timeout_s
        self.signer = signer
        self.http = requests.Session()

    def with_urls(self, public_url: str, admin_url: str) -> ApiClient:
        """A new client for the same API node at new URLs (after a restart), signing as this one does."""
        return ApiClient(public_url, admin_url, timeout_s=self.timeout_s, signer=self.signer)

    # -- admin ------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, f"{self.admin_url}{path}", json=body, timeout=self.timeout_s)
        if r.status_code >= 400:
            raise HarnessError(f"API admin {method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def nodes(self) -> list[dict]:
        return self._admin("GET", "/admin/v1/nodes")

    def add_node(self, node: dict) -> dict:
        return self._admin("POST", "/admin/v1/nodes", node)

    def delete_node(self, node_id: str) -> None:
        self._admin("DELETE", f"/admin/v1/nodes/{node_id}")

    def disable(self, node_id: str) -> dict:
        return self._admin("POST", f"/admin/v1/nodes/{node_id}/disable")

    def enable(self, node_id: str) -> dict:
        return self._admin("POST", f"/admin/v1/nodes/{node_id}/enable")

    def chain_pool(self) -> dict:
        return self._admin("GET", "/admin/v1/debug/chain-pool")

    def poc_cycle(self) -> dict:
        """Reference API node only: run one PoC cycle (generate, validate init, validate, back to inference)."""
        return self._admin("POST", "/admin/v1/debug/poc-cycle")

    def poc_batches(self) -> dict:
        return self._admin("GET", "/admin/v1/debug/poc-batches")

    def debug_state(self) -> dict:
        return self._admin("GET", "/admin/v1/debug/state")

    # -- public -----------------------------------------------------------------------------
    def status(self) -> dict:
        r = self.http.get(f"{self.public_url}/v1/status", timeout=self.timeout_s)
        r.raise_for_status()
        return r.json()

    def versions(self) -> dict:
        r = self.http.get(f"{self.public_url}/v1/versions", timeout=self.timeout_s)
        r.raise_for_status()
        return r.json()

    def chat(
        self, prompt: str = "Say hi", *, model: str = DEFAULT_MODEL, stream: bool = False, timeout_s: float | None = None
    ) -> ChatResult:
        """POST /v1/chat/completions through the API node; never raises on HTTP or transport errors."""
        request = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0.8,
            "seed": -25,
            "max_tokens": 50,
            "stream": stream,
        }
        body = json.dumps(request).encode()
        headers = {"Content-Type": "application/json", **(self.signer.headers(body) if self.signer else {})}
        t0 = time.monotonic()
        try:
            r = self.http.post(
                f"{self.public_url}/v1/chat/completions",
                data=body,
                headers=headers,
                timeout=timeout_s or self.timeout_s,
                stream=stream,
            )
            text = r.text
        except requests.RequestException as e:
            return ChatResult(0, "", "", (time.monotonic() - t0) * 1000, error=f"{type(e).__name__}: {e}")
        elapsed = (time.monotonic() - t0) * 1000
        return ChatResult(
            r.status_code,
            extract_content(text, stream),
            text,
            elapsed,
            error="" if r.status_code == 200 else f"HTTP {r.status_code}",
        )


def extract_content(text: str, stream: bool) -> str:
    """The assistant text of a chat.completion JSON body, or the concatenated deltas of an SSE stream."""
    if not stream:
        try:
            return json.loads(text)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ""
    parts: list[str] = []
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            delta = json.loads(data)["choices"][0].get("delta", {})
        except (ValueError, KeyError, IndexError, TypeError):
            continue
        parts.append(delta.get("content") or "")
    return "".join(parts)
