"""The HTML report (harness/report/): one self-contained page per audit, checked as a person sees it, in headless
Chromium: the verdict, one lane per participant and MLNode, the clocks' windows and holds, chaos faults, and every
offender in a table that filters by verdict and links to its journal entry and the logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.audit import Switch, SwitchTimeline, audit, contract_for
from harness.audit.basis import Delivered, HoldOutcome, participant_clock
from harness.audit.records import record_from_url
from harness.report.data import report_data
from harness.report.html import write_report
from tests.support.browser_support import rendered_dom, screenshot

T0 = 1_767_000_000_000  # 2025-12-29 09:20:00 UTC
H = 42
REF = contract_for("reference")
NODES = {"p1": "p1-mlnode-1", "p2": "p2-mlnode-1"}


def _rec(path: str, t: int, node: str, method: str = "GET"):
    return record_from_url(path, logged_ms=T0 + t, mock_id=f"{node}/*", method=method, node_id=node, request_id=f"{node}-{t}")


def _network_audit():
    """Two participants on their own delivery clocks; p2 keeps the old prefix 1.2 s past its D (late)."""
    timeline = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", T0 + 10_000, height=H)])
    records, clocks = [], []
    for p, node in NODES.items():
        switched = 11_000 if p == "p1" else 13_000
        for t in range(0, 20_000, 400):
            v = "v0.3.8" if t < switched else "v0.3.9"
            records += [_rec(f"/{v}/v1/chat/completions", t, node, "POST"), _rec(f"/{v}/api/v1/state", t + 100, node)]
        records.append(_rec("/v0.3.8/api/v1/stop", switched - 100, node, "POST"))
        delivered = [Delivered(H - 1, T0 + 9_500.0, 1), Delivered(H, T0 + 10_600.0, 1), Delivered(H + 1, T0 + 12_000.0, 1)]
        holds = [HoldOutcome(H, 1000, "expired"), HoldOutcome(H + 1, 1200, "released", "switch seen")]
        clocks.append(participant_clock(p, [node], timeline, REF, delivered, holds))
    return audit(records, timeline, REF, clocks=clocks, participants={p: [n] for p, n in NODES.items()})


def _page(tmp_path: Path) -> tuple[dict, Path]:
    report = _network_audit()
    assert report.verdict == "fail"
    first = report.offenders[0]
    data = report_data(
        report,
        title="two participants, p2 late",
        under_test="model apinode",
        blocks=[(h, T0 + 10_000 + (h - H) * 1000) for h in range(33, 52)],
        chaos=[
            {
                "participant": "p2",
                "ms": T0 + 11_500,
                "end_ms": T0 + 11_510,
                "fault": "eof",
                "methods": ["abci_query"],
                "outcome": "eof",
                "conn": 3,
            }
        ],
        logs={"p2-apinode": "logs/p2-apinode.log", "p2-mlnode-1": "logs/p2-mlnode-1.log"},
        journals={f"{n}/*": f"journals/{n}.json" for n in NODES.values()},
        entries={f"{first.mock_id}/{first.request_id}": {"id": first.request_id, "request": {"url": first.url}}},
    )
    return data, write_report(data, tmp_path / "report.html")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.inline_script_chars = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (
                name in ("src", "href")
                and tag in ("script", "link", "img", "iframe")
                and re.match(r"(?i)\s*(https?:)?//", value or "")
            ):
                self.external.append(f"<{tag} {name}={value}>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_script_chars += len(data)


def test_the_page_fetches_nothing_when_opened(tmp_path):
    _, page = _page(tmp_path)
    refs = _Refs()
    refs.feed(page.read_text())
    assert refs.external == [], "the page must not load assets at view time"
    assert refs.inline_script_chars > 1_000_000, "plotly.js is inlined"
    assert "@import" not in page.read_text()


def test_the_page_in_headless_chromium(tmp_path):
    data, page = _page(tmp_path)
    shot = screenshot(page, tmp_path / "report.png", tmp_path)
    from matplotlib.image import imread

    pixels = imread(shot)
    red = ((abs(pixels[..., 0] - 198 / 255) < 0.03) & (abs(pixels[..., 1] - 40 / 255) < 0.03)).sum()
    assert pixels.shape[1] == 1500
    assert red > 300, "the red FAIL badge is drawn"
    dom = rendered_dom(page, tmp_path)
    assert 'data-timeline="drawn"' in dom, "plotly finished drawing the timeline"
    assert re.search(r'id="verdict">FAIL<', dom)
    ticks = re.findall(r'<g class="ytick"><text [^>]*data-unformatted="([^"]+)"', dom)
    assert ticks[::-1] == [
        "chain: blocks",
        "p1 · API node's chain connection",
        "p1 · MLNode p1-mlnode-1",
        "p2 · API node's chain connection",
        "p2 · MLNode p2-mlnode-1",
    ]  # one lane each, top to bottom
    assert "H=42 → v0.3.9" in dom
    assert "S p2 v0.3.9" in dom
    assert "S..D: switch due (old prefix still ok)" in dom and "block held back by the proxy" in dom  # noqa: PT018
    assert "chaos fault applied (1)" in dom
    rows = re.findall(r'<tr data-verdict="(\w+)"( style="display: none;")?>', dom)
    assert [v for v, _ in rows] == [o["verdict"] for o in data["offenders"]]
    assert all(hidden == "" for _, hidden in rows)
    first = data["offenders"][0]
    anchor = re.escape(f'href="#entry-p2-mlnode-1___{first["request_id"]}"')
    assert re.search(anchor, dom), "the first offender links to its journal entry"
    assert re.search(r'<details id="entry-p2-mlnode-1___' + re.escape(first["request_id"]), dom)
    assert 'href="logs/p2-apinode.log"' in dom


def test_the_offender_table_filters_by_verdict(tmp_path):
    _, page = _page(tmp_path)
    dom = rendered_dom(page, tmp_path, "#show=stale")  # late unticked
    rows = re.findall(r'<tr data-verdict="(\w+)"( style="display: none;")?>', dom)
    assert rows
    assert all(hidden for v, hidden in rows if v == "late"), rows
    assert re.search(r'<span id="shown">0</span>', dom)


def test_harness_report_renders_saved_results(tmp_path):
    data, _ = _page(tmp_path)
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "report.json").write_text(json.dumps(data))
    argv = [sys.executable, "-m", "harness", "report", str(tmp_path / "bundle")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"FAIL: two participants, p2 late (202 requests, {data['offenders_total']} offenders)",
        f"HTML report: {tmp_path / 'bundle' / 'report.html'}",
    ]
    assert "id='verdict'>FAIL<" in (tmp_path / "bundle" / "report.html").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "holds no report.json"),
        ('"an audit.json"', "not report data (a JSON str"),
        ("{not json", "not a report JSON"),
        ('{"schema": "harness-report/0"}', "schema 'harness-report/0'"),
    ],
)
def test_harness_report_refuses_what_is_not_report_data(tmp_path, content, message):
    if content is not None:
        (tmp_path / "report.json").write_text(content)
    done = subprocess.run([sys.executable, "-m", "harness", "report", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_the_png_says_what_its_rows_and_bands_are_in_utc_with_the_verdict_in_every_title():
    from harness.audit.png import png_figure

    report = _network_audit()
    fig = png_figure(report, title="live audit of state file x")
    main, net = fig.axes
    assert main.get_title().startswith("FAIL: live audit of state file x — 202 requests")
    assert "first: late POST /v0.3.8/v1/chat/completions at 2025-12-29 09:20:" in main.get_title()
    assert net.get_title().startswith("FAIL: network of 2 participants: BROKEN by p2")
    assert net.get_xlabel() == "seconds since 2025-12-29 09:20:00.000 UTC"
    minor = [t.get_text().strip() for t in main.get_yticklabels(minor=True)]
    assert minor[:2] == ["inference", "management"]  # the two sub-rows of each version's row
    legend = [t.get_text() for t in main.get_legend().get_texts()]
    assert "S..D: switch due (each participant's clock)" in legend
    assert "D..U: requests in flight" in legend
    chain_only = png_figure(audit(report.records, report.timeline, REF))  # no clocks: the chain clock's grace
    labels = [t.get_text() for t in chain_only.axes[0].get_legend().get_texts()]
    assert f"S..S+{REF.grace_ms} ms: chain clock grace" in labels
    assert chain_only.axes[0].get_title().startswith("FAIL: prefix audit")
