"""`harness audit --live [--since HEIGHT]`: audit a running testnet's MLNode mocks against the switch timeline
read FROM THE CHAIN.

How the timeline is built (robust against a harness that was not watching when the upgrade happened):
- the chain's MLNodeVersion is queried at historical heights (`abci_query ... height=h`) and the heights where it
  changed are found by bisection between `--since` and the latest height, after splitting the range at every
  height a PASSED gov proposal scheduled a partial upgrade for. O(k log n) queries for k switches over n blocks;
  exact unless a version returns to an earlier one without a visible proposal (the audit refuses repeated versions
  anyway);
- on a chain that keeps no MLNodeVersion (upstream main), the changes are the partial upgrades of PASSED gov
  proposals themselves (height, version; a later proposal for the same height wins, as the chain's map keyed by
  height does), starting from the version the testnet started its API node with;
- a change at height H means the API node must switch while processing block H + offset of its contract (reference
  0, pr228 -1); the switch time is that block's header time (from `block`);
- the contract (grace, stop rule) is the API node's, `harness.audit.contracts.contract_for` (OpsContext.contract).
Every participant's MLNodes are audited when the state file lists several (`harness up --participants N`); the
report then has the network view (each participant's switch, the spread, who broke atomicity).
Requests logged before `--since`'s block time are left out. Offenders' height brackets are refined by bisecting
block times. A chain that pruned old state cannot answer historical queries: pass a recent `--since`.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.audit import Switch, SwitchTimeline, audit, chain_switch
from harness.backends.contract import participant_nodes
from harness.cometbft.rfc3339 import parse_rfc3339_ms
from harness.errors import ChainError, ConfigError
from harness.ops.context import OpsContext
from harness.ops.status import proposals

MAX_QUERIES = 5000  # MLNodeVersion + block queries per run, at most
MAX_REFINED_OFFENDERS = 20


@dataclass(frozen=True)
class VersionChange:
    height: int  # first height whose state has `version`
    version: str


class ChainHistory:
    """Cached historical reads: MLNodeVersion at a height, block header time of a height."""

    def __init__(self, chain) -> None:
        self.chain = chain
        self._versions: dict[int, str] = {}
        self._times: dict[int, int] = {}
        self.queries = 0

    def _count(self) -> None:
        self.queries += 1
        if self.queries > MAX_QUERIES:
            raise ChainError(f"live audit: more than {MAX_QUERIES} chain queries; pass a later --since")

    def version(self, h: int) -> str:
        if h not in self._versions:
            self._count()
            try:
                self._versions[h] = self.chain.mlnode_version(height=h)
            except ChainError as e:
                raise ConfigError(
                    f"the chain cannot answer MLNodeVersion at height {h} ({e}); its old state may be "
                    "pruned: pass --since with a recent height"
                ) from None
        return self._versions[h]

    def block_ms(self, h: int) -> int:
        if h not in self._times:
            self._count()
            self._times[h] = parse_rfc3339_ms(self.chain.rpc.block(h)["block"]["header"]["time"])
        return self._times[h]

    def heights(self) -> list[tuple[int, int]]:
        return sorted(self._times.items())


def version_changes(hist: ChainHistory, since: int, latest: int, candidates: list[int] = ()) -> list[VersionChange]:
    """The version at `since`, then every (height, version) where MLNodeVersion changed up to `latest`."""
    out = [VersionChange(since, hist.version(since))]
    points = sorted({since, latest, *(c for h in candidates if since < h <= latest for c in (h - 1, h))})

    def scan(lo: int, hi: int) -> None:  # version(lo) known; record changes in (lo, hi]
        if hi <= lo or hist.version(lo) == hist.version(hi):
            return
        if hi - lo == 1:
            out.append(VersionChange(hi, hist.version(hi)))
            return
        mid = (lo + hi) // 2
        scan(lo, mid)
        scan(mid, hi)

    for a, b in itertools.pairwise(points):
        scan(a, b)
    return out


def changes_from_proposals(props: list[dict[str, Any]], start_version: str, since: int, latest: int) -> list[VersionChange]:
    """Version changes from PASSED proposals' partial upgrades in (since, latest], for a chain without MLNodeVersion."""
    at: dict[int, str] = {}
    for p in sorted(props, key=lambda p: p["id"]):
        if p["status"] == "PROPOSAL_STATUS_PASSED":
            for u in p["partial_upgrades"]:
                at[u["height"]] = u["version"]
    version = start_version
    for h in sorted(at):
        if h <= since:
            version = at[h]
    out = [VersionChange(since, version)]
    for h in sorted(at):
        if since < h <= latest and at[h] != out[-1].version:
            out.append(VersionChange(h, at[h]))
    return out


def height_at(hist: ChainHistory, t_ms: int, lo: int, hi: int) -> int:
    """The last height in [lo, hi] whose block time is <= t_ms (lo when none is)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if hist.block_ms(mid) <= t_ms:
            lo = mid
        else:
            hi = mid - 1
    return lo


def run_live(ctx: OpsContext, *, since: int | None, png: Path | None) -> dict[str, Any]:
    from harness.mlnode.collect import collect_records

    if since is not None and since < 1:
        raise ConfigError(f"--since: {since} is not a block height; expected an integer >= 1")
    mlnodes = ctx.all_mlnodes()
    if not mlnodes:
        raise ConfigError(f"{ctx.source} names no MLNode mock journals; nothing to audit (use --journal-url NODE=URL)")
    network = participant_nodes(ctx.participants) if len(ctx.participants) > 1 else None
    chain = ctx.chain()
    try:
        latest = chain.height()
        start = since or 1
        if start > latest:
            raise ConfigError(f"--since {start} is after the latest height {latest}")
        hist = ChainHistory(chain)
        scheduled = sorted(
            {u["height"] for p in proposals(chain) if p["status"] == "PROPOSAL_STATUS_PASSED" for u in p["partial_upgrades"]}
        )
        if chain.tracks_mlnode_version():
            changes = version_changes(hist, start, latest, scheduled)
        else:
            changes = changes_from_proposals(proposals(chain), ctx.start_version, start, latest)
        bt = ctx.block_time_s or chain.rpc.block_time_s()
        contract = ctx.contract(bt)
        switches = [Switch(changes[0].version, 0, height=changes[0].height)]
        for c in changes[1:]:
            at = min(max(contract.switch_block(c.height), 1), latest)  # B (a plan at height 1 under pr228: block 1)
            switches.append(chain_switch(c.version, c.height, at, hist.block_ms))
        timeline = SwitchTimeline(switches)
        since_ms = hist.block_ms(start) if since else 0
        records = [r for r in collect_records(mlnodes) if r.logged_ms >= since_ms]
        nodes = sorted({n.id for n in mlnodes})
        hist.block_ms(latest)
        report = audit(records, timeline, contract, nodes=nodes, heights=hist.heights(), participants=network)
        for o in report.offenders[:MAX_REFINED_OFFENDERS]:  # exact height brackets for the offenders shown
            if o.logged_ms is not None:
                h = height_at(hist, o.logged_ms, start, latest)
                if h < latest:
                    hist.block_ms(h + 1)
        if report.offenders:
            report = audit(records, timeline, contract, nodes=nodes, heights=hist.heights(), participants=network)
    finally:
        chain.close()
    png_path = None
    if png is not None:
        from harness.audit.png import render_png

        png_path = str(render_png(report, timeline, png, title=f"live audit, {ctx.source}"))
    return {
        "report": report,
        "timeline": timeline,
        "changes": changes,
        "png": png_path,
        "since": start,
        "latest": latest,
        "profile": ctx.api_profile,
        "queries": hist.queries,
        "blocks": hist.heights(),
    }


def live_report_data(ctx: OpsContext, res: dict[str, Any]) -> dict[str, Any]:
    """The HTML report's data for a live audit: links to the running mocks' journal entries and the testnet's logs
    (while `harness up` runs; its temp workdir goes with `harness down`)."""
    from harness.report.data import report_data

    logs = {}
    if ctx.workdir is not None and (ctx.workdir / "logs").is_dir():
        logs = {p.stem: p.resolve().as_uri() for p in sorted((ctx.workdir / "logs").glob("*.log"))}
    journals = {f"{n.id}/{k}": f"{url.rstrip('/')}/requests/{{id}}" for n in ctx.all_mlnodes() for k, url in n.journals.items()}
    return report_data(
        res["report"],
        title=f"live audit of {ctx.source}, heights {res['since']}..{res['latest']}",
        under_test=ctx.under_test(),
        blocks=res["blocks"],
        logs=logs,
        journals=journals,
    )
