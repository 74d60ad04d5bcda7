"""Side-by-side topology (real nginx in front of one real WireMock per version), start_many, and the
clear errors for missing Java / nginx."""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.errors import ConfigError, DependencyMissing, StartupError
from harness.mlnode.journal import Journal
from harness.mlnode.mappings import write_mappings
from harness.mlnode.nginx import NginxSideBySide, find_nginx, render_config
from harness.mlnode.wiremock import WireMockServer, find_java, java_major_version, start_many
from harness.util.process import live_processes

VERSIONS = ["v0.3.8", "v0.3.9", "v0.3.10"]


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WireMockServer]]:
    """One WireMock per version, started concurrently; each knows which version it is."""
    servers = {}
    for v in VERSIONS:
        root = write_mappings(tmp_path_factory.mktemp(f"wm-{v}"), VERSIONS, unversioned_as=v)
        servers[v] = WireMockServer(root, name=f"wm-{v}", log_dir=root / "logs")
    start_many(servers.values())
    yield servers
    for s in servers.values():
        s.stop()
    assert not any(p in live_processes() for p in (s.proc for s in servers.values()))


@pytest.fixture(scope="module")
def nginx(backends: dict[str, WireMockServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxSideBySide]:
    with NginxSideBySide({v: s.url for v, s in backends.items()}, "v0.3.8", log_dir=tmp_path_factory.mktemp("nginx")) as n:
        yield n
    assert not n.proc.is_running()


@pytest.fixture
def journals(backends: dict[str, WireMockServer], nginx: NginxSideBySide) -> dict[str, Journal]:
    nginx.set_current("v0.3.8")
    out = {v: Journal(s.admin_url) for v, s in backends.items()}
    for j in out.values():
        j.reset()
    return out


def post(url: str, body: dict | None = None) -> requests.Response:
    return requests.post(url, data=json.dumps(body).encode() if body is not None else None, timeout=10)


def test_each_prefix_reaches_its_own_wiremock_unprefixed(nginx: NginxSideBySide, journals: dict[str, Journal]) -> None:
    for v in VERSIONS:
        assert post(f"{nginx.url}/{v}/api/v1/stop").status_code == 200
        assert post(f"{nginx.url}/{v}/api/v1/inference/up", {"model": "m"}).status_code == 200
        chat = post(f"{nginx.url}/{v}/v1/chat/completions", {"model": "m"}).json()
        assert chat["choices"][0]["message"]["content"] == f"Response from MLNode {v}"
        sse = post(f"{nginx.url}/{v}/v1/chat/completions", {"model": "m", "stream": True})
        assert sse.headers["Content-Type"].startswith("text/event-stream")
        assert sse.text.rstrip().endswith("data: [DONE]")
        assert requests.get(f"{nginx.url}/{v}/health", timeout=10).status_code == 200
    for v, j in journals.items():
        assert j.paths() == [
            ("POST", "/api/v1/stop"),
            ("POST", "/api/v1/inference/up"),
            ("POST", "/v1/chat/completions"),
            ("POST", "/v1/chat/completions"),
            ("GET", "/health"),
        ], v
        assert j.unmatched() == []


def test_state_isolation_across_backends(nginx: NginxSideBySide, journals: dict[str, Journal]) -> None:
    for v in VERSIONS:
        post(f"{nginx.url}/{v}/api/v1/inference/up", {"model": "m"})
    post(f"{nginx.url}/v0.3.8/api/v1/stop")
    states = {v: requests.get(f"{nginx.url}/{v}/api/v1/state", timeout=10).json()["state"] for v in VERSIONS}
    assert states == {"v0.3.8": "STOPPED", "v0.3.9": "INFERENCE", "v0.3.10": "INFERENCE"}


def test_default_route_follows_current_and_rolls_back(nginx: NginxSideBySide, journals: dict[str, Journal]) -> None:
    def content() -> str:
        return post(f"{nginx.url}/v1/chat/completions", {"model": "m"}).json()["choices"][0]["message"]["content"]

    assert content() == "Response from MLNode v0.3.8"
    nginx.set_current("v0.3.9")
    assert content() == "Response from MLNode v0.3.9"
    nginx.set_current("v0.3.8")  # instant rollback
    assert content() == "Response from MLNode v0.3.8"
    assert [j.count("POST", "/v1/chat/completions") for j in journals.values()] == [2, 1, 0]


def test_large_body_and_unmatched_pass_through(nginx: NginxSideBySide, journals: dict[str, Journal]) -> None:
    big = {"model": "m", "messages": [{"role": "user", "content": "x" * 3_000_000}]}  # > nginx's 1 MB default limit
    assert post(f"{nginx.url}/v0.3.10/v1/chat/completions", big).status_code == 200
    assert requests.get(f"{nginx.url}/v0.3.10/api/v1/nope", timeout=10).status_code == 404
    assert [r["url"] for r in journals["v0.3.10"].unmatched()] == ["/api/v1/nope"]
    assert "upstream=127.0.0.1:" in nginx.access_log.read_text()


def test_set_current_rejects_unknown_version(nginx: NginxSideBySide) -> None:
    with pytest.raises(ConfigError, match=r"'v9.9.9' has no backend"):
        nginx.set_current("v9.9.9")
    assert nginx.current == "v0.3.8"


def test_render_config_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="current version 'v0.3.9' has no backend"):
        render_config({"v0.3.8": "http://127.0.0.1:1"}, "v0.3.9", port=1, prefix=tmp_path)
    with pytest.raises(ConfigError, match="must be http://HOST:PORT without a path"):
        render_config({"v0.3.8": "http://127.0.0.1:1/x"}, "v0.3.8", port=1, prefix=tmp_path)
    with pytest.raises(ConfigError, match="not a valid MLNode version"):
        render_config({"0.3.8": "http://127.0.0.1:1"}, "0.3.8", port=1, prefix=tmp_path)
    text = render_config({"v0.3.8": "http://127.0.0.1:1"}, "v0.3.8", port=7, prefix=tmp_path)
    assert "location /v0.3.8/ { proxy_pass http://mlnode_v0_3_8/; }" in text
    assert "client_max_body_size 0;" in text
    assert "listen 127.0.0.1:7;" in text
    assert "@" not in text.replace("$", "")


def test_missing_nginx_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DependencyMissing, match=r"apt-get install nginx"):
        find_nginx(str(tmp_path / "no-nginx"))
    n = NginxSideBySide({"v0.3.8": "http://127.0.0.1:1"}, "v0.3.8", nginx=str(tmp_path / "no-nginx"), log_dir=tmp_path)
    with pytest.raises(DependencyMissing, match=r"apt-get install nginx"):
        n.start()


def test_missing_or_old_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(DependencyMissing, match=r"apt-get install openjdk-17-jre-headless"):
        find_java()
    old = tmp_path / "java"
    old.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    old.chmod(old.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(DependencyMissing, match=r"Java 8; WireMock needs Java 11\+.*openjdk-17-jre-headless"):
        find_java()
    with pytest.raises(DependencyMissing, match=r"Java 8"):
        WireMockServer(tmp_path, java=str(old)).start()
    assert java_major_version('openjdk version "17.0.15" 2025-04-15') == 17


def test_wiremock_start_failure_carries_evidence(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "broken.json").write_text('{"request": {"method": "GET", "bogus": 1}, "response": {}}')
    server = WireMockServer(tmp_path, name="wm-broken", log_dir=tmp_path / "logs")
    with pytest.raises(StartupError, match=r"(?s)exited with code.*broken\.json"):
        server.start()
    server.stop()
    assert not server.is_running()
    with pytest.raises(StartupError, match=r"mappings does not exist"):
        WireMockServer(tmp_path / "nowhere").start()


def test_allocated_port_taken_before_start_is_reallocated(tmp_path: Path) -> None:
    root = write_mappings(tmp_path / "root", ["v0.3.9"])
    server = WireMockServer(root, name="wm-port-race", log_dir=tmp_path / "logs")
    taken = server.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with server:
            assert server.port != taken
            assert requests.get(f"{server.url}/v0.3.9/api/v1/state", timeout=10).json() == {"state": "STOPPED"}
    assert "Failed to bind" in server.log_path.read_text()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        with pytest.raises(ConfigError, match=r"already in use"):
            WireMockServer(root, port=squatter.getsockname()[1])
