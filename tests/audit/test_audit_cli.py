"""`harness audit` CLI (exit codes, messages for bad input, side-by-side journals) and the PNG timeline."""

from __future__ import annotations

import json

import pytest

import harness.cli
from harness.audit import SwitchContract, audit, render_png
from harness.ops.audit_cli import parse_journal_spec
from tests.audit.test_audit import S1, TWO, _traffic, entry, journal, rec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SWITCHES = [{"version": "v0.3.8", "from_ms": 0}, {"version": "v0.3.9", "from_ms": S1, "height": 42}]


@pytest.fixture
def run(monkeypatch, capsys):
    """Call the real `harness` entry point with only the audit command registered (other commands are not ours)."""
    monkeypatch.setattr(harness.cli, "COMMAND_MODULES", ["harness.ops.audit_cli"])

    def _run(*argv: str) -> tuple[int, str, str]:
        code = harness.cli.main(["audit", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def _write(path, data) -> str:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def _good_journal() -> dict:
    entries = [entry(f"/v0.3.{8 if t < S1 else 9}/api/v1/state", t) for t in range(0, 20_000, 1_000)]
    entries.append(entry("/v0.3.8/api/v1/stop", S1 + 500, "POST"))
    return journal(*entries)


def test_audit_is_registered():
    assert "harness.ops.audit_cli" in harness.cli.COMMAND_MODULES


def test_pass_exits_0(run, tmp_path):
    j = _write(tmp_path / "node1.json", _good_journal())
    s = _write(tmp_path / "switches.json", SWITCHES)
    code, out, err = run("--journal", j, "--switches", s, "--grace-ms", "1000")
    assert code == 0, err
    assert out.startswith("prefix audit: PASS")


def test_fail_exits_1_and_names_the_first_offender(run, tmp_path):
    body = _good_journal()
    body["requests"].insert(3, entry("/v0.3.8/v1/chat/completions", S1 + 4_321, "POST"))
    j = _write(tmp_path / "node1.json", body)
    s = _write(tmp_path / "switches.json", SWITCHES)
    code, out, _ = run("--journal", j, "--switches", s, "--grace-ms", "1000", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["verdict"] == "fail"
    assert data["counts"]["stale"] == 1
    o = data["offenders"][0]
    assert (o["verdict"], o["method"], o["url"], o["logged_ms"], o["expected_version"], o["seen_version"], o["mock"]) == (
        "stale",
        "POST",
        "/v0.3.8/v1/chat/completions",
        S1 + 4_321,
        "v0.3.9",
        "v0.3.8",
        "node1",
    )
    # a larger grace window accepts it
    assert run("--journal", j, "--switches", s, "--grace-ms", "5000")[0] == 0


def test_stop_rule_switch(run, tmp_path):
    body = journal(*[entry(f"/v0.3.{8 if t < S1 else 9}/api/v1/state", t) for t in range(0, 20_000, 1_000)])
    j = _write(tmp_path / "node1.json", body)
    s = _write(tmp_path / "switches.json", SWITCHES)
    code, out, _ = run("--journal", j, "--switches", s)
    assert code == 1
    assert "missing_stop" in out
    assert run("--journal", j, "--switches", s, "--no-stop-rule")[0] == 0


def test_side_by_side_journals(run, tmp_path):
    old = journal(entry("/api/v1/state", 1_000), entry("/api/v1/stop", S1 + 10, "POST"))
    new = journal(entry("/api/v1/state", S1 + 20), entry("/v1/chat/completions", S1 + 30, "POST"))
    jo = _write(tmp_path / "node1-v0.3.8.json", old)
    jn = _write(tmp_path / "node1-v0.3.9.json", new)
    s = _write(tmp_path / "switches.json", SWITCHES)
    code, out, err = run("--journal", jo + ":v0.3.8", "--journal", jn + ":v0.3.9", "--switches", s, "--format", "json")
    assert code == 0, out + err
    assert [(x["node"], x["status"]) for x in json.loads(out)["stops"]] == [("node1", "ok")]
    # explicit node names: two nodes, so node2 (which only has the new backend's journal) misses its stop, due once
    # the audited range (up to the last request, S1 + 30) reaches the end of the grace window
    args = ["--journal", jo + ":v0.3.8:node1", "--journal", jn + ":v0.3.9:node2", "--switches", s, "--format", "json"]
    code, out, _ = run(*args)
    assert code == 0, out
    assert {x["node"]: x["status"] for x in json.loads(out)["stops"]} == {"node1": "ok", "node2": "not_due"}
    code, out, _ = run(*args, "--grace-ms", "20")
    assert code == 1
    assert [(o["verdict"], o["node"]) for o in json.loads(out)["offenders"]] == [("missing_stop", "node2")]


def test_journal_spec_parsing(tmp_path):
    assert parse_journal_spec("a/b.json") == (tmp_path.__class__("a/b.json"), None, None)
    assert parse_journal_spec("b.json:v0.3.9")[1:] == ("v0.3.9", None)
    assert parse_journal_spec("b.json:v0.3.9:n7")[1:] == ("v0.3.9", "n7")


def test_png_option(run, tmp_path):
    j = _write(tmp_path / "node1.json", _good_journal())
    s = _write(tmp_path / "switches.json", SWITCHES)
    png = tmp_path / "out" / "audit.png"
    code, _, err = run("--journal", j, "--switches", s, "--grace-ms", "1000", "--png", str(png))
    assert code == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert str(png) in err


BAD_JSON = "{not json"


@pytest.mark.parametrize(
    ("journal_text", "switches", "extra", "needles"),
    [
        (None, SWITCHES, [], ["cannot read", "missing.json"]),
        (BAD_JSON, SWITCHES, [], ["malformed JSON", "node1.json", "line 1"]),
        ({"requests": [{"request": {"url": "/health"}}]}, SWITCHES, [], ["node1.json", "requests[0]", "method"]),
        ({"mappings": []}, SWITCHES, [], ["node1.json", "no 'requests' key"]),
        ("J", BAD_JSON, [], ["malformed JSON", "switches.json"]),
        ("J", [SWITCHES[1], SWITCHES[0]], [], ["switches.json", "from_ms 0"]),
        ("J", [*SWITCHES, {"version": "v0.3.10", "from_ms": 5}], [], ["switches.json", "increasing from_ms"]),
        ("J", [SWITCHES[0], {"version": "v0.3.9-rc1", "from_ms": 9}], [], ["switches.json", "vMAJOR.MINOR.PATCH"]),
        ("J", SWITCHES, ["--heights", "HEIGHTS_BAD"], ["heights", "entry 0"]),
    ],
)
def test_bad_input_exits_2_with_a_message(run, tmp_path, journal_text, switches, extra, needles):
    if journal_text is None:
        jpath = str(tmp_path / "missing.json")
    else:
        jpath = _write(tmp_path / "node1.json", _good_journal() if journal_text == "J" else journal_text)
    spath = _write(tmp_path / "switches.json", switches)
    extra = [_write(tmp_path / "heights.json", [["x", 1]]) if a == "HEIGHTS_BAD" else a for a in extra]
    code, out, err = run("--journal", jpath, "--switches", spath, *extra)
    assert code == 2
    assert out == ""
    assert err.startswith("harness audit: bad input:")
    for needle in needles:
        assert needle in err, (needle, err)


def test_bad_version_in_journal_spec_exits_2(run, tmp_path):
    j = _write(tmp_path / "node1.json", _good_journal())
    s = _write(tmp_path / "switches.json", SWITCHES)
    code, _, err = run("--journal", j + ":v0.3", "--switches", s)
    assert code == 2
    assert "vMAJOR.MINOR.PATCH" in err
    assert "node1.json:v0.3" in err


def test_duplicate_mock_id_exits_2(run, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    j1 = _write(tmp_path / "a" / "node1.json", _good_journal())
    j2 = _write(tmp_path / "b" / "node1.json", _good_journal())
    s = _write(tmp_path / "switches.json", SWITCHES)
    code, _, err = run("--journal", j1, "--journal", j2, "--switches", s)
    assert code == 2
    assert "rename one file" in err


def test_negative_grace_is_a_usage_error(run, tmp_path, capsys):
    with pytest.raises(SystemExit) as ei:
        run("--journal", "x.json", "--switches", "s.json", "--grace-ms", "-5")
    assert ei.value.code == 2
    assert "--grace-ms" in capsys.readouterr().err


# ---------------------------------------------------------------- PNG
def test_png_from_report_and_from_records(tmp_path):
    recs = [*_traffic("n1"), rec("/v0.3.8/api/v1/state", S1 + 3_000, mock="n1"), rec("/health", 50, mock="n1")]
    report = audit(recs, TWO, SwitchContract(grace_ms=1000))
    assert report.counts["stale"] == 1
    p1 = render_png(report, TWO, tmp_path / "report.png")
    p2 = render_png(recs, TWO, tmp_path / "records.png", contract=SwitchContract(grace_ms=1000))
    for p in (p1, p2):
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC
        assert len(data) > 5_000
    empty = render_png([], TWO, tmp_path / "empty.png")
    assert empty.read_bytes()[:8] == PNG_MAGIC
