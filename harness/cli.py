"""The `harness` command. Each subcommand lives with its component: a module listed in COMMAND_MODULES
exposes `register(subparsers)`, which adds its parser(s) and sets `func(args) -> int` on them.

Exit codes everywhere, enforced here (harness.errors.exit_code_for): 0 ok, 1 a check failed, 2 bad input, 3 a testnet
or service that does not answer, or a missing dependency. No exception reaches the user as a traceback (set
HARNESS_DEBUG=1 to see one): an unexpected exception exits 2, never 1, so a crash is never read as a failed check.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from harness.errors import exit_code_for

COMMAND_MODULES = [
    "harness.images.cli",
    "harness.audit.cli",
    "harness.model.simnet.cli",
    "harness.model.apinode.cli",
    "harness.chaos.cli",
    "harness.backends.cli",
    "harness.mlnode.cli",
    "harness.ops.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Gonka MLNode upgrade harness")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        code, message = exit_code_for(e)
        print(f"harness {args.command}: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
