"""Scenarios against the user's real Gonka binaries (`--gonka-bin DIR`): a real single-validator `inferenced` chain,
the real `decentralized-api`, WireMock MLNodes, signed chat traffic, and management traffic from the chain's own
PoC epochs. Every test gets a fresh chain and API node.

Each is judged by the contract (`assert_hop_clean`: every request on the new prefix after the switch, one stop of the
old version, chat answered by the new version). For the two upstream revisions the project has run and documented in
docs/upstream-results.md, the documented behaviour is asserted exactly and the test is marked xfail quoting the
audit: upstream main (no version in any MLNode URL, no stop) and the PR #228 branch (switch one block early, old
prefix until the worker clients' 30 s refresh). Any other departure fails the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.drive.assertions import assert_hop_clean
from harness.drive.collect import collect_records
from harness.drive.hop import UpgradeRunner
from harness.drive.signatures import describe, old_prefix_until_refresh, unversioned_everywhere
from harness.drive.traffic import ChatTraffic

pytestmark = [pytest.mark.upstream, pytest.mark.slow, pytest.mark.timeout(900)]  # a real chain: minutes per test

PR228_REFRESH_S = 30.0  # PR #228's reconciler tick, on which worker clients take the new version


def known_behaviour(tn) -> tuple[str, Callable] | None:
    """(what the documented revision does, its signature check) or None for any other build."""
    nodes = [n.id for n in tn.mlnodes]
    block_ms = int(tn.info.block_time_s * 1000)
    if tn.info.upstream_revision == "main":
        what = "upstream main puts no version into any MLNode URL and never stops an old version"
        return what, lambda report: unversioned_everywhere(report, nodes=nodes)
    if tn.info.upstream_revision == "pr228":
        what = "PR #228 switches at H-1 and keeps the old prefix until its worker clients' 30 s refresh tick"
        return what, lambda report: old_prefix_until_refresh(report, refresh_s=PR228_REFRESH_S, block_ms=block_ms)
    return None


def judge(tn, report, *, clean: Callable[[], None], scenario: str) -> None:
    """The documented signature for a documented revision (then xfail quoting it), else the contract. With
    HARNESS_RESULTS_DIR set, the audit (text, JSON, timeline picture) is kept there first."""
    publish(tn, report, scenario)
    known = known_behaviour(tn)
    if known is None:
        clean()
        return
    what, check = known
    problems = check(report)
    assert not problems, f"{tn.info.api_under_test} departs from what it did before ({what}): {problems}\n{report.to_text()}"
    if not report.passed:
        pytest.xfail(f"{tn.info.upstream_revision}: {what}; {describe(report)}")


def publish(tn, report, scenario: str) -> None:
    """With HARNESS_RESULTS_DIR set: <revision>-<scenario>.txt/.json/.png (the audit) and a copy of every component's
    log (what the real node itself said) in <revision>-<scenario>-logs/."""
    out = os.environ.get("HARNESS_RESULTS_DIR")
    if not out:
        return
    import shutil

    from harness.audit import render_png

    base = Path(out) / f"{tn.info.upstream_revision or 'build'}-{scenario}"
    base.parent.mkdir(parents=True, exist_ok=True)
    logs = Path(f"{base}-logs")
    logs.mkdir(exist_ok=True)
    for name, path in tn.logs().items():
        shutil.copy(path, logs / f"{name}.log")
    base.with_suffix(".txt").write_text(f"under test: {tn.info.under_test()}\n{report.to_text(max_offenders=10)}")
    base.with_suffix(".json").write_text(report.to_json())
    render_png(report, report.timeline, base.with_suffix(".png"), title=f"{tn.info.api_under_test.split(' (')[0]}: {scenario}")


def assert_no_chat_failure_outside_poc(hop) -> None:
    """A real node with one MLNode answers no chat inside the chain's PoC phase (named windows); outside, none may fail."""
    bad = hop.user_failures
    assert not bad, f"{len(bad)} chat(s) failed outside {[w.name for w in hop.windows]}:\n" + "\n".join(
        f.describe() for f in bad[:5]
    )


def test_upgrade_path(gonka_testnet, harness_options):
    tn = gonka_testnet
    upgrade = UpgradeRunner(tn, progress=lambda m: print(f"[upgrade] {m}"))
    hops = []
    for version in harness_options.versions[1:]:
        # Propose, vote, wait for H, then for the chain's next PoC phase (the real node's management traffic)
        hop = upgrade.hop(version)
        hops.append(hop)
        assert_no_chat_failure_outside_poc(hop)
        # The chat after the hop is answered (by the new version, where the URL says which)
        assert hop.chat_after is not None, "no chat was sent after the switch"
        assert hop.chat_after.ok, f"chat after the switch failed: {hop.chat_after}"
    judge(tn, hops[-1].audit, clean=lambda: [assert_hop_clean(h, tn) for h in hops], scenario="upgrade-path")


def test_api_down_across_upgrade_height(gonka_testnet, harness_options):
    tn = gonka_testnet
    new = harness_options.versions[1]
    upgrade = UpgradeRunner(tn, progress=lambda m: print(f"[restart] {m}"))
    # Schedule the upgrade, then take the API node down before the height
    _, height = upgrade.schedule(new)
    tn.stop_api()
    down_ms = tn.now_ms()
    # The chain passes H and H+1 (when its PartialUpgrade entry is deleted) without the API node
    upgrade.await_switch(new, height)
    tn.rpc.wait_for_height(height + 2, timeout_s=60)
    assert tn.chain.partial_upgrades() == [], "the chain still lists the upgrade after H+1"
    # Restart; it serves again, and goes through the chain's next PoC phase (management traffic)
    tn.start_api()
    tn.wait_nodes_inference()
    upgrade.chain_poc_after(tn.rpc.height())
    report = upgrade.audit_now()
    after = sorted((r for r in collect_records(tn.mlnodes) if r.logged_ms > down_ms), key=lambda r: r.logged_ms)
    assert after, "the restarted API node made no MLNode call"

    def clean() -> None:
        first = after[0]
        assert first.version_seen == new, f"first call after restart used {first.version_seen!r}: {first.method} {first.url}"
        assert report.passed, report.to_text()

    judge(tn, report, clean=clean, scenario="restart-across-h")


def test_two_pending_upgrades(gonka_testnet, harness_options):
    tn = gonka_testnet
    v1, v2 = harness_options.versions[1], harness_options.versions[2]
    upgrade = UpgradeRunner(tn, progress=lambda m: print(f"[two pending] {m}"))
    _, why = tn.chain.earliest_upgrade_height()
    vp = why["voting_blocks"]
    with ChatTraffic(tn.api, interval_s=0.25):
        # Both proposals pass before H1 - 1, so the API node sees both plans together
        _, h1 = upgrade.schedule(v1, lead_blocks=2 * (vp + 4) + 4)
        _, h2 = upgrade.schedule(v2, lead_blocks=h1 - tn.rpc.height() + 12)
        upgrade.await_switch(v1, h1)
        upgrade.await_switch(v2, h2)
        upgrade.chain_poc_after(tn.rpc.height())
    report = upgrade.audit_now()
    seen = {r.version_seen for r in collect_records(tn.mlnodes)}
    if tn.info.upstream_revision == "pr228":
        # PR #228 keeps one upgrade plan and the last listed entry overwrites it: v1 never serves
        assert v1 not in seen, f"PR #228 used {v1} after all (prefixes seen: {seen})"
        stale_between = [o for o in report.offenders if o.verdict in ("late", "stale") and o.expected_version == v1]
        assert stale_between, f"no late or stale request between H1 and H2:\n{report.to_text()}"
        publish(tn, report, "two-pending")
        pytest.xfail(f"pr228: the last pending plan overwrites the first, {v1} is skipped; {describe(report)}")

    def clean() -> None:
        assert v1 in seen, f"no request used {v1} between H1 and H2 (prefixes seen: {seen})"
        assert report.passed, report.to_text()

    judge(tn, report, clean=clean, scenario="two-pending")


def test_eof_on_chain_queries_across_the_switch(gonka_testnet, harness_options):
    """EOF on a third of the API node's abci_query calls for 80 blocks across the switch: it keeps running, switches,
    and its MLNode traffic is judged as without faults."""
    tn = gonka_testnet
    upgrade = UpgradeRunner(tn, progress=lambda m: print(f"[chaos] {m}"))
    tn.proxy.reset()
    start = tn.rpc.height()
    fault = {
        "fault": "eof",
        "target": {"method": "abci_query", "probability": 0.33},
        "window": {"start_height": start, "end_height": start + 80},
    }
    tn.proxy.add_fault(fault)
    print(f"[chaos] seed {tn.proxy.seed}: {fault}")
    hop = upgrade.hop(harness_options.versions[1])
    tn.proxy.clear()
    history = tn.proxy.history()
    eofs = [r for r in history if r.outcome == "eof"]
    assert eofs, "the fault never hit an abci_query of the API node"
    assert tn.api.nodes(), "the API node's admin API does not answer after the faults"
    print(f"[chaos] {len(eofs)} EOFs on {len([r for r in history if 'abci_query' in r.methods])} abci_query calls")
    # A chat whose chain query hit an injected EOF, answered 500 naming the API node's chain URL: the node passed the
    # fault on to the user instead of retrying the query
    passed_on = [f for f in hop.user_failures if f.result.status == 500 and tn.endpoints.api_chain_rpc in f.result.body]
    print(f"[chaos] {len(hop.user_failures)} chats failed outside the PoC phases, {len(passed_on)} of them the chain's EOF")
    if tn.info.upstream_revision in KNOWN_EOF_TO_USER and passed_on and passed_on == hop.user_failures:
        publish(tn, hop.audit, "chaos-eof")
        problems = known_behaviour(tn)[1](hop.audit)
        assert not problems, f"{tn.info.api_under_test}: {problems}\n{hop.audit.to_text()}"
        pytest.xfail(
            f"{tn.info.upstream_revision}: {KNOWN_EOF_TO_USER[tn.info.upstream_revision]}: {len(passed_on)} chats failed, e.g. "
            f"{passed_on[0].describe() if passed_on else '-'}; {describe(hop.audit)}"
        )
    assert_no_chat_failure_outside_poc(hop)
    judge(tn, hop.audit, clean=lambda: assert_hop_clean(hop, tn), scenario="chaos-eof")


# Documented revisions whose API node answers a user's chat with HTTP 500 when one of its chain queries meets an EOF
KNOWN_EOF_TO_USER = {"main": "one chain client, no retry: an EOF on a chat's chain query reaches the user as HTTP 500"}
