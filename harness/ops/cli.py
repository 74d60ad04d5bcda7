"""Operator commands against a RUNNING testnet (the one `harness up` started, a docker one, or an external one):

    harness status                                   chain, versions, pending upgrades, API node, mocks' last prefix
    harness upgrade --to v0.3.9 --in 20 --from dev   schedule a partial upgrade through governance and wait until passed
    harness audit --live [--since H]                 (in harness/ops/audit_cli.py) audit the mocks against the chain's switches
    harness chaos add|list|remove|clear|status       drive the chaos proxy
    harness down                                     stop what `harness up` started (also after it crashed)
    harness keys list|add                            the keyring `--from` reads

Every command takes --state-file / --env-file / --json (see harness/ops/context.py). Exit codes: 0 ok, 1 a check
failed, 2 bad input (refusals name the problem and the fix), 3 the testnet cannot be reached.
With --json, errors are also written to stdout as {"ok": false, "exit_code": N, "error": "..."}.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from harness.errors import ConfigError, exit_code_for
from harness.ops.context import add_global_options, resolve, state_path_of
from harness.validate import arg_type, int_text


def emit(args: argparse.Namespace, doc: dict[str, Any], human: Callable[[], Any]) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(doc, indent=1, default=str) + "\n")
        return
    from rich.console import Console

    out = human()
    console = Console()
    for item in out if isinstance(out, list) else [out]:
        console.print(item)


def guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map errors to exit codes with the one contract (harness.errors.exit_code_for) and print them; with --json
    the error also goes to stdout as a JSON object."""

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except KeyboardInterrupt:
            raise
        except Exception as e:
            if os.environ.get("HARNESS_DEBUG"):
                traceback.print_exc()
            return _fail(args, *exit_code_for(e))

    return run


def _fail(args: argparse.Namespace, code: int, message: str) -> int:
    from harness.util.invocation import pasteable

    message = pasteable(message)  # every command it names can be pasted as it is
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps({"ok": False, "exit_code": code, "error": message}) + "\n")
    print(f"harness {args.command}: {message}", file=sys.stderr)
    return code


_int = arg_type(int_text)  # a whole number >= 0 in decimal digits, at most 2^63-1; ranges are checked by the command


def register(sub: argparse._SubParsersAction) -> None:
    """Add the operator commands (status, upgrade, chaos, down, keys) to the `harness` subcommands."""
    p = sub.add_parser("status", help="show a running testnet: height, versions, pending upgrades, API node, mocks")
    add_global_options(p)
    p.set_defaults(func=guarded(cmd_status))
    _register_upgrade(sub)
    _register_chaos(sub)
    p = sub.add_parser("down", help="stop what `harness up` started (also after it crashed) and remove the state file")
    add_global_options(p)
    p.set_defaults(func=guarded(cmd_down))
    _register_keys(sub)


def _register_upgrade(sub: argparse._SubParsersAction) -> None:
    """`harness upgrade`: schedule a partial upgrade through governance."""
    p = sub.add_parser(
        "upgrade",
        help="schedule a partial upgrade through governance (propose, deposit, vote, wait)",
        description=__import__("harness.ops.upgrade", fromlist=["x"]).__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--to", required=True, metavar="VERSION", help="the new MLNode version, e.g. v0.3.9")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", type=_int, metavar="HEIGHT", help="upgrade height (absolute)")
    when.add_argument("--in", dest="in_blocks", type=_int, metavar="BLOCKS", help="upgrade this many blocks from now")
    p.add_argument(
        "--from",
        dest="from_key",
        default="dev",
        help="proposer: a keyring name (default dev, built in) or env:VARNAME holding a mnemonic",
    )
    p.add_argument("--voter", action="append", metavar="KEY", help="another key to vote YES with (repeatable)")
    p.add_argument("--keyring", default=None, help="keyring file (default $HARNESS_KEYRING or ~/.harness/keys.json)")
    p.add_argument("--wait", action="store_true", help="also wait until the upgrade height and check the chain switched")
    add_global_options(p)
    p.set_defaults(func=guarded(cmd_upgrade))


def _register_chaos(sub: argparse._SubParsersAction) -> None:
    """`harness chaos add|list|remove|clear|status`: drive the chaos proxy."""
    from harness.ops import chaos_cmd

    chaos = sub.add_parser(
        "chaos",
        help="drive the chaos proxy of a running testnet (add/list/remove/clear/status)",
        description=chaos_cmd.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = chaos.add_subparsers(dest="chaos_action", metavar="ACTION")
    csub.required = True
    for action, text in (
        ("add", "install a fault"),
        ("list", "list installed faults"),
        ("remove", "remove one fault"),
        ("clear", "remove every fault"),
        ("status", "the proxy's status and seed"),
    ):
        cp = csub.add_parser(action, help=text)
        if action == "add":
            chaos_cmd.add_arguments(cp)
        if action == "remove":
            cp.add_argument("id", type=_int, help="fault id (see `harness chaos list`)")
        add_global_options(cp)
        cp.set_defaults(func=guarded(cmd_chaos))


def _register_keys(sub: argparse._SubParsersAction) -> None:
    """`harness keys list|add`: the keyring `harness upgrade --from NAME` reads."""
    keys = sub.add_parser("keys", help="the keyring `harness upgrade --from NAME` reads (~/.harness/keys.json)")
    ksub = keys.add_subparsers(dest="keys_action", metavar="ACTION")
    ksub.required = True
    kl = ksub.add_parser("list", help="key names and addresses")
    ka = ksub.add_parser("add", help="add a key from a mnemonic in an environment variable")
    ka.add_argument("name")
    ka.add_argument("--mnemonic-env", required=True, metavar="VAR", help="environment variable holding the mnemonic")
    ka.add_argument("--index", type=_int, default=0, help="address index (default 0)")
    for kp in (kl, ka):
        kp.add_argument("--keyring", default=None, help="keyring file (default $HARNESS_KEYRING or ~/.harness/keys.json)")
        kp.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
        kp.set_defaults(func=guarded(cmd_keys))


def cmd_status(args: argparse.Namespace) -> int:
    from harness.ops import status

    doc = status.gather(resolve(args))
    emit(args, {"ok": True, **doc}, lambda: status.render(doc))
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from harness.ops.upgrade import build_request, check_args, run_upgrade

    check_args(args)  # bad input is refused before the testnet is looked for
    ctx = resolve(args)
    req = build_request(args, ctx)
    progress = (lambda _m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    res = run_upgrade(req, ctx, wait_switch=args.wait, progress=progress)
    doc = {"ok": res.switched is not False, **res.to_dict()}

    def human() -> str:
        lines = [
            f"proposal #{res.proposal_id} PASSED at height {res.passed_height}: partial upgrade to {res.version}",
            f"the chain switches MLNodeVersion at height {res.upgrade_height}"
            if res.chain_tracks_version
            else f"the chain lists the partial upgrade until block {res.upgrade_height + 1} (it keeps no MLNodeVersion)",
            f"the API node (profile {res.api_profile}) must switch when it processes block {res.api_switch_height}",
        ]
        if res.switched is not None:
            lines.append(
                f"at height {res.upgrade_height} the chain reports MLNodeVersion "
                f"{'= ' + res.version if res.switched else '!= ' + res.version + ' (did NOT switch)'}"
            )
        return "\n".join(lines)

    emit(args, doc, human)
    return 0 if res.switched is not False else 1


def cmd_chaos(args: argparse.Namespace) -> int:
    from harness.ops import chaos_cmd

    action = args.chaos_action
    spec = chaos_cmd.build_spec(args) if action == "add" else None  # refuse a bad spec before looking for the testnet
    out = chaos_cmd.run(action, args, resolve(args), spec)
    emit(args, {"ok": True, **out}, lambda: chaos_cmd.render(out))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from harness.ops import down

    if args.env_file or args.chain_rpc:
        raise ConfigError(
            "harness down stops what `harness up` started (its state file); an external testnet "
            "(--env-file/--chain-rpc) is not ours to stop"
        )
    out = down.down(state_path_of(args))
    emit(args, {"ok": True, **out}, lambda: down.render(out))
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    import os

    from harness.ops.keyring import Keyring

    ring = Keyring.load(args.keyring)
    if args.keys_action == "add":
        mnemonic = os.environ.get(args.mnemonic_env)
        if not mnemonic:
            raise ConfigError(f"--mnemonic-env {args.mnemonic_env}: the variable is not set; export it with the mnemonic")
        ring.add(args.name, mnemonic, index=args.index)
    rows = [{"name": n, "address": ring.key(n).address, "builtin": ring.entries[n].builtin} for n in ring.names()]
    doc = {"ok": True, "keyring": str(ring.path), "keys": rows}
    emit(
        args,
        doc,
        lambda: "\n".join(
            [f"keyring {ring.path}"] + [f"  {r['name']:<16} {r['address']}{'  (built in)' if r['builtin'] else ''}" for r in rows]
        ),
    )
    return 0
