"""`harness simnet`: run the embedded chain in the foreground until Ctrl-C or SIGTERM (exit 0).

Imports inside functions are on purpose: a model process loads only what its command runs (start-up time)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC
from harness.errors import ConfigError
from harness.model.simnet.genesis import Genesis
from harness.validate import as_number

EPILOG = f"""\
The default dev genesis (no --genesis) has one validator, the account of this fixed TEST mnemonic
(coin type 1200, path m/44'/1200'/0'/0/0, prefix gonka); it holds funds and can sign governance txs:

  {DEV_MNEMONIC}

A second funded, non-validator account:

  {DEV_USER_MNEMONIC}

Never use these mnemonics for anything of value. When serving, simnet prints exactly one line:
  simnet ready rpc=http://127.0.0.1:PORT chain_id=CHAIN_ID
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simnet",
        help="run the embedded chain (CometBFT JSON-RPC + /websocket on 127.0.0.1)",
        description="Run simnet, a Python chain speaking CometBFT 0.38 JSON-RPC with Gonka's partial-upgrade and gov logic.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rpc-port", type=int, required=True, metavar="PORT", help="RPC port on 127.0.0.1 (0 = allocate a free one)")
    p.add_argument(
        "--block-time", type=float, default=None, metavar="SECONDS", help="block time in seconds (0 = as fast as possible)"
    )
    p.add_argument("--genesis", default=None, metavar="FILE", help="genesis config (JSON or YAML); default: the dev genesis")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.rpc_port <= 65535:
        raise ConfigError(f"--rpc-port: {args.rpc_port} is not a TCP port; give 1-65535, or 0 to allocate one")
    genesis = Genesis.from_file(args.genesis) if args.genesis else Genesis()
    if args.block_time is not None:
        genesis.block_time_s = float(as_number(args.block_time, "--block-time", lo=0, hi=60, unit="seconds"))
    return asyncio.run(_serve(genesis, args.rpc_port))


async def _serve(genesis: Genesis, port: int) -> int:
    from harness.model.simnet.server import SimnetCore

    core = SimnetCore(genesis, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await core.start()
    try:
        print(f"simnet ready rpc=http://127.0.0.1:{core.port} chain_id={genesis.chain_id}", flush=True)
        await stop.wait()
    finally:
        await core.stop()
        print(f"simnet stopped at height {core.node.height}", file=sys.stderr, flush=True)
    return 0
