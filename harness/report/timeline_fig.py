"""The zoomable timeline of an audit report page (plotly), drawn from harness/report/data.py's JSON.

Top to bottom: the chain's blocks (block H of each hop marked), then per participant its API node's chain connection
(holds of blocks B and B+1, chaos faults) and its MLNodes (every request: colour = verdict, circle = management port,
diamond = inference port, hover = method, path, version). Shaded across a participant's lanes: S..D (the switch was
due: old-prefix requests still ok), D..U (requests in flight when the node switched); the chain clock, where it judged,
is S + the contract's grace. Vertical lines: H (the block the upgrade names) and each participant's S. Time on x in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from harness.audit.png import COLOURS  # one colour per verdict, the same in the PNG and the page

WINDOW_COLOURS = {
    "due": ("rgba(31,119,180,0.16)", "S..D: switch due (old prefix still ok)"),
    "inflight": ("rgba(255,160,0,0.18)", "D..U: requests in flight when it switched"),
    "chain": ("rgba(120,120,120,0.16)", "chain clock: S + grace"),
    "hold": ("rgba(148,103,189,0.45)", "block held back by the proxy"),
}
GL_THRESHOLD = 20_000  # above this many requests the points are drawn with WebGL


def utc(ms: float | None) -> str | None:
    """Unix ms as the UTC text plotly's date axis reads (and people read): 2026-01-02 10:11:12.345."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def build_figure(data: dict[str, Any]):
    import plotly.graph_objects as go

    lanes = [lane["label"] for lane in data["lanes"]]
    labels = ["chain: blocks", *lanes]
    pos = {label: len(labels) - 1 - i for i, label in enumerate(labels)}  # first label on top
    fig = go.Figure()
    _all_lanes(fig, data, labels)
    _requests(fig, data, lanes)
    _blocks(fig, data, pos)
    _windows(fig, data, lanes, pos)
    _chaos(fig, data, lanes)
    _legend_swatches(fig, data)
    rec = data["records"]
    fig.update_layout(
        title={"text": _title(data), "x": 0.01, "font": {"size": 14}},
        height=260 + 34 * len(labels),
        margin={"l": 10, "r": 10, "t": 70, "b": 50},
        hovermode="closest",
        dragmode="zoom",
        legend={"orientation": "v", "x": 1.01, "y": 1, "font": {"size": 11}},
        plot_bgcolor="white",
        xaxis={"type": "date", "title": {"text": "time (UTC)"}, "showgrid": True, "gridcolor": "#eee",
               "tickformat": "%H:%M:%S.%L"},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": labels[::-1], "range": [-0.6, len(labels) - 0.4],
               "showgrid": True, "gridcolor": "#eee", "automargin": True, "fixedrange": True},
        uirevision=len(rec["t"]),
    )  # fmt: skip
    return fig


def _all_lanes(fig, data: dict[str, Any], labels: list[str]) -> None:
    """Every lane on the axis, also one without a point (a participant whose proxy saw no fault)."""
    import plotly.graph_objects as go

    times = data["records"]["t"] or [ms for _, ms in data["blocks"]] or [w["from_ms"] for w in data["windows"]] or [0]
    fig.add_trace(go.Scatter(x=[utc(min(times))] * len(labels), y=labels, mode="markers", showlegend=False,
                             hoverinfo="skip", marker={"opacity": 0}))  # fmt: skip


def _title(data: dict[str, Any]) -> str:
    return (
        f"{data['verdict'].upper()}: {data['title']} ({data['total']} requests, {data['offenders_total']} offenders, "
        f"contract {data['contract']})"
    )


def _requests(fig, data: dict[str, Any], lanes: list[str]) -> None:
    import plotly.graph_objects as go

    rec = data["records"]
    verdicts = data["verdicts"]
    scatter = go.Scattergl if len(rec["t"]) > GL_THRESHOLD else go.Scatter
    stops = set(rec.get("stops") or [])
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (v, c) in enumerate(zip(rec["verdict"], rec["cls"], strict=True)):
        groups.setdefault((v, c), []).append(i)
    for (v, c), idx in sorted(groups.items(), key=lambda kv: (kv[0][0] != 0, kv[0])):  # ok first: offenders on top
        verdict = verdicts[v]
        cls = "management" if c == 0 else "inference"
        fig.add_trace(
            scatter(
                x=[utc(rec["t"][i]) for i in idx],
                y=[lanes[rec["lane"][i]] for i in idx],
                mode="markers",
                name=f"{verdict}: {cls} ({len(idx)})",
                legendgroup=verdict,
                marker={"color": COLOURS[verdict], "size": 6 if verdict == "ok" else 11,
                        "symbol": "circle" if c == 0 else "diamond",
                        "line": {"width": 2 if verdict != "ok" else 0, "color": "black"}},
                hovertemplate="%{text}<extra></extra>",
                text=[_hover(rec, i, verdict, cls, i in stops) for i in idx],
            )
        )  # fmt: skip


def _hover(rec: dict[str, list], i: int, verdict: str, cls: str, stop: bool) -> str:
    version = rec["version"][i] or "no prefix"
    extra = "<br>the node's old-version stop" if stop else ""
    return (
        f"<b>{verdict}</b> {rec['method'][i]} {rec['path'][i]}<br>{cls} port, version {version}<br>"
        f"{utc(rec['t'][i])} UTC, mock {rec['mock'][i]}, id {rec['id'][i]}{extra}"
    )


def _blocks(fig, data: dict[str, Any], pos: dict[str, int]) -> None:
    import plotly.graph_objects as go

    blocks = data["blocks"]
    h_of = {s["height"]: s["version"] for s in data["switches"][1:] if s["height"] is not None}
    if blocks:
        fig.add_trace(
            go.Scatter(
                x=[utc(ms) for _, ms in blocks], y=["chain: blocks"] * len(blocks), mode="markers", name="block (header time)",
                marker={"symbol": "line-ns-open", "size": 12, "color": "#555"},
                hovertemplate="%{text}<extra></extra>", text=[f"block {h}<br>{utc(ms)} UTC" for h, ms in blocks],
            )
        )  # fmt: skip
    times = dict((h, ms) for h, ms in blocks)
    offset = data.get("switch_offset", 0)
    for s in data["switches"][1:]:
        h = s["height"]
        ms = times.get(h) if h is not None else None
        if ms is None and h is not None and offset == 0:
            ms = s["from_ms"]  # the reference contract's switch block is H itself: its header time
        if ms is None:
            continue
        fig.add_shape(type="line", x0=utc(ms), x1=utc(ms), yref="paper", y0=0, y1=1,
                      line={"color": "#1f3b73", "width": 1.5, "dash": "dash"})  # fmt: skip
        fig.add_annotation(x=utc(ms), y=pos["chain: blocks"], text=f"H={h} → {h_of.get(h, s['version'])}", showarrow=False,
                           yshift=14, font={"size": 11, "color": "#1f3b73"}, bgcolor="rgba(255,255,255,0.8)")  # fmt: skip


def _span(data: dict[str, Any], participant: str | None, lanes: list[str], pos: dict[str, int]) -> tuple[float, float]:
    mine = [lane["label"] for lane in data["lanes"] if participant is None or lane["participant"] == participant]
    ys = [pos[label] for label in mine] or [pos[label] for label in lanes]
    return min(ys) - 0.5, max(ys) + 0.5


def _windows(fig, data: dict[str, Any], lanes: list[str], pos: dict[str, int]) -> None:
    import plotly.graph_objects as go

    holds: list[tuple[str | None, str, str]] = []
    for w in data["windows"]:
        y0, y1 = _span(data, w["participant"], lanes, pos)
        s, d, u = utc(w["from_ms"]), utc(w["due_ms"]), utc(w["until_ms"])
        colour = WINDOW_COLOURS["chain" if w["basis"] == "chain" else "due"][0]
        fig.add_shape(type="rect", x0=s, x1=d, y0=y0, y1=y1, fillcolor=colour, line={"width": 0}, layer="below")
        if w["until_ms"] > w["due_ms"]:
            fig.add_shape(type="rect", x0=d, x1=u, y0=y0, y1=y1, fillcolor=WINDOW_COLOURS["inflight"][0], line={"width": 0},
                          layer="below")  # fmt: skip
        fig.add_shape(type="line", x0=s, x1=s, y0=y0, y1=y1, line={"color": "#1f77b4", "width": 2})
        who = f"{w['participant']} " if w["participant"] else ""
        fig.add_annotation(x=s, y=y1, yanchor="bottom", text=f"S {who}{w['version']}", showarrow=False,
                           font={"size": 10, "color": "#1f77b4"}, xanchor="left")  # fmt: skip
        lane = next((x["label"] for x in data["lanes"] if x["kind"] == "participant" and x["participant"] == w["participant"]),
                    None)  # fmt: skip
        for h in w["holds"]:
            if lane is None or h["start_ms"] is None or h["end_ms"] is None:
                continue
            p = pos[lane]
            fig.add_shape(type="rect", x0=utc(h["start_ms"]), x1=utc(h["end_ms"]), y0=p - 0.3, y1=p + 0.3,
                          fillcolor=WINDOW_COLOURS["hold"][0], line={"width": 1, "color": "#6a3d9a"})  # fmt: skip
            holds.append((utc((h["start_ms"] + h["end_ms"]) / 2), lane,
                          f"{w['participant']}: block {h['height']} held {h['held_ms']} ms ({h['outcome']}"
                          f"{': ' + h['reason'] if h['reason'] else ''})"))  # fmt: skip
    if holds:  # hover text for the held blocks (a shape has none)
        fig.add_trace(go.Scatter(x=[x for x, _, _ in holds], y=[y for _, y, _ in holds], mode="markers", showlegend=False,
                                 marker={"size": 18, "opacity": 0}, hovertemplate="%{text}<extra></extra>",
                                 text=[t for _, _, t in holds]))  # fmt: skip


def _chaos(fig, data: dict[str, Any], lanes: list[str]) -> None:
    import plotly.graph_objects as go

    lane_of = {x["participant"]: x["label"] for x in data["lanes"] if x["kind"] == "participant"}
    events = [c for c in data["chaos"] if c.get("participant") in lane_of]
    if not events:
        return
    fig.add_trace(
        go.Scatter(
            x=[utc(c["ms"]) for c in events], y=[lane_of[c["participant"]] for c in events], mode="markers",
            name=f"chaos fault applied ({len(events)})", marker={"symbol": "x-thin-open", "size": 12, "color": "black",
                                                                 "line": {"width": 2}},
            hovertemplate="%{text}<extra></extra>",
            text=[f"chaos: {c['fault']} on {', '.join(c.get('methods') or []) or 'the connection'} ({c['outcome']})<br>"
                  f"{utc(c['ms'])} UTC, connection {c.get('conn')}" for c in events],
        )
    )  # fmt: skip


def _legend_swatches(fig, data: dict[str, Any]) -> None:
    """Legend entries for the shaded windows (shapes have none of their own)."""
    import plotly.graph_objects as go

    kinds = {"chain" if w["basis"] == "chain" else "due" for w in data["windows"]}
    if any(w["until_ms"] > w["due_ms"] for w in data["windows"]):
        kinds.add("inflight")
    if any(h["start_ms"] is not None for w in data["windows"] for h in w["holds"]):
        kinds.add("hold")
    for kind in ("due", "inflight", "chain", "hold"):
        if kind in kinds:
            colour, label = WINDOW_COLOURS[kind]
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, hoverinfo="skip",
                                     marker={"symbol": "square", "size": 14, "color": colour}))  # fmt: skip
