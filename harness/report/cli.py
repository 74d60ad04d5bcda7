"""`harness report PATH [--out FILE]`: render the HTML report again from saved results.

PATH is a folder a failure bundle, `harness demo --out DIR` or `harness audit --live --out DIR` wrote (its
report.json), or such a report JSON file itself. The page goes to --out FILE (default: report.html beside the JSON);
the command prints its path and the verdict. Exit 0 when the page was written (whatever the verdict), 2 for a path
that holds no report data (an audit.json from `harness audit --format json` has no requests to draw: audit with
--html FILE instead).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.errors import ConfigError

MAX_REPORT_BYTES = 512 << 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render the HTML report from a failure bundle, a demo's folder or a report.json",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="BUNDLE_OR_JSON", help="a folder with report.json, or a report JSON file")
    p.add_argument("--out", metavar="FILE", default=None, help="where the page goes (default: report.html beside the JSON)")
    p.set_defaults(func=run)


def load(path: Path) -> tuple[dict, Path]:
    """The report data at `path` (a folder holding report.json, or the file) and the file it came from."""
    from harness.report.data import SCHEMA

    source = path / "report.json" if path.is_dir() else path
    if not source.is_file():
        why = "holds no report.json" if path.is_dir() else "does not exist"
        raise ConfigError(f"{path}: {why}; give a failure bundle, a `harness demo --out` folder, or a report.json")
    if source.stat().st_size > MAX_REPORT_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_REPORT_BYTES >> 20} MiB; not a report JSON the harness wrote")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ConfigError(f"{source}: not a report JSON ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = f"schema {data.get('schema')!r}" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
        raise ConfigError(
            f"{source}: not report data ({got}, expected schema {SCHEMA!r}); an audit.json has no requests to draw: "
            "render an audit with `harness audit ... --html FILE`"
        )
    return data, source


def run(args: argparse.Namespace) -> int:
    from harness.report.html import write_report

    data, source = load(Path(args.path))
    out = Path(args.out) if args.out else source.with_suffix(".html")
    try:
        written = write_report(data, out)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ConfigError(f"{source}: report data is malformed ({type(e).__name__}: {e}); write it again") from None
    print(f"{data['verdict'].upper()}: {data['title']} ({data['total']} requests, {data['offenders_total']} offenders)")
    print(f"HTML report: {written.resolve()}")
    return 0
