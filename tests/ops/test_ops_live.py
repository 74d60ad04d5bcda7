"""`harness audit --live`: the switch timeline read from the chain (MLNodeVersion per height), journals read from a
running WireMock; pass after a clean switch, fail naming the first offender after a stale request."""

from __future__ import annotations

import json

import pytest
import requests

import harness.cli
from harness.audit.contracts import contract_for
from harness.chain import ChainClient
from harness.ops.live_audit import height_at, version_changes


class FakeHistory:
    """version(h) and block_ms(h) from a list; counts distinct heights read (ChainHistory caches per height)."""

    def __init__(self, versions: list[str]) -> None:
        self.versions = versions  # versions[h - 1] is the version at height h
        self.read: set[int] = set()

    @property
    def queries(self) -> int:
        return len(self.read)

    def version(self, h: int) -> str:
        self.read.add(h)
        return self.versions[h - 1]

    def block_ms(self, h: int) -> int:
        return 1000 * h


def test_version_changes_by_bisection_are_exact_and_cheap():
    versions = ["v0.3.8"] * 400 + ["v0.3.9"] * 300 + ["v0.3.10"] * 300
    hist = FakeHistory(versions)
    changes = version_changes(hist, 1, 1000)
    assert [(c.height, c.version) for c in changes] == [(1, "v0.3.8"), (401, "v0.3.9"), (701, "v0.3.10")]
    assert hist.queries < 60  # O(k log n), not n


def test_version_changes_use_proposal_heights_to_see_a_return():
    versions = ["v0.3.8"] * 10 + ["v0.3.9"] * 5 + ["v0.3.8"] * 5
    assert [(c.height, c.version) for c in version_changes(FakeHistory(versions), 1, 20)] == [(1, "v0.3.8")]
    found = version_changes(FakeHistory(versions), 1, 20, candidates=[11, 16])
    assert [(c.height, c.version) for c in found] == [(1, "v0.3.8"), (11, "v0.3.9"), (16, "v0.3.8")]


def test_height_at_bisects_block_times():
    hist = FakeHistory(["v0.3.8"] * 50)
    assert height_at(hist, 10_500, 1, 50) == 10
    assert height_at(hist, 10_000, 1, 50) == 10
    assert height_at(hist, 500, 1, 50) == 1


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    from harness.mlnode.wiremock import WireMockServer

    root = tmp_path_factory.mktemp("wm-root")
    (root / "mappings").mkdir()
    wm = WireMockServer(root, name="ops-live", log_dir=root / "logs")
    wm.start()
    try:
        yield wm
    finally:
        wm.stop()


def _run(capsys, *argv) -> tuple[int, dict]:
    code = harness.cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {"stderr": err}


def test_upgrade_then_live_audit_passes_then_catches_a_stale_request(gov_simnet, mock, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_KEYRING", str(tmp_path / "keys.json"))
    where = ("--chain-rpc", gov_simnet.rpc_url, "--journal-url", f"node-1={mock.admin_url}", "--json")
    http = requests.Session()
    for _ in range(3):
        http.get(f"{mock.url}/v0.3.8/api/v1/state")

    code, up = _run(capsys, "upgrade", "--to", "v0.3.9", "--in", 12, "--wait", *where[:2], "--json")
    assert code == 0, up
    assert up["switched"] is True
    http.post(f"{mock.url}/v0.3.8/api/v1/stop")
    for _ in range(3):
        http.get(f"{mock.url}/v0.3.9/api/v1/state")

    png = tmp_path / "live.png"
    code, doc = _run(capsys, "audit", "--live", *where, "--png", png, "--out", tmp_path / "first")
    assert code == 0, doc
    assert doc["verdict"] == "pass"
    assert doc["version_changes"] == [{"height": 1, "version": "v0.3.8"}, {"height": up["upgrade_height"], "version": "v0.3.9"}]
    assert [s["version"] for s in doc["timeline"]] == ["v0.3.8", "v0.3.9"]
    assert doc["total_requests"] == 7
    assert doc["counts"]["ok"] == 7
    assert png.read_bytes().startswith(b"\x89PNG")
    assert doc["png"] == str(png)

    # Let the chain pass the switch + the reference contract's grace window, then send an old-prefix request
    chain = ChainClient(gov_simnet.rpc_url)
    grace_blocks = -(-contract_for("reference").grace_ms // 100) + 2
    chain.rpc.wait_for_height(up["upgrade_height"] + grace_blocks, timeout_s=30)
    stale_height = chain.height()
    http.get(f"{mock.url}/v0.3.8/api/v1/state?late=1")
    code, doc = _run(capsys, "audit", "--live", *where, "--png", png, "--out", tmp_path / "second")
    assert code == 1
    first = doc["first_offender"]
    assert first["verdict"] == "stale"
    assert first["url"] == "/v0.3.8/api/v1/state?late=1"
    assert first["expected_version"] == "v0.3.9"
    lo, hi = first["height_bracket"]
    assert lo is not None
    assert stale_height - 1 <= lo
    assert hi is None or hi == lo + 1

    code, doc = _run(capsys, "audit", "--live", "--since", up["upgrade_height"] + 1000, *where, "--out", tmp_path / "third")
    assert code == 2
    assert "after the latest height" in doc["error"]


def test_live_audit_refuses_mixing_files_and_live(gov_simnet, capsys, tmp_path):
    code, doc = _run(capsys, "audit", "--live", "--journal", tmp_path / "j.json", "--chain-rpc", gov_simnet.rpc_url, "--json")
    assert code == 2
    assert "drop --journal" in doc["error"]
    code = harness.cli.main(["audit", "--grace-ms", "5"])
    assert code == 2
    assert "or --live" in capsys.readouterr().err
