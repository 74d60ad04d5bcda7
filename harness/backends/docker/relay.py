"""TCP relay for the docker backend's bridge mode: runs one harness component as a child and forwards
0.0.0.0:SERVICE (the container's network address, what other containers and published ports reach) to
127.0.0.1:INNER (where the component listens; harness servers bind loopback only).

    python -m harness.backends.docker.relay --map 26657:16657 -- harness simnet --rpc-port 16657

Only used inside a container on a user-defined bridge network (its own network namespace): on host
networking the components are reached on 127.0.0.1 directly and no relay runs. Exits with the child's
exit code; SIGTERM/SIGINT are passed on to the child. Plain byte relay, so HTTP, SSE and websockets pass.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

from harness.util.relay import pipe

BIND_ALL = "0.0.0.0"  # inside the container's own network namespace only (bridge mode)
INNER_HOST = "127.0.0.1"


def _handler(inner: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(INNER_HOST, inner)
        except OSError:
            writer.close()  # the component is not listening (yet): the client sees a closed connection
            return
        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    return handle


def parse_map(text: str) -> tuple[int, int]:
    try:
        service, inner = (int(x) for x in text.split(":"))
    except ValueError:
        raise SystemExit(f"--map: {text!r} is not SERVICE:INNER (two port numbers, e.g. 26657:16657)") from None
    if not (0 < service < 65536 and 0 < inner < 65536) or service == inner:
        raise SystemExit(f"--map: {text!r}: ports must be 1-65535 and differ")
    return service, inner


async def _main(maps: list[tuple[int, int]], argv: list[str]) -> int:
    child = await asyncio.create_subprocess_exec(*argv)
    loop = asyncio.get_running_loop()
    def forward(s: signal.Signals) -> None:
        if child.returncode is None:
            child.send_signal(s)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, forward, sig)
    servers = [await asyncio.start_server(_handler(inner), BIND_ALL, service) for service, inner in maps]
    print(f"docker-relay: {', '.join(f'{BIND_ALL}:{s} -> {INNER_HOST}:{i}' for s, i in maps)}", flush=True)
    try:
        return await child.wait()
    finally:
        for s in servers:
            s.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="docker_relay", description=__doc__.split("\n\n")[0])
    p.add_argument("--map", action="append", default=[], help="SERVICE:INNER port pair (repeatable)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the component's command line")
    args = p.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        p.error("give the component's command after --")
    return asyncio.run(_main([parse_map(m) for m in args.map], cmd))


if __name__ == "__main__":
    sys.exit(main())
