"""`harness mocks ...`: MLNode mocks by hand (for developers reproducing an upgrade bug).

harness mocks write DIR [--versions v0.3.8,v0.3.9,v0.3.10] [--unversioned-as V] [--validation-callback URL]
harness mocks serve [--versions ...] [--side-by-side --current V] [--for-s N]   # prints URLs, runs until Ctrl-C
harness mocks dump --admin-url http://127.0.0.1:PORT/__admin --out journal.json   # input for `harness audit`
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

from harness.errors import ConfigError
from harness.mlnode.journal import Journal
from harness.mlnode.mappings import REPO_MOCKS, write_mappings
from harness.mlnode.nginx import NginxSideBySide
from harness.mlnode.wiremock import WireMockServer, start_many
from harness.versions import DEFAULT_PATH, check_version


def _versions(text: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ConfigError(f"--versions: no version in {text!r}; e.g. v0.3.8,v0.3.9")
    return [check_version(v, field="--versions") for v in items]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("mocks", help="MLNode WireMock mocks: write mappings, serve, dump a journal")
    sub = p.add_subparsers(dest="mocks_command", metavar="ACTION")
    sub.required = True
    versions = ",".join(DEFAULT_PATH)

    w = sub.add_parser("write", help="Write WireMock mappings and bodies for these versions into DIR")
    w.add_argument("dir", type=Path)
    w.add_argument("--versions", default=versions, help=f"Comma-separated versions with their own state (default {versions})")
    w.add_argument("--unversioned-as", default=None, help="Version unversioned paths answer as (side-by-side backends)")
    w.add_argument("--validation-callback", default=None, help="Fixed base URL for pow/validate callbacks (+ /validated)")
    w.set_defaults(func=_write)

    s = sub.add_parser("serve", help="Start WireMock (or nginx side-by-side) on loopback and print the URLs")
    s.add_argument("--versions", default=versions)
    s.add_argument("--side-by-side", action="store_true", help="One WireMock per version behind a real nginx")
    s.add_argument("--current", default=None, help="Version `/` routes to in side-by-side (default: the first)")
    s.add_argument("--for-s", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C)")
    s.add_argument("--log-dir", type=Path, default=None)
    s.set_defaults(func=_serve)

    d = sub.add_parser("dump", help="Write a WireMock journal (GET /__admin/requests body) to a file")
    d.add_argument("--admin-url", required=True, help="http://127.0.0.1:PORT/__admin")
    d.add_argument("--out", type=Path, required=True)
    d.set_defaults(func=_dump)


def _write(args: argparse.Namespace) -> int:
    root = write_mappings(
        args.dir, _versions(args.versions), unversioned_as=args.unversioned_as, validation_callback_url=args.validation_callback
    )
    print(f"wrote {len(list((root / 'mappings').glob('*.json')))} mapping files to {root / 'mappings'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    versions = _versions(args.versions)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="harness-mocks-"))
    with ExitStack() as stack:
        if not args.log_dir:  # a temp dir of its own goes when it stops (--log-dir DIR keeps the logs)
            stack.callback(shutil.rmtree, log_dir, True)
        if not args.side_by_side:
            wm = stack.enter_context(WireMockServer(REPO_MOCKS, name="wiremock", log_dir=log_dir))
            print(f"MLNode mock: {wm.url}  admin: {wm.admin_url}  log: {wm.log_path}", flush=True)
        else:
            current = check_version(args.current or versions[0], field="--current")
            servers = {}
            for v in versions:
                root = write_mappings(log_dir / f"root-{v}", versions, unversioned_as=v)
                servers[v] = WireMockServer(root, name=f"wiremock-{v}", log_dir=log_dir)
            for s in servers.values():
                stack.callback(s.stop)
            start_many(servers.values())
            ngx = stack.enter_context(NginxSideBySide({v: s.url for v, s in servers.items()}, current, log_dir=log_dir / "nginx"))
            print(f"nginx side-by-side: {ngx.url}  (/ -> {current})  config: {ngx.conf_path}", flush=True)
            for v, s in servers.items():
                print(f"  {v}: {s.url}  admin: {s.admin_url}", flush=True)
        print("serving; Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait(args.for_s)
        except KeyboardInterrupt:
            pass
    return 0


def _dump(args: argparse.Namespace) -> int:
    out = Journal(args.admin_url).dump(args.out)
    print(f"wrote journal to {out}")
    return 0
