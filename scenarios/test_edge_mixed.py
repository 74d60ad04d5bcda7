"""Mixed versions: a network whose participants run different API node builds. The network view names the participant
whose build broke the atomic switch, and the verdict words say how.

On the embedded backend a participant's build is a profile of the model API node (`ParticipantSpec(api_profile=...)`):
p2 runs `pr228` (switches while processing H-1, worker clients refreshed on a tick) among two `reference` nodes, all
audited against the reference contract. On the gonka backend a participant's build is its own directory of binaries
(`ParticipantSpec(gonka_bin=DIR)`, DIR from HARNESS_GONKA_BIN_P2): the other builds' rows say whether they keep the
contract, and where they do, the network view must name p2 alone.
"""

import os

import pytest

from harness.backends.contract import ParticipantSpec
from harness.drive.hop import UpgradeRunner

pytestmark = [pytest.mark.edge, pytest.mark.network]


@pytest.fixture(scope="module")
def released(testnet_factory):
    """Networks made for one test only are closed when the module ends (each runs a JVM per MLNode)."""
    made: list = []
    yield made
    for tn in made:
        testnet_factory.release(tn)


@pytest.mark.requires("participants", "model_api", api_profile="reference")  # builds are profiles of the model
def test_a_participant_on_another_build_is_named(testnet_with, released, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    tn = testnet_with(participants=(ParticipantSpec(), ParticipantSpec(api_profile="pr228"), ParticipantSpec()))
    released.append(tn)
    assert [p.api_under_test for p in tn.participants] == [
        "model apinode, profile reference", "model apinode, profile pr228", "model apinode, profile reference",
    ]  # fmt: skip
    runner = UpgradeRunner(tn)
    assert runner.contract.name == "reference"  # every participant is judged by the network's contract
    report = runner.hop(new).audit
    text = report.to_text()

    net = report.network
    assert net.verdict == "broken", text
    assert net.broken_by == "p2", text
    assert [(r.participant, r.verdict) for r in net.rows] == [("p1", "pass"), ("p2", "fail"), ("p3", "pass")], text
    assert {o.node for o in report.offenders} <= set(tn.participant("p2").node_ids), text
    # how: p2 showed the new version before block H reached it (its switch at H-1) ...
    p2 = runner.timing("p2")
    assert net.breaking.verdict == "early", text
    assert net.breaking.seen_version == new and net.breaking.logged_ms < p2.from_ms, text  # noqa: PT018
    # ... and kept the old prefix on its worker clients until its refresh tick
    assert any(o.verdict in ("late", "stale") and o.seen_version == old for o in report.offenders), text
    assert "BROKEN by p2: early" in text
    # the two reference nodes switched on time on their own clocks
    switches = {s.participant: s for s in net.hops[0].switches}
    assert switches["p1"].blocks_after == 0, text
    assert switches["p3"].blocks_after == 0, text


@pytest.mark.upstream
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_participant_on_another_real_build_is_named(testnet_with, harness_options):
    other = os.environ.get("HARNESS_GONKA_BIN_P2", "").strip()
    if not other:
        pytest.skip("needs a second build for p2: HARNESS_GONKA_BIN_P2=DIR (inferenced and decentralized-api; p1 and "
                    "p3 run --gonka-bin's, every chain node the first participant's inferenced)")  # fmt: skip
    tn = testnet_with(backend="gonka", participants=(ParticipantSpec(), ParticipantSpec(gonka_bin=other), ParticipantSpec()))
    builds = [p.api_under_test for p in tn.participants]
    assert builds[0] == builds[2] != builds[1], builds
    report = UpgradeRunner(tn, progress=lambda m: print(f"[mixed network] {m}")).hop(harness_options.versions[1]).audit
    print(report.to_text(max_offenders=10))
    net = report.network
    rows = {r.participant: r.verdict for r in net.rows}
    failing = {pid for pid, verdict in rows.items() if verdict == "fail"}
    assert (net.verdict == "broken") == bool(failing), report.to_text()
    if failing:
        assert net.broken_by in failing, report.to_text()
    if rows["p1"] == rows["p3"] == "pass":  # the shared build keeps the contract: only p2 can have broken it
        assert net.broken_by in (None, "p2"), report.to_text()
