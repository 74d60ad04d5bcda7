"""`harness chaos add|list|remove|clear|status`: drive the chaos proxy in front of a running testnet's chain RPC.

    harness chaos add eof --method abci_query --nth 3 --max-count 1
    harness chaos add latency --param latency_ms=400 --param jitter_ms=50 --for-ms 10000
    harness chaos add reset --probability 0.2 --start-height 40 --end-height 60
    harness chaos add --spec '{"fault": "ws_drop", "window": {"max_count": 1}}'
    harness chaos list            # installed faults, their state and applied count, and the proxy's PRNG seed
    harness chaos clear           # remove every fault
The fault spec is the control API's JSON (harness/chaos/README.md); it is validated here before it is sent, so a
bad spec is refused with exit 2 naming the field, and so is a method the chain connection never carries (a typo
such as abci-query; harness/chaos/methods.py lists CometBFT's) unless --any-method is given. Probability decisions
come from the proxy's seeded PRNG: the
seed is printed with every command, and replaying the same faults with the same seed replays the same decisions.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.errors import ConfigError
from harness.ops.context import OpsContext

TARGET_FLAGS = {
    "method": "methods",
    "nth": "nth",
    "connection_id": "connection_id",
    "nth_connection": "nth_connection",
    "kind": "kind",
    "probability": "probability",
}
WINDOW_FLAGS = {
    "for_ms": "end_ms",
    "start_ms": "start_ms",
    "start_height": "start_height",
    "end_height": "end_height",
    "max_count": "max_count",
    "max_duration_ms": "max_duration_ms",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("fault", nargs="?", help="eof, reset, close_idle, ws_drop, latency, blackhole, refuse")
    p.add_argument("--spec", help="the whole fault spec as JSON (instead of FAULT and the flags)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="fault parameter, e.g. latency_ms=300")
    p.add_argument("--method", action="append", help="target JSON-RPC method (repeatable), e.g. abci_query")
    p.add_argument(
        "--any-method",
        action="store_true",
        help="accept a --method that is not one of CometBFT's RPC methods (refused otherwise: it would never apply)",
    )
    p.add_argument("--nth", type=int, help="target the Nth matching request after the fault is added")
    p.add_argument("--connection-id", type=int, help="target one proxy connection (ids in `history`)")
    p.add_argument("--nth-connection", type=int, help="target the k-th connection accepted after the fault is added")
    p.add_argument("--kind", choices=("any", "http", "websocket"), help="target HTTP calls or websocket sessions")
    p.add_argument("--probability", type=float, help="hit each matching event with this probability (seeded PRNG)")
    p.add_argument("--for-ms", type=float, help="window: end this many ms after the fault is added")
    p.add_argument("--start-ms", type=float, help="window: start this many ms after the fault is added")
    p.add_argument("--start-height", type=int, help="window: first block height (inclusive)")
    p.add_argument("--end-height", type=int, help="window: last block height (inclusive)")
    p.add_argument("--max-count", type=int, help="window: end after this many hits")
    p.add_argument("--max-duration-ms", type=float, help="window: end this long after the first hit")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The control API's fault JSON from the command line; validated with FaultSpec (ConfigError names the field)."""
    from harness.chaos.faults import FaultSpec

    flags_used = [f for f in (*TARGET_FLAGS, *WINDOW_FLAGS) if getattr(args, f, None) is not None] + (
        ["param"] if args.param else []
    )
    if args.spec:
        if args.fault or flags_used:
            raise ConfigError("--spec: give the whole spec as JSON, or FAULT with flags, not both")
        try:
            doc = json.loads(args.spec)
        except ValueError as e:
            raise ConfigError(f"--spec: not valid JSON ({e})") from None
    else:
        if not args.fault:
            raise ConfigError("chaos add: name a fault (eof, reset, close_idle, ws_drop, latency, blackhole, refuse) or --spec")
        params: dict[str, Any] = {}
        for item in args.param:
            if "=" not in item:
                raise ConfigError(f"--param {item!r}: expected NAME=VALUE, e.g. latency_ms=300")
            k, v = item.split("=", 1)
            params[k.strip()] = _value(v.strip())
        target = {TARGET_FLAGS[f]: getattr(args, f) for f in TARGET_FLAGS if getattr(args, f, None) is not None}
        window = {WINDOW_FLAGS[f]: getattr(args, f) for f in WINDOW_FLAGS if getattr(args, f, None) is not None}
        doc = {"fault": args.fault, "params": params, "target": target, "window": window}
    spec = FaultSpec.from_json(doc)
    if not getattr(args, "any_method", False):
        from harness.chaos.methods import check_methods

        check_methods(spec.target.methods, field="--method" if not args.spec else "--spec target.methods")
    return spec.to_json()


def control(ctx: OpsContext):
    from harness.chaos.control import ChaosControl

    if not ctx.endpoints.chaos_control:
        raise ConfigError(
            f"{ctx.source} records no chaos proxy control URL; start the testnet with its chaos proxy "
            "(embedded default) or pass --chaos-control URL with --chain-rpc"
        )
    return ChaosControl(ctx.endpoints.chaos_control, timeout_s=5.0)


def run(action: str, args: argparse.Namespace, ctx: OpsContext, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """One action against the proxy; `spec` (from build_spec) for `add`."""
    from harness.ops.context import TestnetUnreachable

    if action == "add" and spec is None:
        spec = build_spec(args)
    c = control(ctx)
    try:
        status = c.status()
    except ConfigError:
        raise
    except Exception as e:
        raise TestnetUnreachable(f"{e}; {ctx.hint()}") from None
    out: dict[str, Any] = {"action": action, "control": c.base, "seed": status.get("seed"), "height": status.get("height")}
    if action == "add":
        out["id"] = c.add_fault(spec)
        out["spec"] = spec
    elif action == "remove":
        c.remove_fault(args.id)
        out["removed"] = args.id
    elif action == "clear":
        before = c.faults()
        c.clear()
        out["cleared"] = len(before)
    elif action == "status":
        out["status"] = status
    out["faults"] = c.faults()
    return out


def render(out: dict[str, Any]):
    from rich.table import Table

    t = Table(title=f"chaos proxy {out['control']}  seed {out['seed']}  height {out['height']}")
    for col in ("id", "fault", "state", "applied", "target", "window"):
        t.add_column(col)
    for f in out["faults"]:
        spec = f.get("spec", f)
        t.add_row(
            str(f.get("id")),
            str(spec.get("fault")),
            str(f.get("state", "")),
            str(f.get("applied", "")),
            json.dumps(spec.get("target", {})),
            json.dumps(spec.get("window", {})),
        )
    head = {
        "add": f"added fault {out.get('id')}",
        "remove": f"removed fault {out.get('removed')}",
        "clear": f"cleared {out.get('cleared')} fault(s)",
    }.get(out["action"], "")
    return [head, t] if head else [t]
