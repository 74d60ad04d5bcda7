"""`harness apinode --config FILE`: run the reference API node in the foreground until SIGTERM or Ctrl-C.

Imports inside functions are on purpose: a model process loads only what its command runs (start-up time)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from harness.model.apinode.config import ApiNodeConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "apinode",
        help="Run the embedded reference API node (versioned MLNode traffic, upgrade switching, chain pool)",
        description="Run the embedded reference API node. Prints one line "
        "'apinode ready public=URL admin=URL callback=URL version=V profile=P' once listening.",
    )
    p.add_argument("--config", required=True, type=Path, help="API node config YAML (upstream key names)")
    p.add_argument("--ready-file", type=Path, default=None, help="Write the actual URLs and ports as JSON here once listening")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="Log level (default INFO)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = ApiNodeConfig.load(args.config)
    if args.ready_file:
        cfg.ready_file = args.ready_file
    cfg.check_ports_free()
    return asyncio.run(_serve(cfg))


async def _serve(cfg: ApiNodeConfig) -> int:
    from harness.model.apinode.core import ApiNodeCore
    from harness.model.apinode.node import write_ready_file

    core = ApiNodeCore(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await core.start()
    try:
        if cfg.ready_file:
            write_ready_file(cfg.ready_file, core.ready_info())
        print(core.ready_line(), flush=True)
        await stop.wait()
    finally:
        await core.stop()
    print("apinode stopped", flush=True)
    return 0
