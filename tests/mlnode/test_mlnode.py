"""MLNode mocks on real WireMock: endpoints per version prefix, per-version state, webhooks, journal.

Runs against the 2.35.1 jar bundled in PyPI `wiremock`; set HARNESS_WIREMOCK3_JAR to a
wiremock-standalone-3.x jar (e.g. from `npm pack wiremock@3.9.1`, file package/build/*.jar) to run
every test against 3.x as well.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from harness.errors import ConfigError
from harness.mlnode.journal import Journal
from harness.mlnode.mappings import BODY_FILES, REPO_MOCKS, write_mappings
from harness.mlnode.wiremock import WireMockServer, webhook_jar_source_sha256, webhook_source_sha256
from harness.util.process import live_processes
from harness.util.wait import wait_until

PREFIXES = ["/v0.3.8", "/v0.3.9", "/v0.3.10", ""]
JARS = ["bundled"] + (["wiremock3"] if os.environ.get("HARNESS_WIREMOCK3_JAR") else [])


class Receiver:
    """A local HTTP server that records webhook POSTs (path, JSON body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        received = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, path: str, timeout_s: float = 10.0, match=lambda body: True) -> dict:
        return wait_until(
            lambda: next((b for p, b in self.calls if p == path and match(b)), None),
            timeout_s=timeout_s,
            what=f"webhook POST {path} at {self.url}",
            evidence=lambda: f"received so far: {self.calls}",
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _jar(kind: str) -> str | None:
    return os.environ["HARNESS_WIREMOCK3_JAR"] if kind == "wiremock3" else None


@pytest.fixture(scope="module", params=JARS)
def wm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WireMockServer]:
    """One WireMock per module (and jar) serving the committed mocks/mlnode files."""
    logs = tmp_path_factory.mktemp("wm-logs")
    with WireMockServer(REPO_MOCKS, name=f"wm-{request.param}", log_dir=logs, jar=_jar(request.param)) as server:
        yield server
    assert not server.is_running()


@pytest.fixture(scope="module")
def wm_fixed_callback(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WireMockServer]:
    root = write_mappings(
        tmp_path_factory.mktemp("wm-fixed"), ["v0.3.9"], validation_callback_url=receiver.url + "/v1/poc-batches"
    )
    with WireMockServer(root, name="wm-fixed-callback", log_dir=root / "logs") as server:
        yield server


@pytest.fixture
def journal(wm: WireMockServer) -> Iterator[Journal]:
    j = Journal(wm.admin_url)
    j.reset()
    yield j
    j.close()


def post(url: str, body: dict | None = None) -> requests.Response:
    """POST like upstream's API node: JSON bytes without a Content-Type header (None = no body at all)."""
    return requests.post(url, data=json.dumps(body).encode() if body is not None else None, timeout=10)


def state(wm: WireMockServer, prefix: str) -> str:
    r = requests.get(f"{wm.url}{prefix}/api/v1/state", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["state"]


def test_committed_mocks_are_the_generator_output(tmp_path: Path) -> None:
    write_mappings(tmp_path)
    generated = {p.name: p.read_text() for p in (tmp_path / "mappings").iterdir()}
    committed = {p.name: p.read_text() for p in (REPO_MOCKS / "mappings").iterdir()}
    assert generated == committed, "mocks/mlnode/mappings is stale: run `python -m harness.mlnode.mappings mocks/mlnode`"
    assert {p.name for p in (tmp_path / "__files").iterdir()} == set(BODY_FILES)
    stubs = [m for text in generated.values() for m in json.loads(text)["mappings"]]
    assert len({m["id"] for m in stubs}) == len({m["name"] for m in stubs}) == len(stubs)  # stable, unique ids
    for name in BODY_FILES:
        assert (tmp_path / "__files" / name).read_bytes() == (REPO_MOCKS / "__files" / name).read_bytes()


def test_webhook_extension_jar_is_built_from_the_committed_source() -> None:
    assert webhook_jar_source_sha256() == webhook_source_sha256(), (
        "mocks/mlnode/extensions/harness-webhook.jar is stale: run harness.mlnode.wiremock.build_webhook_extension()"
    )


def test_write_mappings_rejects_bad_versions(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'0.3.9' is not a valid MLNode version"):
        write_mappings(tmp_path, ["v0.3.8", "0.3.9"])


@pytest.mark.parametrize("prefix", PREFIXES)
def test_management_state_machine(wm: WireMockServer, journal: Journal, prefix: str) -> None:
    base = f"{wm.url}{prefix}/api/v1"
    assert state(wm, prefix) == "STOPPED"  # initial: the API's reconcile path runs stop + inference/up
    assert requests.get(f"{base}/pow/status", timeout=10).json() == {"status": "IDLE", "is_model_initialized": False}
    assert requests.get(f"{wm.url}{prefix}/health", timeout=10).status_code == 503
    assert post(f"{base}/stop").status_code == 200
    assert (
        post(f"{base}/inference/up", {"model": "Qwen/Qwen2.5-7B-Instruct", "dtype": "float16", "additional_args": []}).status_code
        == 200
    )
    assert state(wm, prefix) == "INFERENCE"
    assert requests.get(f"{wm.url}{prefix}/health", timeout=10).status_code == 200
    assert post(f"{base}/pow/init/generate", {"block_height": 1, "node_id": 0}).status_code == 200
    assert state(wm, prefix) == "POW"
    assert requests.get(f"{base}/pow/status", timeout=10).json()["status"] == "GENERATING"
    assert post(f"{base}/inference/up", {"model": "m"}).status_code == 409  # upstream always stops first
    assert post(f"{base}/pow/init/validate", {"block_height": 1}).status_code == 200
    assert state(wm, prefix) == "POW"
    assert requests.get(f"{base}/pow/status", timeout=10).json()["status"] == "VALIDATING"
    assert post(f"{base}/pow/validate", {"nonces": [1], "dist": [0.5]}).status_code == 200
    assert post(f"{base}/train/start", {"train_config": {}, "train_env": {}}).status_code == 200
    assert state(wm, prefix) == "TRAIN"
    assert post(f"{base}/stop").status_code == 200
    assert state(wm, prefix) == "STOPPED"
    assert journal.unmatched() == []
    assert journal.count("POST", f"{prefix}/api/v1/stop") == 2


@pytest.mark.parametrize("prefix", PREFIXES)
def test_inference_endpoints(wm: WireMockServer, journal: Journal, prefix: str) -> None:
    label = prefix.lstrip("/") or "(unversioned)"
    r = post(f"{wm.url}{prefix}/v1/chat/completions", {"model": "Qwen/Qwen2.5-7B-Instruct", "messages": [], "stream": False})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "Qwen/Qwen2.5-7B-Instruct"
    choice = body["choices"][0]
    assert choice["message"]["content"] == f"Response from MLNode {label}"
    assert choice["finish_reason"] == "stop"
    assert choice["logprobs"]["content"][0]["top_logprobs"]
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]

    r = post(f"{wm.url}{prefix}/v1/chat/completions", {"model": "m", "stream": True, "stream_options": {"include_usage": True}})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = [line[len("data: ") :] for line in r.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == f"Response from MLNode {label}"

    r = post(f"{wm.url}{prefix}/tokenize", {"model": "m", "prompt": "hello"})
    assert r.status_code == 200
    tok = r.json()
    assert tok["count"] == len(tok["tokens"])
    assert tok["max_model_len"] > 0
    assert journal.unmatched() == []


def test_any_other_version_answers_statelessly(wm: WireMockServer, journal: Journal) -> None:
    assert state(wm, "/v1.2.3") == "INFERENCE"
    assert post(f"{wm.url}/v1.2.3/api/v1/stop").status_code == 200
    assert state(wm, "/v1.2.3") == "INFERENCE"
    assert requests.get(f"{wm.url}/v1.2.3/health", timeout=10).status_code == 200
    chat = post(f"{wm.url}/v1.2.3/v1/chat/completions", {"model": "m"}).json()
    assert chat["choices"][0]["message"]["content"] == "Response from MLNode v1.2.3"
    assert post(f"{wm.url}/v1.2.3/tokenize", {"model": "m"}).json()["count"] == 10


def test_state_is_per_version(wm: WireMockServer, journal: Journal) -> None:
    for prefix in PREFIXES:
        post(f"{wm.url}{prefix}/api/v1/inference/up", {"model": "m"})
    assert post(f"{wm.url}/v0.3.8/api/v1/stop").status_code == 200
    assert {p: state(wm, p) for p in PREFIXES} == {
        "/v0.3.8": "STOPPED",
        "/v0.3.9": "INFERENCE",
        "/v0.3.10": "INFERENCE",
        "": "INFERENCE",
    }
    post(f"{wm.url}/v0.3.9/api/v1/pow/init/generate", {"block_height": 3, "node_id": 1})
    assert {p: state(wm, p) for p in PREFIXES} == {
        "/v0.3.8": "STOPPED",
        "/v0.3.9": "POW",
        "/v0.3.10": "INFERENCE",
        "": "INFERENCE",
    }
    journal.reset()  # scenarios back to the initial state
    assert {p: state(wm, p) for p in PREFIXES} == dict.fromkeys(PREFIXES, "STOPPED")


def test_posts_without_content_type_and_empty_stop_match(wm: WireMockServer, journal: Journal) -> None:
    assert post(f"{wm.url}/v0.3.9/api/v1/stop").status_code == 200
    assert post(f"{wm.url}/v0.3.9/api/v1/inference/up", {"model": "m"}).status_code == 200
    logged = journal.requests()
    assert [e["request"]["url"] for e in logged] == ["/v0.3.9/api/v1/stop", "/v0.3.9/api/v1/inference/up"]
    for e in logged:
        assert e["wasMatched"] is True
        assert not any(h.lower() == "content-type" for h in e["request"]["headers"]), e["request"]["headers"]
    assert logged[0]["request"]["body"] == ""
    assert [e["stubMapping"]["name"] for e in logged] == ["v0.3.9 stop", "v0.3.9 inference/up from STOPPED"]


@pytest.mark.parametrize("prefix", ["/v0.3.10", "", "/v2.0.0"])
def test_generate_webhook_posts_proof_batch(wm: WireMockServer, journal: Journal, receiver: Receiver, prefix: str) -> None:
    cb = f"/v1/poc-batches/{wm.name}/{prefix.strip('/') or 'none'}"
    init = {
        "block_hash": "ABC123",
        "block_height": 42,
        "public_key": "pk-1",
        "node_id": 7,
        "node_count": 1,
        "url": receiver.url + cb,
    }
    assert post(f"{wm.url}{prefix}/api/v1/pow/init/generate", init).status_code == 200
    batch = receiver.wait_for(cb + "/generated")
    assert {k: batch[k] for k in ("public_key", "block_hash", "block_height", "node_id")} == {
        "public_key": "pk-1",
        "block_hash": "ABC123",
        "block_height": 42,
        "node_id": 7,
    }
    assert len(batch["nonces"]) == len(batch["dist"]) == 10


def test_validate_webhook_to_body_url(wm: WireMockServer, journal: Journal, receiver: Receiver) -> None:
    cb = f"/v1/poc-batches/{wm.name}/validate-body-url"
    proof = {"public_key": "pk-2", "block_hash": "H", "block_height": 5, "nonces": [3, 4], "dist": [0.3, 0.4], "node_id": 0}
    assert post(f"{wm.url}/v0.3.9/api/v1/pow/validate", {**proof, "url": receiver.url + cb}).status_code == 200
    validated = receiver.wait_for(cb + "/validated")
    assert validated["nonces"] == [3, 4]
    assert validated["received_dist"] == [0.3, 0.4]
    assert validated["fraud_detected"] is False


def test_validate_webhook_fixed_callback(wm_fixed_callback: WireMockServer, receiver: Receiver) -> None:
    """Upstream's API sends the ProofBatch without a url: the fixed callback (like upstream's mock) is used."""
    proof = {"public_key": "pk-fixed", "block_hash": "H2", "block_height": 9, "nonces": [1], "dist": [0.9], "node_id": 0}
    assert post(f"{wm_fixed_callback.url}/v0.3.9/api/v1/pow/validate", proof).status_code == 200
    validated = receiver.wait_for("/v1/poc-batches/validated")
    assert validated["public_key"] == "pk-fixed"
    assert validated["probability_honest"] == 0.99


def test_validate_webhook_without_node_id(wm_fixed_callback: WireMockServer, receiver: Receiver) -> None:
    """PR #228's API node sends pow/validate without node_id: the ValidatedBatch is still valid JSON, node_id 0."""
    proof = {"public_key": "pk-no-id", "block_hash": "H3", "block_height": 11, "nonces": [7], "dist": [0.7]}
    assert post(f"{wm_fixed_callback.url}/v0.3.9/api/v1/pow/validate", proof).status_code == 200
    validated = receiver.wait_for("/v1/poc-batches/validated", match=lambda b: b.get("public_key") == "pk-no-id")
    assert validated["node_id"] == 0
    assert validated["nonces"] == [7]


def test_unmatched_requests_are_404_and_journaled(wm: WireMockServer, journal: Journal) -> None:
    bad = ["/v0.3.9/api/v1/nope", "/v0.3/api/v1/state", "/0.3.9/api/v1/state", "/v0.3.9/v0.3.9/api/v1/state"]
    for path in bad:
        assert requests.get(wm.url + path, timeout=10).status_code == 404, path
    assert post(f"{wm.url}/v0.3.9/api/v1/state").status_code == 404  # wrong method
    assert [r["url"] for r in journal.unmatched()] == [*bad, "/v0.3.9/api/v1/state"]
    entries = journal.requests()
    assert len(entries) == 5
    assert all(e["wasMatched"] is False for e in entries)


def test_journal_since_count_dump_and_reset(wm: WireMockServer, journal: Journal, tmp_path: Path) -> None:
    for _ in range(3):
        requests.get(f"{wm.url}/v0.3.8/api/v1/state", timeout=10)
    first = journal.requests()
    wait_until(lambda: time.time() * 1000 > first[-1]["request"]["loggedDate"] + 2, timeout_s=1, what="clock past last entry")
    since_ms = int(time.time() * 1000)
    for _ in range(2):
        requests.get(f"{wm.url}/v0.3.9/api/v1/state", timeout=10)
    later = journal.requests(since_ms=since_ms)
    assert [e["request"]["url"] for e in later] == ["/v0.3.9/api/v1/state"] * 2
    assert all(e["request"]["loggedDate"] >= since_ms for e in later)
    edge = later[0]["request"]["loggedDate"]
    assert journal.requests(since_ms=edge)[0]["request"]["loggedDate"] == edge  # inclusive at the boundary
    assert journal.count("GET", "/v0.3.8/api/v1/state") == 3
    assert journal.count("GET", "/v0.3.10/api/v1/state") == 0
    raw = json.loads(journal.dump(tmp_path / "journal.json").read_text())
    assert len(raw["requests"]) == 5
    assert {"request", "wasMatched"} <= set(raw["requests"][0])
    journal.reset()
    assert journal.requests() == []


def test_process_is_supervised(wm: WireMockServer) -> None:
    assert wm.is_running()
    assert wm.proc in live_processes()
    assert wm.start_s is not None
    assert wm.start_s > 0
    assert "port:" in wm.logs() or "started" in wm.logs().lower()


def test_cli_write_dump_and_bad_input(
    wm: WireMockServer, journal: Journal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["mocks", "write", str(tmp_path / "root"), "--versions", "v0.4.0,v0.4.1"]) == 0
    assert sorted(p.name for p in (tmp_path / "root" / "mappings").iterdir()) == [
        "mlnode-any-version.json", "mlnode-unversioned.json", "mlnode-v0.4.0.json", "mlnode-v0.4.1.json",
    ]  # fmt: skip
    assert main(["mocks", "write", str(tmp_path / "bad"), "--versions", "v0.4.0,0.4.1"]) == 2
    assert "'0.4.1' is not a valid MLNode version" in capsys.readouterr().err
    requests.get(f"{wm.url}/v0.3.9/api/v1/state", timeout=10)
    assert main(["mocks", "dump", "--admin-url", wm.admin_url, "--out", str(tmp_path / "j.json")]) == 0
    dumped = json.loads((tmp_path / "j.json").read_text())
    assert [e["request"]["url"] for e in dumped["requests"]] == ["/v0.3.9/api/v1/state"]
