"""The `harness` command. Each subcommand lives with its component: a module listed in COMMAND_MODULES
exposes `register(subparsers)`, which adds its parser(s) and sets `func(args) -> int` on them.

Exit codes everywhere, enforced here (harness.errors.exit_code_for): 0 ok, 1 a check failed, 2 bad input, 3 a testnet
or service that does not answer, or a missing dependency. No exception reaches the user as a traceback (set
HARNESS_DEBUG=1 to see one): an unexpected exception exits 2, never 1, so a crash is never read as a failed check.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from harness.errors import exit_code_for
from harness.util.invocation import cli_command, pasteable

COMMAND_MODULES = [
    "harness.backends.docker.images.cli",
    "harness.ops.audit_cli",
    "harness.model.simnet.cli",
    "harness.model.apinode.cli",
    "harness.chaos.cli",
    "harness.ops.up",
    "harness.mlnode.cli",
    "harness.ops.cli",
    "harness.backends.gonka.cli",
    "harness.report.upstream_cli",
    "harness.report.cli",
]


# Which module registers which command: `harness audit ...` imports only harness.ops.audit_cli (0.07 s), not every
# command's dependencies (0.6 s and 40 MB more). `harness --help` and unknown commands load them all.
COMMANDS = {
    "images": "harness.backends.docker.images.cli",
    "audit": "harness.ops.audit_cli",
    "simnet": "harness.model.simnet.cli",
    "apinode": "harness.model.apinode.cli",
    "chaos-proxy": "harness.chaos.cli",
    "up": "harness.ops.up",
    "demo": "harness.ops.up",
    "mocks": "harness.mlnode.cli",
    "status": "harness.ops.cli",
    "upgrade": "harness.ops.cli",
    "chaos": "harness.ops.cli",
    "down": "harness.ops.cli",
    "keys": "harness.ops.cli",
    "cache": "harness.backends.gonka.cli",
    "upstream-results": "harness.report.upstream_cli",
    "report": "harness.report.cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or only the module that registers `command` when it is known."""
    parser = argparse.ArgumentParser(prog=cli_command(), description="Gonka MLNode upgrade harness")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    only = COMMANDS.get(command or "")
    for name in [only] if only in COMMAND_MODULES else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    from harness.util.progress import reporting

    try:
        with reporting(sys.stderr):  # long waits say what they await (stderr: stdout may be JSON)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        code, message = exit_code_for(e)
        print(f"harness {args.command}: {pasteable(message)}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
