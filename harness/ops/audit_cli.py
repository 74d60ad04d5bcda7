"""`harness audit`: judge saved WireMock journals against a switch timeline.

    harness audit --journal node1.json --journal node2.json --switches switches.json [--contract reference|pr228]
                  [--grace-ms N] [--early-tolerance-ms N] [--no-stop-rule] [--heights FILE] [--format text|json]
                  [--png FILE] [--max-offenders N | --all-offenders] [--max-journal-mb N]

--contract NAME           what the API node promises (harness/audit/contracts.py): reference (default; old prefix and
                          the old-version stop allowed 750 ms after the switch block) or pr228 (30 s refresh tick).
                          --grace-ms, --early-tolerance-ms and --no-stop-rule override single terms of it. Saved
                          journals are judged on the chain clock (header times + grace) unless the switches file
                          gives each switch its own due_ms and until_ms (a hop's delivery clock, as saved in a
                          failure bundle's switch timeline).

--journal FILE            the JSON body of WireMock's GET /__admin/requests; mock id = file stem, node = file stem.
--journal FILE:VERSION    side-by-side topology: this journal is from the WireMock that serves VERSION behind nginx
                          (nginx strips the prefix, so VERSION is what the request used). Node = the file stem with a
                          trailing `-VERSION` / `_VERSION` removed (node1-v0.3.8.json:v0.3.8 -> node1), so the
                          per-version journals of one node share a node for the stop rule.
--journal FILE:VERSION:NODE   the same with an explicit node id.
--switches FILE           JSON list [{"version": "v0.3.8", "from_ms": 0}, {"version": "v0.3.9", "from_ms": ..., "height": 42}]
                          (optionally "due_ms" and "until_ms" per switch: harness/audit/timeline.py)
--heights FILE            optional JSON list of [height, block_time_ms] pairs for the offenders' height brackets
                          (default: the heights of the switches).

Journals are streamed entry by entry, at most --max-journal-mb MiB in all (default 256): a bigger input, or one that
never ends (/dev/zero, a FIFO), is refused with exit 2 before it can exhaust memory. The report lists the first
--max-offenders offenders (default 100; `offenders_total` and the counts cover all); --all-offenders lists every one.

Exit codes: 0 pass, 1 fail (offenders), 2 bad input (unreadable file, malformed JSON or journal, switches out of
order, bad version string), 3 (--live) the testnet cannot be reached.

--live [--since HEIGHT]   audit a RUNNING testnet instead of files: its mocks' journals, and the switch timeline read
                          from the chain (MLNodeVersion per height; see harness/ops/live_audit.py). The testnet is
                          found like `harness status` finds it: --state-file, --env-file or --chain-rpc. It writes
                          audit.png, report.html (links to the running mocks' entries and the testnet's logs),
                          report.json and audit.json into --out DIR (default harness-runs/audit-live-<time>, kept);
                          --png FILE puts the picture there instead, --html FILE copies the page there; --json for JSON.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

from harness.audit.contracts import NAMES as CONTRACT_NAMES
from harness.audit.contracts import SwitchContract, contract_for
from harness.audit.journal_file import DEFAULT_MAX_MB, ReadBudget, iter_journal_batches
from harness.audit.records import RequestRecord, records_from_entries
from harness.audit.render import DEFAULT_MAX_OFFENDERS, write_report_json
from harness.audit.timeline import SwitchTimeline
from harness.audit.verdict import audit
from harness.errors import ConfigError
from harness.validate import arg_type, as_height, as_unix_ms, int_text, shown
from harness.versions import VERSION_RE, check_version

MAX_SMALL_FILE_BYTES = 16 << 20


_non_negative_int = arg_type(int_text, what="a whole number of milliseconds")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "audit",
        help="Judge MLNode mock journals: did every request after each switch use the new version prefix?",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--journal",
        action="append",
        metavar="FILE[:VERSION[:NODE]]",
        help="A saved GET /__admin/requests body (repeatable). :VERSION marks a side-by-side backend.",
    )
    p.add_argument("--switches", metavar="FILE", help="JSON list of {version, from_ms, height} (required without --live).")
    p.add_argument("--heights", metavar="FILE", help="JSON list of [height, block_time_ms] for height brackets.")
    p.add_argument(
        "--contract", choices=CONTRACT_NAMES, default="reference", help="API node contract to audit against (default reference)."
    )
    p.add_argument(
        "--grace-ms",
        type=_non_negative_int,
        default=None,
        help="Old prefix and the old-version stop allowed this long after a switch (default: the contract's).",
    )
    p.add_argument(
        "--early-tolerance-ms", type=_non_negative_int, default=0, help="New prefix allowed this long before its switch."
    )
    p.add_argument("--no-stop-rule", action="store_true", help="Do not require one POST /<old>/api/v1/stop per node.")
    p.add_argument("--format", choices=("text", "json"), default="text", help="Output format (default text).")
    p.add_argument(
        "--max-offenders",
        type=arg_type(int_text, hi=10**9),
        default=DEFAULT_MAX_OFFENDERS,
        help=f"List at most this many offenders (default {DEFAULT_MAX_OFFENDERS}); counts always cover all of them.",
    )
    p.add_argument("--all-offenders", action="store_true", help="List every offender (the JSON is streamed).")
    p.add_argument(
        "--max-journal-mb",
        type=arg_type(int_text, lo=1, hi=1 << 20),
        default=DEFAULT_MAX_MB,
        help=f"Refuse journals bigger than this in all (default {DEFAULT_MAX_MB} MiB): bounds the audit's memory.",
    )
    p.add_argument("--png", metavar="FILE", help="Also write the timeline picture here.")
    p.add_argument("--html", metavar="FILE", help="Also write the HTML report here (one self-contained page).")
    from harness.ops.live_cli import add_live_arguments

    add_live_arguments(p)
    p.set_defaults(func=run)


def parse_journal_spec(spec: str) -> tuple[Path, str | None, str | None]:
    """`FILE`, `FILE:VERSION` or `FILE:VERSION:NODE` -> (path, served_by_version, node)."""
    parts = spec.rsplit(":", 2)
    if len(parts) == 3 and parts[1].startswith("v") and not Path(spec).exists():
        return Path(parts[0]), check_version(parts[1], field=f"--journal {spec}: VERSION"), parts[2] or None
    parts = spec.rsplit(":", 1)
    if len(parts) == 2 and not Path(spec).exists():
        if VERSION_RE.match(parts[1]):
            return Path(parts[0]), parts[1], None
        if parts[1].startswith("v"):
            check_version(parts[1], field=f"--journal {spec}: VERSION")
    return Path(spec), None, None


def _default_node(stem: str, version: str | None) -> str:
    if version is not None:
        for sep in ("-", "_", "."):
            if stem.endswith(sep + version) and len(stem) > len(version) + 1:
                return stem[: -len(version) - 1]
    return stem


def load_json_file(path: Path, what: str, *, max_bytes: int = MAX_SMALL_FILE_BYTES) -> Any:
    """A small JSON file (switches, heights) read whole, at most max_bytes."""
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read it ({e.strerror or e}); check the path") from None
    if len(raw) > max_bytes:
        raise ConfigError(f"{what} {path}: larger than {max_bytes >> 20} MiB; expected a small JSON file")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path}: not UTF-8 text; expected a JSON file") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{what} {path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise ConfigError(f"{what} {path}: JSON nested too deeply; expected a flat list") from None


def load_records(specs: list[str], *, max_mb: int = DEFAULT_MAX_MB) -> list[RequestRecord]:
    """Every journal streamed entry by entry (never one JSON tree), together at most max_mb MiB."""
    records: list[RequestRecord] = []
    mock_ids: dict[str, Path] = {}
    budget = ReadBudget(max_mb << 20)
    for spec in specs:
        path, served, node = parse_journal_spec(spec)
        mock_id = path.stem
        if mock_id in mock_ids:
            raise ConfigError(
                f"--journal {path}: mock id {mock_id!r} (the file stem) is also used by {mock_ids[mock_id]}; rename one file"
            )
        mock_ids[mock_id] = path
        try:
            records += records_from_entries(
                iter_journal_batches(path, budget),
                mock_id=mock_id,
                node_id=node or _default_node(mock_id, served),
                served_by_version=served,
            )
        except ConfigError as e:
            text = str(e)
            raise ConfigError(text if text.startswith(f"journal {path}") else f"journal {path}: {text}") from None
    return records


def load_heights(path: Path) -> list[tuple[int, int]]:
    data = load_json_file(path, "heights")
    if not isinstance(data, list):
        raise ConfigError(f"heights {path}: expected a JSON list of [height, block_time_ms], got {type(data).__name__}")
    out = []
    for i, item in enumerate(data):
        if isinstance(item, dict) and {"height", "time_ms"} <= set(item):
            item = [item["height"], item["time_ms"]]
        if not (isinstance(item, list) and len(item) == 2):
            raise ConfigError(f"heights {path}: entry {i} must be [height, block_time_ms] (integers), got {shown(item)}")
        out.append((as_height(item[0], f"heights {path}: entry {i}: height"),
                    as_unix_ms(item[1], f"heights {path}: entry {i}: block_time_ms")))  # fmt: skip
    return out


def run(args: argparse.Namespace) -> int:
    if getattr(args, "live", False):
        from harness.ops.live_cli import run_live_cli

        return run_live_cli(args)
    if not args.journal or not args.switches:
        raise ConfigError("give --journal FILE (repeatable) and --switches FILE, or --live to audit a running testnet")
    switches_path = Path(args.switches)
    timeline = SwitchTimeline.from_json(load_json_file(switches_path, "switches"), source=f"switches {switches_path}")
    records = load_records(args.journal, max_mb=args.max_journal_mb)
    gc.freeze()  # the records live until the command ends: the collector need not rescan them (-12% CPU on 1M)
    try:
        return _judge(args, timeline, records)
    finally:
        gc.unfreeze()


def _judge(args: argparse.Namespace, timeline: SwitchTimeline, records: list[RequestRecord]) -> int:
    heights = load_heights(Path(args.heights)) if args.heights else None
    base = contract_for(args.contract)
    contract = SwitchContract(
        grace_ms=base.grace_ms if args.grace_ms is None else args.grace_ms,
        stop_old=base.stop_old and not args.no_stop_rule,
        early_tolerance_ms=args.early_tolerance_ms,
        switch_offset=base.switch_offset,
        name=base.name if args.grace_ms is None else f"{base.name} (grace {args.grace_ms} ms)",
    )
    report = audit(records, timeline, contract, heights=heights)
    cap = None if args.all_offenders else args.max_offenders
    if args.format == "json":
        write_report_json(report, sys.stdout, max_offenders=cap)
    else:
        sys.stdout.write(report.to_text(max_offenders=len(report.offenders) if cap is None else cap))
    if args.png:
        from harness.audit.png import render_png

        out = render_png(report, timeline, args.png, title=f"audit of {len(args.journal)} journal(s)")
        print(f"timeline picture: {out}", file=sys.stderr)
    if args.html:
        from harness.report.data import report_data
        from harness.report.html import write_report

        names = ", ".join(Path(parse_journal_spec(s)[0]).name for s in args.journal)
        data = report_data(report, title=f"audit of {names}", blocks=heights or (), max_offenders=cap or len(report.offenders))
        print(f"HTML report: {write_report(data, args.html)}", file=sys.stderr)
    return 0 if report.passed else 1
