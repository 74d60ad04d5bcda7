"""The one handle every backend returns. Scenarios only ever see this; they never know the backend.

testnet.endpoints.chain_rpc            http://127.0.0.1:PORT   CometBFT JSON-RPC + /websocket (what the harness uses)
testnet.endpoints.api_chain_rpc        what the API node is pointed at (the chaos proxy when one is in front)
testnet.endpoints.api_public           http://127.0.0.1:PORT   POST /v1/chat/completions, GET /v1/status
testnet.endpoints.api_admin            http://127.0.0.1:PORT   /admin/v1/nodes ...
testnet.mlnodes[i]                     MLNode mocks: id, ports, WireMock admin URL per version (side-by-side) or one
testnet.stop_api() / start_api()       API node down/up (restart catch-up scenarios)
testnet.logs()                         {component: log file path} for the failure bundle
testnet.close()                        tear everything down (idempotent; also on failure and Ctrl-C)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class MLNodeEndpoint:
    """One MLNode as the API node sees it, plus where to read what it received."""

    id: str
    host: str
    poc_port: int
    inference_port: int
    # WireMock admin base URLs that journal this node's traffic. Single topology: {"*": url} (one WireMock
    # per port; both ports may share one). Side-by-side: {version: url} for the WireMock behind nginx.
    journals: dict[str, str]
    poc_segment: str = ""
    inference_segment: str = ""
    models: tuple[str, ...] = ("Qwen/Qwen2.5-7B-Instruct",)
    max_concurrent: int = 10

    def registration(self) -> dict:
        """The JSON body of POST /admin/v1/nodes (upstream InferenceNodeConfig field names)."""
        return {
            "id": self.id,
            "host": self.host,
            "poc_port": self.poc_port,
            "poc_segment": self.poc_segment,
            "inference_port": self.inference_port,
            "inference_segment": self.inference_segment,
            "max_concurrent": self.max_concurrent,
            "models": {m: {"args": []} for m in self.models},
            "hardware": [],
        }


@dataclass(frozen=True)
class Endpoints:
    chain_rpc: str
    api_chain_rpc: str
    api_public: str
    api_admin: str
    api_callback: str = ""
    chaos_control: str | None = None
    nginx: str | None = None

    @property
    def chain_ws(self) -> str:
        return self.chain_rpc.replace("http://", "ws://", 1).rstrip("/") + "/websocket"


@dataclass
class TestnetInfo:
    """Static facts about a running testnet that scenarios need (block time, versions, profile contract)."""

    __test__ = False
    backend: str
    chain_id: str
    block_time_s: float
    start_version: str
    api_profile: str
    topology: str
    validator_mnemonics: list[str] = field(default_factory=list)
    # "reference": our API node (has the harness-only debug endpoints, e.g. the PoC trigger); "upstream": Gonka's
    # decentralized-api image; "unknown": an external testnet
    api_kind: str = "reference"


class Testnet(Protocol):
    info: TestnetInfo
    endpoints: Endpoints
    mlnodes: list[MLNodeEndpoint]

    def stop_api(self) -> None: ...
    def start_api(self) -> None: ...
    def logs(self) -> dict[str, Path]: ...
    def close(self) -> None: ...
