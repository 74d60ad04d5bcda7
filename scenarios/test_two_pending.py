"""Scenario 4: two upgrades pending at once (v0.3.9 at H1, v0.3.10 at H2). v0.3.9 must serve between H1
and H2. The reference node keeps both plans. The model's pr228 profile lets the last plan overwrite the first
(PR #228's single upgrade_plan), so it skips v0.3.9: its test asserts exactly that signature, so any other
failure fails it."""

import os

import pytest

from harness.drive.traffic import ChatTraffic

pytestmark = [pytest.mark.stable, pytest.mark.slow, pytest.mark.requires(versions=3)]


def run_two_pending(testnet, upgrade, versions):
    v1, v2 = versions[1], versions[2]
    with ChatTraffic(testnet.api):
        # Both proposals must have passed before H1 - 1, so each node sees the two plans together
        # (room for two proposals, each with its votes and margin, on a loaded machine: at load 20 one proposal
        # was included 9 blocks after it was sent)
        vp = testnet.voting_period_blocks
        _, h1 = upgrade.schedule(v1, lead_blocks=3 * (vp + 6) + 4)
        # H2 - H1 exceeds the profile's grace, so a skipped v1 shows up as stale requests in the audit
        gap = -(-upgrade.contract.grace_ms // int(testnet.info.block_time_s * 1000)) + 6
        _, h2 = upgrade.schedule(v2, lead_blocks=h1 - testnet.rpc.height() + gap)
        now = testnet.rpc.height()
        assert now < h1 - 1, (
            f"set-up too slow for this scenario: the second proposal passed by height {now}, not before H1 - 1 = "
            f"{h1 - 1}, so the node never held both plans at once (load average {os.getloadavg()[0]:.1f})"
        )
        upgrade.await_switch(v1, h1)
        # Between H1 and H2 the chat answer comes from v1
        mid = testnet.api.chat("between the heights")
        upgrade.await_switch(v2, h2)
    return mid, upgrade.audit_now()


@pytest.mark.requires(api_profile="reference")  # the pr228 variant below asserts PR #228's behaviour
@pytest.mark.usefixtures("fresh_chain")
def test_two_pending_upgrades_reference(testnet, upgrade, harness_options):
    mid, report = run_two_pending(testnet, upgrade, harness_options.versions)
    assert harness_options.versions[1] in mid.content, f"between H1 and H2 the answer was {mid.content!r}"
    assert report.verdict == "pass", report.to_text()


@pytest.mark.requires("model_api", "rebuild")  # the pr228 profile is set by a rebuild
def test_two_pending_upgrades_pr228_skips_first(testnet_with, harness_options):
    """The model of PR #228 never uses v0.3.9: between H1 and H2 it stays on v0.3.8 (`late`), then jumps to v0.3.10."""
    from harness.drive.hop import UpgradeRunner

    v0, v1, v2 = harness_options.versions[:3]
    pr228_testnet = testnet_with(api_profile="pr228")
    mid, report = run_two_pending(pr228_testnet, UpgradeRunner(pr228_testnet), harness_options.versions)
    text = report.to_text()
    assert v0 in mid.content, f"between H1 and H2 the answer came from {mid.content!r}, expected {v0}\n{text}"
    assert not [r for r in report.records if r.version_seen == v1], f"the node used {v1} after all:\n{text}"
    hop1, hop2 = report.switches_seen  # one node: first seen on v1-or-later == first seen on v2
    assert (hop1.new_version, hop2.new_version) == (v1, v2), text
    assert hop1.first_ms is not None, text
    assert hop1.first_ms == hop2.first_ms, text
    late = [o for o in report.offenders if o.verdict == "late"]
    assert late, f"no {v0} request after H1 + grace was flagged late:\n{text}"
    assert all(o.seen_version == v0 for o in late), text
    # not switched = not preceded by a v2 request: logged before the first one, or in the same millisecond
    assert all(o.logged_ms <= hop2.first_ms for o in late if o.reason == "not_switched"), text
    # nothing else is wrong: v0 traffic only; the stops it missed (v0 within H1's grace, when its tick had not come
    # yet; v1, which never ran) are the skip's consequences
    assert {o.verdict for o in report.offenders} <= {"late", "stale", "missing_stop"}, text
    assert all(o.seen_version == v0 for o in report.offenders if o.verdict == "stale"), text
    assert {o.expected_version for o in report.offenders if o.verdict == "missing_stop"} <= {v0, v1}, text
