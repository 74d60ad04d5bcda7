"""The audit's input boundary: saved journals are streamed under a size limit, any bad file is refused with the
documented message (exit 2), the streamed records equal the whole-file ones, and the summary report caps its
offender list. Property tests drive the journal parser with arbitrary JSON and bytes."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness.cli
from harness.audit.journal_file import ReadBudget, iter_journal_batches
from harness.audit.records import record_from_url, records_from_entries, records_from_journal
from harness.errors import ConfigError
from harness.mlnode.journal import Journal, JournalError

S1 = 1_795_891_000_000
SWITCHES = [{"version": "v0.3.8", "from_ms": 0}, {"version": "v0.3.9", "from_ms": S1, "height": 42}]


def entry(url: str, t: int, method: str = "GET", rid: str = "") -> dict:
    return {"id": rid or f"id-{t}-{url}", "request": {"url": url, "method": method, "loggedDate": t}, "wasMatched": True}


def stale_journal(n: int) -> dict:
    """n requests after the switch and its grace, every one with the old prefix (n offenders), plus the stop."""
    entries = [entry("/v0.3.8/api/v1/state", S1 + 5_000 + i) for i in range(n)]  # after any grace
    entries.append(entry("/v0.3.8/api/v1/stop", S1 + 1, "POST"))
    return {"requests": entries, "meta": {"total": len(entries)}}


@pytest.fixture
def run(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(harness.cli, "COMMAND_MODULES", ["harness.ops.audit_cli"])
    switches = tmp_path / "switches.json"
    switches.write_text(json.dumps(SWITCHES))

    def _run(*argv: str | Path) -> tuple[int, str, str]:
        code = harness.cli.main(["audit", "--switches", str(switches), *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def streamed(path: Path, max_bytes: int = 1 << 30) -> list:
    return records_from_entries(iter_journal_batches(path, ReadBudget(max_bytes)), mock_id="m")


# -- the bad-input corpus: every file is refused with exit 2 and a message naming the problem -----------------------
CORPUS = [
    ("binary", b"\xff\xfe\x00\x01garbage", "not UTF-8"),
    ("nul bytes", b"\x00" * 4096, "expected the JSON body"),
    ("empty", b"", "end of file"),
    ("whitespace only", b" \n\t " * 1000, "end of file"),
    ("a number", b"42", "expected the JSON body"),
    ("truncated", b'{"requests": [{"request": {"url": "/h", "method": "GET", "loggedDate": 1}', "malformed JSON"),
    ("trailing comma", b'{"requests": [{"request": {"url": "/h", "method": "GET", "loggedDate": 1}},]}', "malformed JSON"),
    ("extra data", b'{"requests": []} {"requests": []}', "extra data"),
    ("duplicate key", b'{"requests": [], "requests": []}', "appears twice"),
    ("no requests", b'{"mappings": []}', "no 'requests' key"),
    ("requests not a list", b'{"requests": {"a": 1}}', "'requests' must be a list"),
    ("deep nesting", b'{"requests": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested too deeply"),
    ("deep meta", b'{"meta": ' + b"[" * 100_000 + b"]" * 100_000 + b', "requests": []}', "nested too deeply"),
    ("infinite time", b'{"requests": [{"request": {"url": "/h", "method": "GET", "loggedDate": 1e400}}]}', "loggedDate"),
    ("nan time", b'{"requests": [{"request": {"url": "/h", "method": "GET", "loggedDate": NaN}}]}', "loggedDate"),
    ("negative time", b'{"requests": [{"request": {"url": "/h", "method": "GET", "loggedDate": -5}}]}', "loggedDate"),
    (
        "huge int time",
        b'{"requests": [{"request": {"url": "/h", "method": "GET", "loggedDate": 1' + b"0" * 400 + b"}}]}",
        "loggedDate",
    ),
    (
        "time string",
        b'{"requests": [{"request": {"url": "/h", "method": "GET", "loggedDateString": "' + b"9" * 40 + b'"}}]}',
        "ISO-8601",
    ),
    ("url not a path", b'{"requests": [{"request": {"url": "http://x/", "method": "GET", "loggedDate": 1}}]}', "starting with"),
    (
        "huge url",
        b'{"requests": [{"request": {"url": "/' + b"a" * 20_000 + b'", "method": "GET", "loggedDate": 1}}]}',
        "at most 8192",
    ),
    ("bad method", b'{"requests": [{"request": {"url": "/h", "method": "G E T", "loggedDate": 1}}]}', "HTTP method"),
    ("object id", b'{"requests": [{"id": {"a": 1}, "request": {"url": "/h", "method": "GET", "loggedDate": 1}}]}', "id must"),
    (
        "huge int id",
        b'{"requests": [{"id": 1' + b"0" * 5000 + b', "request": {"url": "/h", "method": "GET", "loggedDate": 1}}]}',
        "more than 4300 digits",
    ),
]


@pytest.mark.parametrize(("name", "content", "needle"), CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_journal_files_exit_2_naming_the_problem(run, tmp_path, name, content, needle):
    path = tmp_path / "node1.json"
    path.write_bytes(content)
    code, out, err = run("--journal", path)
    assert code == 2, err
    assert out == ""
    assert err.startswith("harness audit: bad input: journal ")
    assert needle in err, err
    assert "Traceback" not in err
    assert len(err) < 2000, "the message never echoes unbounded input"


def test_directory_and_missing_file_exit_2(run, tmp_path):
    assert "cannot read it (Is a directory)" in run("--journal", tmp_path)[2]
    assert "cannot read" in run("--journal", tmp_path / "missing.json")[2]


def test_endless_input_stops_at_the_limit(run):
    """/dev/zero never ends; whitespace-only input of any length is read only up to the budget."""
    code, _, err = run("--journal", "/dev/zero", "--max-journal-mb", "1")
    assert code == 2
    assert "expected the JSON body" in err


def test_a_fifo_of_endless_whitespace_is_refused_at_the_limit(run, tmp_path):
    fifo = tmp_path / "node1.json"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer() -> None:
        try:
            with open(fifo, "wb") as f:
                while not stop.is_set():
                    f.write(b" " * 65536)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        code, _, err = run("--journal", fifo, "--max-journal-mb", "2")
    finally:
        stop.set()
    t.join(10)
    assert not t.is_alive()
    assert code == 2
    assert "input limit of 2 MiB" in err
    assert "--max-journal-mb" in err


def test_the_budget_covers_all_journals_together(run, tmp_path):
    body = json.dumps(stale_journal(3000)).encode()  # about 330 kB
    for name in ("a", "b", "c", "d"):
        (tmp_path / f"{name}.json").write_bytes(body)
    args = [a for name in "abcd" for a in ("--journal", tmp_path / f"{name}.json")]
    assert run(*args)[0] == 1  # offenders, all read
    code, _, err = run(*args, "--max-journal-mb", "1")
    assert code == 2
    assert "d.json" in err or "c.json" in err


def test_one_entry_past_its_limit_is_refused(tmp_path, monkeypatch):
    import harness.audit.journal_file as jf

    monkeypatch.setattr(jf, "MAX_ENTRY_CHARS", 4096)
    monkeypatch.setattr(jf, "CHUNK_BYTES", 1024)  # an entry is held whole only up to its limit
    path = tmp_path / "j.json"
    big = entry("/h", 1)
    big["request"]["body"] = "x" * 10_000
    path.write_text(json.dumps({"requests": [entry("/a", 1), big]}))
    with pytest.raises(ConfigError, match=r"requests\[1\] is larger than"):
        streamed(path)


# -- the streamed reader equals the whole-file reader -----------------------------------------------------------------
def test_streamed_records_equal_the_whole_file_records(tmp_path, monkeypatch):
    import harness.audit.journal_file as jf

    monkeypatch.setattr(jf, "CHUNK_BYTES", 97)  # entries cut at every possible place
    body = stale_journal(200)
    body["requests"][5]["request"]["body"] = '{"a": "}, {"}'  # a `},` inside a string must not cut an entry
    body["requests"][6]["responseDefinition"] = {"status": 200, "jsonBody": {"x": [{"y": 1}, {"z": 2}]}}
    body["requests"][7]["request"]["url"] = "/v0.3.9/api/v1/state?q=\u00e9\u4e2d"
    for text in (json.dumps(body), json.dumps(body, indent=2), json.dumps(body["requests"])):
        path = tmp_path / "j.json"
        path.write_text(text, encoding="utf-8")
        assert streamed(path) == records_from_journal(json.loads(text), mock_id="m")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
ENTRY = st.fixed_dictionaries(
    {"request": st.fixed_dictionaries(
        {"url": st.one_of(st.just("/v0.3.8/health"), st.text(max_size=12)),
         "method": st.one_of(st.sampled_from(["GET", "POST"]), JSON_VALUES),
         "loggedDate": st.one_of(st.integers(min_value=-5, max_value=2**70), st.floats(), JSON_VALUES)},
    )},
    optional={"id": JSON_VALUES, "wasMatched": JSON_VALUES},
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.one_of(ENTRY, JSON_VALUES), max_size=6))
def test_any_journal_gives_records_or_the_documented_error(tmp_path, entries):
    """No crash: either both readers give the same records, or both refuse with a ConfigError."""
    path = tmp_path / "j.json"
    text = json.dumps({"requests": entries})
    path.write_text(text)
    try:
        expected = records_from_journal(json.loads(text), mock_id="m")
    except ConfigError:
        with pytest.raises(ConfigError):
            streamed(path)
        return
    assert streamed(path) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_bytes_give_records_or_the_documented_error(tmp_path, data):
    path = tmp_path / "j.json"
    path.write_bytes(b'{"requests": [' + data)
    try:
        streamed(path)
        return
    except ConfigError as e:
        message = str(e)
    assert "journal" in message
    assert len(message) < 2000


# -- the summary report ------------------------------------------------------------------------------------------------
def test_the_report_caps_the_offender_list_and_lists_all_on_request(run, tmp_path):
    path = tmp_path / "node1.json"
    path.write_text(json.dumps(stale_journal(500)))
    code, out, _ = run("--journal", path, "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert (doc["offenders_total"], len(doc["offenders"]), doc["offenders_truncated"]) == (500, 100, True)
    assert doc["counts"]["late"] + doc["counts"]["stale"] == 500
    code, out, _ = run("--journal", path, "--format", "json", "--all-offenders")
    full = json.loads(out)
    assert (len(full["offenders"]), full["offenders_truncated"]) == (500, False)
    assert full["offenders"][:100] == doc["offenders"]
    assert [o["logged_ms"] for o in full["offenders"]] == sorted(o["logged_ms"] for o in full["offenders"])
    code, out, _ = run("--journal", path, "--max-offenders", "7")
    assert "offenders (500, first 7)" in out
    table = out[out.index("offenders (500, first 7)") :]
    assert table.count("/v0.3.8/api/v1/state") == 7


# -- the live journal (WireMock's admin API) ---------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def admin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/__admin"
    server.shutdown()
    server.server_close()
    t.join(5)


@pytest.mark.parametrize(
    ("body", "error", "needle"),
    [
        (b"x" * 5000, ConfigError, "larger than"),
        (b"[" * 100_000, JournalError, "not JSON"),
        (b"[]", JournalError, "expected"),
        (b'{"requests": [{"request": {"loggedDate": "soon"}}]}', JournalError, "loggedDate"),
    ],
)
def test_a_live_journal_is_read_under_the_limit_and_checked(admin, monkeypatch, body, error, needle):
    monkeypatch.setattr(_Handler, "body", body)
    with pytest.raises(error, match=needle):
        Journal(admin, max_bytes=max(4096, len(body) // 2 if error is ConfigError else len(body))).requests()


# -- the canonical order ------------------------------------------------------------------------------------------------
RECORD = st.builds(
    lambda t, mock, node, rid, method, url, served, matched: record_from_url(
        url, logged_ms=t, mock_id=mock, method=method, node_id=node, served_by_version=served, request_id=rid, matched=matched
    ),
    st.integers(0, 3), st.sampled_from(["m1", "m2"]), st.sampled_from([None, "", "n1", "n2"]), st.sampled_from(["", "a", "b"]),
    st.sampled_from(["GET", "POST"]), st.sampled_from(["/v0.3.8/health", "/health", "/v0.3.9/api/v1/stop", "/x?q=1"]),
    st.sampled_from([None, "v0.3.8"]), st.sampled_from([None, True, False]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(records=st.lists(RECORD, max_size=12))
def test_records_sort_in_sort_key_order_whatever_the_input_order(records):
    from harness.audit.records import RequestRecord
    from harness.audit.verdict import sort_records

    got, times = sort_records(records)
    assert [r.sort_key() for r in got] == sorted(r.sort_key() for r in records)
    assert times == [r.logged_ms for r in got]
    assert [r.sort_key() for r in sort_records(reversed(records))[0]] == [r.sort_key() for r in got]
    assert all(isinstance(r, RequestRecord) for r in got)
