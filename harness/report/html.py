"""One self-contained HTML page per audit: the verdict and counts, the zoomable timeline (harness/report/timeline_fig.py),
what each participant's clock was, and every offender in a table that filters by verdict, each linked to its journal
entry and to the components' logs. plotly.js is inlined: the page fetches nothing when it is opened.

    write_report(data, "report.html")      # data: harness.report.data.report_data(...), also saved as report.json
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.report.data import SCHEMA
from harness.report.timeline_fig import COLOURS, build_figure, utc

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.2em 2em;color:#222}
h1{font-size:1.35em;margin:.2em 0}.verdict{display:inline-block;padding:.15em .6em;border-radius:.3em;color:#fff;font-weight:700}
.pass{background:#2e7d32}.fail{background:#c62828}table{border-collapse:collapse;margin:.5em 0;font-size:.86em}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.muted{color:#666;font-size:.88em}.swatch{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.3em}
#filters label{margin-right:1em;cursor:pointer}pre{background:#f7f7f7;padding:.6em;overflow:auto;max-height:24em;font-size:.8em}
details{margin:.3em 0}.clock{margin:.15em 0}
"""

FILTER_JS = """
const wanted = location.hash.match(/show=([\\w,]*)/);  // a link may say which verdicts to show: #show=late,stale
if (wanted) { const keep = new Set(wanted[1].split(','));
  document.querySelectorAll('#filters input').forEach(e => { e.checked = keep.has(e.value); }); }
function applyFilter(){
  const on = new Set([...document.querySelectorAll('#filters input:checked')].map(e => e.value));
  let shown = 0;
  document.querySelectorAll('#offenders tbody tr').forEach(tr => {
    const v = on.has(tr.dataset.verdict); tr.style.display = v ? '' : 'none'; if (v) shown++;
  });
  document.getElementById('shown').textContent = shown;
}
document.querySelectorAll('#filters input').forEach(e => e.addEventListener('change', applyFilter));
applyFilter();
"""


def write_report(data: dict[str, Any], path: str | Path) -> Path:
    """Render `data` to a self-contained HTML file at `path` (its folder is created)."""
    if data.get("schema") != SCHEMA:

        raise ConfigError(f"report data: schema {data.get('schema')!r}, expected {SCHEMA!r} (written by report_data)")
    fig = build_figure(data)
    plot = fig.to_html(
        full_html=False,
        include_plotlyjs=True,
        include_mathjax=False,
        div_id="timeline",
        config={"displaylogo": False, "scrollZoom": True, "responsive": True},
        post_script="document.body.dataset.timeline = 'drawn';",
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(data, plot), encoding="utf-8")
    return out


def page(data: dict[str, Any], plot_html: str) -> str:
    e = html.escape
    title = f"{data['verdict'].upper()}: {data['title']}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title><style>{CSS}</style></head>",
        f"<body data-verdict='{e(data['verdict'])}'>",
        f"<h1><span class='verdict {e(data['verdict'])}' id='verdict'>{e(data['verdict'].upper())}</span> "
        f"{e(data['title'])}</h1>",
        f"<p class='muted'>under test: {e(data['under_test'] or 'not recorded')}; contract {e(data['contract'])}; "
        f"{data['total']} requests, {data['offenders_total']} offenders</p>",
        _counts(data),
        _clocks(data),
        "<h2>Timeline</h2>",
        "<p class='muted'>Drag to zoom, double-click to reset, hover a point for its request. Lanes: the chain's blocks; "
        "per participant its API node's chain connection (held blocks, chaos faults) and each of its MLNodes (circle: "
        "management port, diamond: inference port; colour: verdict). Shaded: S..D, the switch due (old prefix still "
        "ok); D..U, requests in flight; grey, the chain clock (S + grace). Dashed: block H's header time. Times in "
        "UTC.</p>",
        plot_html,
        _offenders(data),
        _entries(data),
        _logs(data),
        f"<script>{FILTER_JS}</script></body></html>",
    ]
    return "\n".join(parts)


def _counts(data: dict[str, Any]) -> str:
    verdicts = [v for v in data["verdicts"] if any(c.get(v) for c in data["per_hop"].values()) or data["counts"].get(v)]
    head = "".join(f"<th>{html.escape(v)}</th>" for v in verdicts)
    counts = data["counts"]
    rows = ["<tr><th>all</th>" + "".join(f"<td>{counts.get(v, 0)}</td>" for v in verdicts) + "</tr>"]
    for name, title in (("per_hop", "expected {}"), ("per_class", "{} port")):
        for key, counts in data[name].items():
            cells = "".join(f"<td>{counts.get(v, 0)}</td>" for v in verdicts)
            rows.append(f"<tr><th>{html.escape(title.format(key))}</th>{cells}</tr>")
    net = data.get("network")
    extra = ""
    if net:
        extra = f"<p id='network'><b>{html.escape(net['headline'])}</b></p>" + "".join(
            f"<p class='muted'>{html.escape(h)}</p>" for h in net["hops"]
        )
    return f"<table id='counts'><tr><th>requests</th>{head}</tr>{''.join(rows)}</table>{extra}"


def _clocks(data: dict[str, Any]) -> str:
    lines = "".join(f"<div class='clock'>{html.escape(w['describe'])}</div>" for w in data["windows"])
    return f"<h2>Clocks</h2><div id='clocks'>{lines or '<span class=muted>no switch in this audit</span>'}</div>"


def _offenders(data: dict[str, Any]) -> str:
    e = html.escape
    offenders = data["offenders"]
    present = sorted({o["verdict"] for o in offenders}, key=lambda v: (v not in data["verdicts"], v))
    boxes = "".join(
        f"<label><input type='checkbox' value='{e(v)}' checked><span class='swatch' "
        f"style='background:{COLOURS.get(v, '#000')}'></span>{e(v)} ({sum(o['verdict'] == v for o in offenders)})</label>"
        for v in present
    )
    rows = []
    for o in offenders:
        key = f"{o['mock']}/{o['request_id']}"
        where = f"{o['height_bracket'][0]}..{o['height_bracket'][1]}"
        rows.append(
            f"<tr data-verdict='{e(o['verdict'])}'><td>{e(o['verdict'])}</td><td>{e(o['reason'] or '')}</td>"
            f"<td>{e(utc(o['logged_ms']) or '-')}</td><td>{e(o['participant'] or '-')}</td><td>{e(o['node'] or '-')}</td>"
            f"<td>{e(o['method'])} {e(o['url'])}</td><td>{e(o['expected_version'] or '-')}</td>"
            f"<td>{e(o['seen_version'] or 'no prefix')}</td><td>{e(where)}</td><td>{_journal_link(data, o, key)} "
            f"{_log_links(data, o)}</td></tr>"
        )
    more = data["offenders_total"] - len(offenders)
    capped = f" (the first {len(offenders)}; {more} more are in the counts)" if more > 0 else ""
    if not offenders:
        return "<h2>Offenders</h2><p id='offenders'>none: every request complied</p>"
    return (
        f"<h2>Offenders{capped}</h2><div id='filters'>show: {boxes} <span class='muted'>(<span id='shown'></span> "
        "shown)</span></div><table id='offenders'><thead><tr><th>verdict</th><th>reason</th><th>time (UTC)</th>"
        "<th>participant</th><th>node</th><th>request</th><th>expected</th><th>seen</th><th>heights</th><th>evidence</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _journal_link(data: dict[str, Any], o: dict[str, Any], key: str) -> str:
    if o["logged_ms"] is None:
        return ""
    if key in data["entries"]:
        return f"<a href='#entry-{_anchor(key)}'>journal entry</a>"
    href = data["links"]["journals"].get(o["mock"] or "")
    if not href:
        return ""
    href = href.replace("{id}", o["request_id"] or "")  # a live WireMock: its admin URL of this one entry
    return f"<a href='{html.escape(href)}'>journal ({html.escape(o['request_id'] or '?')})</a>"


def _log_links(data: dict[str, Any], o: dict[str, Any]) -> str:
    logs = data["links"]["logs"]
    who = [x for x in (o.get("participant"), o.get("node"), o.get("mock")) if x]
    mine = [n for n in logs if any(w in n for w in who)] or [n for n in logs if "api" in n]
    return " ".join(f"<a href='{html.escape(logs[n])}'>{html.escape(n)} log</a>" for n in mine[:4])


def _anchor(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key)


def _entries(data: dict[str, Any]) -> str:
    if not data["entries"]:
        return ""
    items = "".join(
        f"<details id='entry-{_anchor(k)}'><summary>{html.escape(k)}</summary><pre>{html.escape(json.dumps(v, indent=1))}"
        "</pre></details>"
        for k, v in data["entries"].items()
    )
    return f"<h2>Journal entries of the offenders</h2>{items}"


def _logs(data: dict[str, Any]) -> str:
    logs = data["links"]["logs"]
    journals = data["links"]["journals"]
    if not logs and not journals:
        return ""
    li = "".join(f"<li><a href='{html.escape(h)}'>{html.escape(n)}</a></li>" for n, h in sorted(logs.items()))
    lj = "".join(f"<li><a href='{html.escape(h)}'>{html.escape(n)} journal</a></li>" for n, h in sorted(journals.items()))
    return f"<h2 id='logs'>Logs and journals</h2><ul>{li}{lj}</ul>"
