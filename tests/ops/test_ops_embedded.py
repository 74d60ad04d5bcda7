"""Operator commands against a real embedded testnet started by `harness up` (a subprocess, as a user runs it):
status, upgrade + audit --live, chaos, refusals, and `harness down` both after a normal run and after `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.ops.down import alive
from harness.util.ports import port_is_listening
from harness.util.wait import wait_until
from tests.support.harness_up import HarnessUp


def _harness(*argv, env: dict | None = None, timeout_s: float = 120) -> tuple[int, dict, str]:
    p = subprocess.run(
        [sys.executable, "-m", "harness", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **(env or {})},
    )
    try:
        doc = json.loads(p.stdout) if p.stdout.strip() else {}
    except ValueError:
        doc = {}
    return p.returncode, doc, p.stdout + p.stderr


def _nothing_left(up: HarnessUp) -> None:
    wait_until(
        lambda: not any(alive(p) for p in up.pids()),
        timeout_s=10,
        what="every recorded process gone",
        evidence=lambda: str([p for p in up.pids() if alive(p)]),
    )
    wait_until(
        lambda: not any(port_is_listening(p) for p in up.ports()),
        timeout_s=10,
        what="every port closed",
        evidence=lambda: str([p for p in up.ports() if port_is_listening(p)]),
    )
    assert not up.state.exists()
    assert not up.state.with_name(up.state.name + ".lock").exists()


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    u = HarnessUp(tmp_path_factory.mktemp("ops-up"))
    yield u
    u.kill()


def test_state_file_records_children(up):
    names = {c["name"] for c in up.doc["pids"]}
    assert {"simnet", "apinode", "mlnode-1"} <= names
    assert all(isinstance(c["starttime"], int) for c in up.doc["pids"])
    assert up.doc["starttime"] is not None


def test_status_json(up):
    code, doc, out = _harness("status", "--state-file", up.state, "--json")
    assert code == 0, out
    assert doc["chain"]["height"] > 0
    assert doc["chain"]["chain_id"] == "gonka-testnet"
    assert doc["chain"]["mlnode_version"] == "v0.3.8"
    assert doc["api"]["versions"]["node_version"]["current"] == "v0.3.8"
    assert [(n["id"], n["status"]) for n in doc["api"]["nodes"]] == [("mlnode-1", "INFERENCE")]
    (mock,) = doc["mlnodes"]
    assert mock["requests"] > 0
    assert mock["last"]["prefix"] == "v0.3.8"


def test_refusals_against_the_running_testnet(up):
    code, doc, _ = _harness("upgrade", "--to", "v0.3.9", "--in", 1, "--state-file", up.state, "--json")
    assert code == 2
    assert "earliest allowed height" in doc["error"]
    code, doc, _ = _harness("upgrade", "--to", "v0.3.9x", "--in", 20, "--state-file", up.state, "--json")
    assert code == 2
    assert "not a valid MLNode version" in doc["error"]


def test_chaos_commands_drive_the_proxy(up):
    s = ("--state-file", up.state, "--json")
    code, doc, out = _harness("chaos", "add", "latency", "--param", "latency_ms=5", "--max-count", 3, *s)
    assert code == 0, out
    fid = doc["id"]
    code, doc, _ = _harness("chaos", "list", *s)
    assert [f["id"] for f in doc["faults"]] == [fid]
    assert "seed" in doc
    code, doc, _ = _harness("chaos", "clear", *s)
    assert doc["cleared"] == 1
    assert doc["faults"] == []


def test_upgrade_then_live_audit_passes(up):
    from harness.clients.api import ApiClient

    code, doc, out = _harness(
        "upgrade", "--to", "v0.3.9", "--in", 10, "--from", "dev", "--wait", "--state-file", up.state, "--json"
    )
    assert code == 0, out
    assert doc["switched"] is True
    h = doc["upgrade_height"]
    ep = up.doc["endpoints"]
    api = ApiClient(ep["api_public"], ep["api_admin"])
    wait_until(lambda: api.versions()["node_version"]["current"] == "v0.3.9", timeout_s=20, what="API node on v0.3.9")
    chat = api.chat("which version answers?")
    assert chat.ok, chat
    wait_until(
        lambda: _harness("status", "--state-file", up.state, "--json")[1]["mlnodes"][0]["last"]["prefix"] == "v0.3.9",
        timeout_s=20,
        what="the mock's last request on v0.3.9",
    )
    out_dir = up.state.parent / "live-audit"
    code, audit, out = _harness("audit", "--live", "--state-file", up.state, "--json", "--out", out_dir)
    assert code == 0, out
    assert audit["verdict"] == "pass"
    assert audit["html"] == str(out_dir / "report.html")
    page = (out_dir / "report.html").read_text()
    assert "id='verdict'>PASS<" in page
    assert (Path(up.doc["workdir"]) / "logs" / "apinode.log").as_uri() in page  # the running testnet's logs
    assert json.loads((out_dir / "report.json").read_text())["verdict"] == "pass"
    assert audit["version_changes"][-1] == {"height": h, "version": "v0.3.9"}
    assert audit["counts"]["ok"] == audit["total_requests"] > 0
    assert Path(audit["png"]).read_bytes().startswith(b"\x89PNG")
    assert any(s["status"] == "ok" for s in audit["stops"])


def test_a_second_up_on_the_same_state_file_is_refused_naming_the_first(up):
    code, _, out = _harness("up", "--state-file", up.state, timeout_s=60)
    assert code == 2, out
    assert f"{up.state} belongs to a testnet that is running (harness up pid {up.proc.pid}, started" in out
    assert "--state-file FILE" in out
    assert json.loads(up.state.read_text())["owner"] == up.doc["owner"]  # the first one's file, untouched
    code, _, out = _harness("status", "--state-file", up.state, "--json")
    assert code == 0, out


def test_down_stops_everything(up):
    code, doc, out = _harness("down", "--state-file", up.state, "--json")
    assert code == 0, out
    assert doc["found"] is True
    assert doc["stopped"][0]["name"] == "harness up"
    assert doc["stopped"][0]["result"] == "stopped"
    assert up.proc.wait(30) == 0
    _nothing_left(up)
    code, doc, _ = _harness("down", "--state-file", up.state, "--json")
    assert code == 0
    assert doc["found"] is False


def test_down_after_kill_9_of_harness_up(tmp_path):
    u = HarnessUp(tmp_path, workdir=False)
    try:
        workdir = Path(u.doc["workdir"])
        assert (workdir / "logs").is_dir()
        assert all(alive(p) for p in u.pids())
        u.proc.send_signal(signal.SIGKILL)
        assert u.proc.wait(10) == -signal.SIGKILL
        assert all(alive(p) for p in u.pids())  # the orphans keep running: this is what `down` is for
        code, _, out = _harness("up", "--state-file", u.state, timeout_s=60)  # it would orphan them: refused
        assert code == 2, out
        assert "records a testnet whose processes still run" in out
        assert json.loads(u.state.read_text())["owner"] == u.doc["owner"]
        code, doc, out = _harness("down", "--state-file", u.state, "--json")
        assert code == 0, out
        results = {s["name"]: s["result"] for s in doc["stopped"]}
        assert results["harness up"] == "gone"
        assert {results[n] for n in ("simnet", "apinode", "mlnode-1")} <= {"stopped", "killed"}
        assert doc["workdir"] == {"path": str(workdir), "result": "removed"}
        assert not workdir.exists()
        _nothing_left(u)
    finally:
        u.kill()


def test_harness_up_removes_its_temp_workdir_when_stopped(tmp_path):
    u = HarnessUp(tmp_path, workdir=False)
    try:
        workdir = Path(u.doc["workdir"])
        assert workdir.is_dir()
        code, doc, out = _harness("down", "--state-file", u.state, "--json")
        assert code == 0, out
        assert doc["stopped"][0]["result"] == "stopped"
        assert u.proc.wait(30) == 0
        assert doc["workdir"]["result"] in ("gone", "removed")  # `harness up` removed it itself on SIGTERM
        assert not workdir.exists()
        _nothing_left(u)
    finally:
        u.kill()


def test_a_network_up_votes_with_every_validator_and_audits_every_participant(tmp_path):
    u = HarnessUp(tmp_path, "--participants", "3")
    try:
        parts = u.doc["participants"]
        assert [p["id"] for p in parts] == ["p1", "p2", "p3"]
        assert [p["validator_index"] for p in parts] == [0, 1, 2]
        assert {"apinode-p1", "apinode-p2", "apinode-p3", "p3-mlnode-1"} <= {c["name"] for c in u.doc["pids"]}
        # one validator of three is no quorum: `harness upgrade` votes with every participant's key
        code, doc, out = _harness("upgrade", "--to", "v0.3.9", "--in", 12, "--wait", "--state-file", u.state, "--json")
        assert code == 0, out
        assert doc["switched"] is True
        from harness.clients.api import ApiClient

        for p in parts:
            api = ApiClient(p["api_public"], p["api_admin"])
            on_new = lambda a=api: a.versions()["node_version"]["current"] == "v0.3.9"  # noqa: E731
            wait_until(on_new, timeout_s=20, what=f"{p['id']} on v0.3.9")
            assert api.chat("which version?").content.endswith("v0.3.9")
        code, audit, out = _harness("audit", "--live", "--state-file", u.state, "--json", "--out", tmp_path / "a1")
        assert code == 0, out
        net = audit["network"]
        assert net["verdict"] == "atomic", out
        assert [p["participant"] for p in net["participants"]] == ["p1", "p2", "p3"]
        assert all(p["requests"] > 0 for p in net["participants"]), net
        assert net["hops"][0]["never"] == []
        assert net["hops"][0]["spread_ms"] is not None
        code, _, out = _harness("audit", "--live", "--state-file", u.state, "--out", tmp_path / "a2")
        assert code == 0, out
        assert "network of 3 participants: ATOMIC" in out
        # harness status shows every participant's API node and MLNodes, not only the first one's
        code, st, out = _harness("status", "--state-file", u.state, "--json")
        assert code == 0, out
        shown = [(p["id"], p["api"]["versions"]["node_version"]["current"], [n["id"] for n in p["api"]["nodes"]])
                 for p in st["participants"]]  # fmt: skip
        assert shown == [(p["id"], "v0.3.9", [n["id"] for n in p["mlnodes"]]) for p in parts], shown
        assert {(m["participant"], m["node"]) for m in st["mlnodes"]} == {(p["id"], n["id"]) for p in parts for n in p["mlnodes"]}
        code, _, out = _harness("status", "--state-file", u.state)
        assert code == 0, out
        assert "participants" in out
        assert all(p["id"] in out for p in parts), out
        code, doc, out = _harness("down", "--state-file", u.state, "--json")
        assert code == 0, out
        assert u.proc.wait(30) == 0
        _nothing_left(u)
    finally:
        u.kill()
