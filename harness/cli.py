"""The `harness` command. Each subcommand lives with its component: a module listed in COMMAND_MODULES
exposes `register(subparsers)`, which adds its parser(s) and sets `func(args) -> int` on them.

Exit codes everywhere: 0 ok, 1 a check failed, 2 bad input (ConfigError), 3 a dependency or start-up failure.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness.errors import ConfigError, DependencyMissing, HarnessError, StartupError

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
    except ConfigError as e:
        print(f"harness {args.command}: bad input: {e}", file=sys.stderr)
        return 2
    except (DependencyMissing, StartupError) as e:
        print(f"harness {args.command}: {e}", file=sys.stderr)
        return 3
    except HarnessError as e:
        print(f"harness {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
