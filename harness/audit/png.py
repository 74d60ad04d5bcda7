"""The timeline picture: time on x, version on y, one point per request coloured by verdict, switches as lines.

Rows: the timeline's versions bottom to top, then `unknown` and `unversioned`; each has two sub-rows, labelled on the
y axis: management-port requests slightly above the row's centre, inference-port requests slightly below. Offenders
are drawn last and larger, so a single stale request among 100k ok ones is visible at a glance. Shaded, and named in
the legend: each participant's S..D (switch due) and D..U (requests in flight) per hop, or, for an audit without
clocks, the chain clock's grace after S. The x axis counts seconds from t0, a UTC time written in its label; the
verdict leads every title. Matplotlib with the Agg backend (no display needed).

A report with a network view (several participants) gets a second panel on the same time axis: one row per
participant, its requests coloured by verdict, a black bar at its observed switch for each hop, and the verdict
(atomic, or the participant and request that broke it) as the panel's title.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness.audit.contracts import SwitchContract
from harness.audit.records import RequestRecord
from harness.audit.results import AuditReport, Offender
from harness.audit.timeline import SwitchTimeline
from harness.audit.verdict import audit

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLOURS = {
    "ok": "#2ca02c",
    "late": "#e377c2",
    "stale": "#d62728",
    "early": "#ff7f0e",
    "unversioned": "#9467bd",
    "unknown_version": "#8c564b",
}


def utc_label(t0_ms: int) -> str:
    """t0 as people read it: 'seconds since 2026-01-02 10:11:12.345 UTC'."""
    when = datetime.fromtimestamp(t0_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"seconds since {when} UTC"


def _shade_windows(ax: Axes, report: AuditReport, timeline: SwitchTimeline, t0: int) -> None:
    """Each participant's S..D and D..U per hop (its clock), else the chain clock's grace after each S."""
    if report.timing:
        spans = [(t.from_ms, t.due_ms, t.until_ms) for t in report.timing]
        due_label, inflight_label = "S..D: switch due (each participant's clock)", "D..U: requests in flight"
    else:
        g = report.contract.grace_ms
        spans = [(s.from_ms, s.due(g), s.until(g)) for s in timeline.switches[1:]]
        due_label, inflight_label = f"S..S+{g} ms: chain clock grace", "in flight"
    for n, (s, d, u) in enumerate(spans):
        if d > s:
            ax.axvspan(
                (s - t0) / 1000, (d - t0) / 1000, color="#1f77b4", alpha=0.12, zorder=0, label=due_label if n == 0 else None
            )
        if u > d:
            ax.axvspan((d - t0) / 1000, (u - t0) / 1000, color="#ff9800", alpha=0.15, zorder=0,
                       label=inflight_label if n == 0 else None)  # fmt: skip


def render_png(
    report_or_records: AuditReport | Iterable[RequestRecord],
    timeline: SwitchTimeline | None = None,
    path: str | Path = "audit.png",
    *,
    contract: SwitchContract | None = None,
    title: str | None = None,
) -> Path:
    """Write the PNG and return its path. Records are audited first (with `contract`, default SwitchContract())."""
    fig = png_figure(report_or_records, timeline, contract=contract, title=title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def png_figure(
    report_or_records: AuditReport | Iterable[RequestRecord],
    timeline: SwitchTimeline | None = None,
    *,
    contract: SwitchContract | None = None,
    title: str | None = None,
) -> Figure:
    """The matplotlib Figure render_png saves."""
    report, timeline = _report_and_timeline(report_or_records, timeline, contract)
    versions = timeline.versions
    row: dict[str | None, int] = {v: i for i, v in enumerate(versions)}
    unknown_row, unversioned_row = len(versions), len(versions) + 1
    t0 = _t0(report, timeline)
    xs, ys = _verdict_points(report, row, unknown_row, t0)
    fig, ax = _new_figure(report, t0, timeline)
    _plot_verdicts(ax, xs, ys)
    stops = _plot_expected_stops(ax, report, row, t0)
    _shade_windows(ax, report, timeline, t0)
    _draw_switches(ax, timeline, t0, unversioned_row)
    missing = _plot_missing_stops(ax, report, timeline, row, t0)
    _label_rows(ax, versions, unversioned_row)
    ax.set_xlabel(utc_label(t0) if report.network is None else "")  # the participant panel has it
    ax.set_title(_headline(report, title), fontsize=9)
    if any(xs.values()) or missing or stops or len(timeline) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, markerscale=1.5, borderaxespad=0.0)
    fig.tight_layout()
    return fig


def _report_and_timeline(
    report_or_records: AuditReport | Iterable[RequestRecord], timeline: SwitchTimeline | None, contract: SwitchContract | None
) -> tuple[AuditReport, SwitchTimeline]:
    """The report to draw (auditing records first) and its timeline as a SwitchTimeline."""
    if isinstance(report_or_records, AuditReport):
        report = report_or_records
        timeline = timeline or report.timeline
    else:
        if timeline is None:
            raise TypeError("render_png: a timeline is needed when records (not a report) are given")
        report = audit(report_or_records, timeline, contract)
    if not isinstance(timeline, SwitchTimeline):
        timeline = SwitchTimeline(timeline)
    return report, timeline


def _t0(report: AuditReport, timeline: SwitchTimeline) -> int:
    """The x axis origin: the first record's time, else the first switch with a time, else 0."""
    t0 = report.records[0].logged_ms if report.records else 0
    nonzero = [s.from_ms for s in timeline.switches if s.from_ms > 0]
    if not report.records and nonzero:
        t0 = nonzero[0]
    return t0


def _verdict_points(
    report: AuditReport, row: dict[str | None, int], unknown_row: int, t0: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each verdict's request points (x: seconds from t0; y: version row, management above, inference below)."""
    unversioned_row = unknown_row + 1
    xs: dict[str, list[float]] = {k: [] for k in COLOURS}
    ys: dict[str, list[float]] = {k: [] for k in COLOURS}
    for r, verdict in zip(report.records, report.verdicts, strict=True):
        if r.version_seen is None:
            y = unversioned_row
        else:
            y = row.get(r.version_seen, unknown_row)
        xs[verdict].append((r.logged_ms - t0) / 1000.0)
        ys[verdict].append(y + (0.12 if r.port_class == "management" else -0.12))
    return xs, ys


def _new_figure(report: AuditReport, t0: int, timeline: SwitchTimeline) -> tuple[Figure, Axes]:
    """The Figure and its prefix axes, with the participant panel below drawn when the report has a network view."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg without pyplot: no global backend switch
    from matplotlib.figure import Figure

    network = report.network
    fig = Figure(figsize=(12, 4.5 + (1.2 + 0.45 * len(network.rows) if network else 0)), dpi=100)
    FigureCanvasAgg(fig)
    if network is not None:
        ax, net_ax = fig.subplots(2, 1, sharex=True, height_ratios=[4.5, 1.2 + 0.45 * len(network.rows)])
        _draw_network(net_ax, report, t0, timeline)
    else:
        ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def _plot_verdicts(ax: Axes, xs: dict[str, list[float]], ys: dict[str, list[float]]) -> None:
    """The request points, one series per verdict; offenders drawn last and larger."""
    for verdict in ("ok", "unknown_version", "unversioned", "early", "late", "stale"):
        if not xs[verdict]:
            continue
        big = verdict != "ok"
        ax.plot(
            xs[verdict],
            ys[verdict],
            linestyle="none",
            marker="o" if big else ".",
            markersize=7 if big else 3,
            color=COLOURS[verdict],
            label=f"{verdict} ({len(xs[verdict])})",
            rasterized=True,
            zorder=3 if big else 2,
        )


def _plot_expected_stops(ax: Axes, report: AuditReport, row: dict[str | None, int], t0: int) -> list[int]:
    """Mark the old versions' expected stop requests; return their record indexes."""
    stops = sorted(report.expected_stop_indexes)
    if stops:
        ax.plot(
            [(report.records[i].logged_ms - t0) / 1000.0 for i in stops],
            [row[report.records[i].version_seen] + 0.12 for i in stops],
            linestyle="none",
            marker="D",
            markersize=6,
            markerfacecolor="none",
            color="#1b5e20",
            label=f"old-version stop ({len(stops)})",
            zorder=3,
        )
    return stops


def _draw_switches(ax: Axes, timeline: SwitchTimeline, t0: int, unversioned_row: int) -> None:
    """A vertical line per switch at its block's header time, annotated with height and new version."""
    for n, s in enumerate(timeline.switches[1:]):
        x = (s.from_ms - t0) / 1000.0
        ax.axvline(x, color="#1f77b4", linewidth=1.2, zorder=1, label="switch block's header time" if n == 0 else None)
        label = f"h{s.height} → {s.version}" if s.height is not None else f"→ {s.version}"
        ax.annotate(label, (x, unversioned_row + 0.45), rotation=90, va="top", ha="right", fontsize=8, color="#1f77b4")


def _plot_missing_stops(
    ax: Axes, report: AuditReport, timeline: SwitchTimeline, row: dict[str | None, int], t0: int
) -> list[Offender]:
    """A cross where each missing stop was due (its version's end of grace); return the missing-stop offenders."""
    grace_s = report.contract.grace_ms / 1000.0
    missing = [o for o in report.offenders if o.verdict == "missing_stop"]
    for n, o in enumerate(missing):
        hop = timeline.index_of(o.expected_version)
        if hop is None or hop + 1 >= len(timeline):
            continue
        x = (timeline.switches[hop + 1].from_ms - t0) / 1000.0 + grace_s
        ax.plot(
            [x],
            [row[o.expected_version] + 0.12],
            marker="x",
            markersize=10,
            color="#d62728",
            zorder=4,
            label=f"missing stop ({len(missing)})" if n == 0 else None,
        )
    return missing


def _label_rows(ax: Axes, versions: list[str], unversioned_row: int) -> None:
    """The y axis: a bold tick per version row (then unknown, unversioned) and its management/inference sub-rows."""
    names = [*versions, "unknown", "unversioned"]
    ax.set_yticks(range(len(names)), names, fontweight="bold")
    ax.set_yticks([y + d for y in range(len(names)) for d in (-0.12, 0.12)],
                  ["inference  " if d < 0 else "management  " for _ in names for d in (-0.12, 0.12)],
                  minor=True, fontsize=6, color="#555")  # fmt: skip
    ax.tick_params(axis="y", which="minor", length=0)
    ax.set_ylim(-0.6, unversioned_row + 0.6)
    ax.set_ylabel("version prefix seen")
    ax.grid(axis="y", alpha=0.3)


def _headline(report: AuditReport, title: str | None) -> str:
    """The title: verdict, what was audited, counts, and the first offender with its time and source."""
    first = report.first_offender
    headline = (
        f"{report.verdict.upper()}: {title or 'prefix audit'} — {len(report.records)} requests, {len(report.offenders)} offenders"
    )
    if first is not None:
        where = f"mock {first.mock_id}, node {first.node}"
        at = "" if first.logged_ms is None else f" at {utc_label(first.logged_ms).removeprefix('seconds since ')}"
        headline += f"\nfirst: {first.verdict} {first.method} {first.url}{at} ({where})"
    return headline


def _draw_network(ax: Axes, report: AuditReport, t0: int, timeline: SwitchTimeline) -> None:
    """One row per participant: its requests by verdict, its observed switch per hop, the switch lines."""
    network = report.network
    assert network is not None
    row = {r.participant: i for i, r in enumerate(network.rows)}
    owner = {n: r.participant for r in network.rows for n in r.nodes}
    xs: dict[str, list[float]] = {k: [] for k in COLOURS}
    ys: dict[str, list[float]] = {k: [] for k in COLOURS}
    for r, verdict in zip(report.records, report.verdicts, strict=True):
        pid = owner.get(r.node_key)
        if pid is not None:
            xs[verdict].append((r.logged_ms - t0) / 1000.0)
            ys[verdict].append(row[pid])
    for verdict in ("ok", "unknown_version", "unversioned", "early", "late", "stale"):
        if xs[verdict]:
            big = verdict != "ok"
            ax.plot(xs[verdict], ys[verdict], linestyle="none", marker="o" if big else ".", markersize=6 if big else 2,
                    color=COLOURS[verdict], rasterized=True, zorder=3 if big else 2)  # fmt: skip
    for n, hop in enumerate(network.hops):
        seen = [(s.first_ms, s.participant) for s in hop.switches if s.first_ms is not None]
        ax.plot([(ms - t0) / 1000.0 for ms, _ in seen], [row[p] for _, p in seen], linestyle="none",
                marker="|", markersize=16, markeredgewidth=2.5, color="black", zorder=4,
                label="participant's switch (first new-version request)" if n == 0 else None)  # fmt: skip
    for s in timeline.switches[1:]:
        ax.axvline((s.from_ms - t0) / 1000.0, color="#1f77b4", linewidth=1.2, zorder=1)
    ax.set_yticks(range(len(network.rows)), [f"{r.participant} ({r.verdict})" for r in network.rows])
    ax.set_ylim(-0.6, len(network.rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(utc_label(t0))
    ax.grid(axis="y", alpha=0.3)
    spreads = ", ".join(f"{h.new_version}: {'-' if h.spread_ms is None else h.spread_ms} ms" for h in network.hops)
    ax.set_title(
        f"{report.verdict.upper()}: {network.headline()[:160]}\nswitch spread first-to-last participant: {spreads}", fontsize=8
    )
    if network.hops:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, borderaxespad=0.0)
