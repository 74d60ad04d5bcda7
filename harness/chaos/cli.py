"""`harness chaos-proxy`: run the fault proxy as its own process.

    harness chaos-proxy --listen 0 --upstream http://127.0.0.1:26657 --seed 7 --parent-pid $$

Prints one line when ready:
    chaos-proxy ready listen=http://127.0.0.1:P control=http://127.0.0.1:C seed=N
It never outlives its owner: it exits on SIGTERM/SIGINT, when --parent-pid is gone (checked every 0.5 s),
and after --max-lifetime-s (default 3600).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any

from harness.errors import ConfigError, exit_code_for
from harness.util.process import pid_alive
from harness.validate import arg_type, int_text, number_text, port_text

PARENT_POLL_S = 0.5


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("chaos-proxy", help="run the HTTP/JSON-RPC/websocket fault proxy in front of a chain RPC port")
    add_arguments(p)
    p.set_defaults(func=run)


MAX_LIFETIME_S = 7 * 24 * 3600.0  # a week: longer is "never exits" in effect


def add_arguments(p: argparse.ArgumentParser) -> None:
    port = arg_type(port_text, allow_zero=True)
    p.add_argument("--listen", type=port, required=True, help="port on 127.0.0.1 to listen on (0 = allocate)")
    p.add_argument("--upstream", required=True, help="the chain RPC, e.g. http://127.0.0.1:26657")
    p.add_argument("--control-port", type=port, default=0, help="control API port on 127.0.0.1 (0 = allocate)")
    p.add_argument("--seed", type=arg_type(int_text), default=0, help="seed of the fault-decision PRNG (default 0)")
    p.add_argument(
        "--max-lifetime-s",
        type=arg_type(number_text, lo=0.001, hi=MAX_LIFETIME_S, unit="seconds"),
        default=3600.0,
        help=f"exit after this many seconds (default 3600, at most {MAX_LIFETIME_S:.0f})",
    )
    p.add_argument(
        "--parent-pid", type=arg_type(int_text, lo=2, hi=2**22, what="a process id"), default=None,
        help="exit when this process is gone",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from harness.chaos.proxy import ChaosProxy

    number_text(args.max_lifetime_s, "--max-lifetime-s", lo=0.001, hi=MAX_LIFETIME_S, unit="seconds")
    if args.parent_pid is not None:
        int_text(args.parent_pid, "--parent-pid", lo=2, hi=2**22, what="a process id")  # 0, -1, 1 never go away
        if not pid_alive(args.parent_pid):
            raise ConfigError(f"--parent-pid: process {args.parent_pid} does not exist")
    stop = threading.Event()
    reason = ["max lifetime reached"]

    def on_signal(signum: int, _frame: Any) -> None:
        reason[0] = f"signal {signal.Signals(signum).name}"
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    deadline = time.monotonic() + args.max_lifetime_s
    with ChaosProxy(args.upstream, listen_port=args.listen, control_port=args.control_port, seed=args.seed) as proxy:
        print(f"chaos-proxy ready listen={proxy.url} control={proxy.control_url} seed={proxy.seed}", flush=True)
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if args.parent_pid is not None and not pid_alive(args.parent_pid):
                reason[0] = f"parent {args.parent_pid} is gone"
                break
            stop.wait(min(PARENT_POLL_S, left))
    print(f"chaos-proxy stopped ({reason[0]})", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m harness.chaos.cli ...`): same options and exit codes as `harness chaos-proxy`."""
    parser = argparse.ArgumentParser(prog="harness chaos-proxy")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        code, message = exit_code_for(e)
        print(f"harness chaos-proxy: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
