"""Network scenarios: several participants (each a validator with its own API node and MLNodes) on one chain. The
promise is the atomic network switch: at the upgrade height every participant's API node switches to the new
version's URLs. One audit covers every participant's journals against the one chain timeline; its network view
names the participant and the request that broke atomicity.

Expected behaviour when a participant's MLNode does not have the new version deployed at the height (written down
here and asserted below): its API node switches like every other (new prefix from H on, the old version stopped
once): it must not fall back to the old version, which would split the network across two versions. Its MLNode is
reported FAILED with the reason (`GET .../<new>/api/v1/state: HTTP 404`), its users' chats are refused with an
error instead of being answered by the old version, and it recovers by itself once the operator deploys the
version. The audit passes every participant's prefixes (the API node did what the chain said) and shows the
unserved requests on that participant's row, so the operator sees whose users got no answers and why.
"""

import pytest

from harness.backends.contract import ParticipantSpec
from harness.chain.client import UpgradeTooSoon
from harness.drive.assertions import assert_down_before_the_switch, assert_hop_clean
from harness.drive.hop import UpgradeRunner
from harness.drive.traffic import ChatTraffic
from harness.errors import ChainError
from harness.mlnode import Journal
from harness.mlnode.collect import collect_records
from harness.mlnode.mappings import version_stubs
from harness.util.wait import wait_until

pytestmark = [pytest.mark.network, pytest.mark.requires("participants", "rebuild", api_profile="reference")]

THREE = 3  # participants of the shared network (p1, p2, p3, equal voting power)
SPARE_BLOCKS = 4  # between a proposal's passing and H, for taking an API node down in them on a loaded machine


@pytest.fixture(scope="module")
def released(testnet_factory):
    """Networks made for one test only are closed when the module ends (each runs a JVM per MLNode)."""
    made: list = []
    yield made
    for tn in made:
        testnet_factory.release(tn)


@pytest.mark.stable
def test_upgrade_path_across_three_participants(testnet_with, harness_options):
    tn = testnet_with(participants=THREE)
    runner = UpgradeRunner(tn, progress=lambda m: print(f"[network] {m}"))
    for version in harness_options.versions[1:]:
        hop = runner.hop(version)
        # Every participant's traffic passed the prefix audit, each old version stopped once per MLNode
        assert_hop_clean(hop, tn)
        net = hop.audit.network
        assert net.verdict == "atomic", hop.audit.to_text()
        spread = net.hops[-1]
        assert spread.never == [], hop.audit.to_text()
        assert {s.participant for s in spread.switches} == {p.id for p in tn.participants}
        assert tn.chain.mlnode_version() == version
        for p in tn.participants:
            assert p.api.versions()["node_version"]["current"] == version, p.id


@pytest.mark.stable
@pytest.mark.requires("restart_api", "model_api")  # the model's restart catch-up and its stop on return
def test_one_participant_down_across_the_height_catches_up(testnet_with, harness_options):
    tn = testnet_with(participants=THREE)
    old, new = harness_options.versions[0], harness_options.versions[1]
    down, up = tn.participant("p2"), [tn.participant("p1"), tn.participant("p3")]
    runner = UpgradeRunner(tn)
    traffic = [ChatTraffic(p.api, interval_s=0.1, participant=p.id) for p in up]
    for t in traffic:
        t.__enter__()
    try:
        # Schedule (with blocks to spare to stop p2 in), then take p2's API node down before the height; the others
        # keep serving across it
        scheduled_ms = tn.now_ms()
        _, height = runner.schedule(new, spare_blocks=SPARE_BLOCKS)
        tn.stop_api("p2")
        down_ms = tn.now_ms()
        assert_down_before_the_switch(collect_records(down.mlnodes), down.node_ids, since_ms=scheduled_ms, down_ms=down_ms,
                                      old=old, new=new)  # fmt: skip
        runner.await_switch(new, height)
        tn.rpc.wait_for_height(height + 2)
        runner.wait_past_due()
    finally:
        for t in traffic:
            t.stop()
    assert tn.chain.mlnode_version() == new

    # p2 comes back: it syncs the version from the chain and its first MLNode call uses the new prefix
    tn.start_api("p2")
    tn.wait_nodes_inference()
    report = runner.audit_now()
    mine = set(down.node_ids)
    after = [r for r in report.records if r.node_key in mine and r.logged_ms > down_ms]
    assert after, "the restarted API node made no MLNode call"
    assert after[0].version_seen == new, f"first call after restart: {after[0].method} {after[0].url}"
    stops = [r for r in after if r.method == "POST" and r.path == f"/{old}/api/v1/stop"]
    assert len(stops) == len(mine), f"expected one POST /{old}/api/v1/stop per p2 MLNode after restart, got {stops}"
    assert all(r.version_seen == new for r in after if r not in stops)
    assert tn.participant("p2").api.chat("back?").content.endswith(new)

    # The others did not notice: their audit rows pass, their switch is on time, none of their users saw a failure
    net = report.network
    for p in up:
        row = net.row(p.id)
        assert row.verdict == "pass", report.to_text()
        assert next(s for s in net.hops[0].switches if s.participant == p.id).blocks_after == 0, report.to_text()
    failures = [f.describe() for t in traffic for f in t.failures()]
    assert not failures, failures
    # The audit names p2: it was down across the height, so its old version was stopped only when it came back
    assert net.broken_by == "p2", report.to_text()
    assert {o.reason for o in report.offenders} == {"late_stop"}, report.to_text()


@pytest.mark.stable
@pytest.mark.requires("model_api")  # the late switch is a knob of the model API node
def test_a_late_switching_participant_is_named(testnet_with, released, harness_options):
    specs = (ParticipantSpec(), ParticipantSpec(api_overrides={"switch_offset": 1}), ParticipantSpec())
    tn = testnet_with(participants=specs)
    released.append(tn)
    old, new = harness_options.versions[0], harness_options.versions[1]
    runner = UpgradeRunner(tn)
    assert runner.contract.name == "reference"  # p2's knob is the bug; the contract is the reference one
    report = runner.hop(new).audit

    net = report.network
    assert net.verdict == "broken", report.to_text()
    assert net.broken_by == "p2", report.to_text()
    assert net.breaking.seen_version == old, str(net.breaking)
    assert net.breaking.node in tn.participant("p2").node_ids
    assert [(r.participant, r.verdict) for r in net.rows] == [("p1", "pass"), ("p2", "fail"), ("p3", "pass")]
    assert {o.node for o in report.offenders} <= set(tn.participant("p2").node_ids), report.to_text()
    switches = {s.participant: s for s in net.hops[0].switches}
    assert switches["p2"].blocks_after >= 1, report.to_text()
    assert switches["p1"].blocks_after == 0, report.to_text()
    assert switches["p3"].blocks_after == 0, report.to_text()
    # p2 first showed the new version only after block H+1 reached its API node (its proxy held H+1 until the hold ran
    # out, waiting for the switch); the spread is measured from the first participant's switch to the last's
    p2 = next(t for t in report.timing if t.participant == "p2")
    assert switches["p2"].first_ms >= p2.due_ms, report.to_text()
    first = min(s.first_ms for s in switches.values())
    assert net.hops[0].spread_ms == switches["p2"].first_ms - first, report.to_text()
    assert "BROKEN by p2" in report.to_text()


@pytest.mark.stable
@pytest.mark.requires("model_api")  # the expected behaviour is asserted on the model API node
def test_a_participant_without_the_new_version_deployed(testnet_with, released, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    deployed = (old, *harness_options.versions[2:])  # the operator of p3 did not deploy `new` in time
    specs = (ParticipantSpec(), ParticipantSpec(), ParticipantSpec(topology="single", mlnode_versions=deployed))
    tn = testnet_with(participants=specs)
    released.append(tn)
    runner = UpgradeRunner(tn)
    traffic = [ChatTraffic(p.api, interval_s=0.1, participant=p.id) for p in tn.participants]
    by_part = {t.participant: t for t in traffic}
    for t in traffic:
        t.__enter__()
    try:
        _, height = runner.schedule(new)
        runner.await_switch(new, height)
        tn.rpc.wait_for_height(height + 3)
        runner.wait_past_due()
        clock = runner.timing("p3")  # when p3's API node had to switch, and until when the old prefix was allowed
        # a chat of p3's users sent after that (on a loaded machine the traffic thread may not have sent one yet)
        wait_until(lambda: any(s.started_ms > clock.until_ms for s in by_part["p3"].sent), timeout_s=15,
                   what=f"a chat of p3's users sent after {clock.until_ms} (the end of its old-prefix allowance)")  # fmt: skip
    finally:
        for t in traffic:
            t.stop()
    p3 = tn.participant("p3")

    # p3's API node switched with everyone and did not fall back: its MLNode is FAILED, with the reason
    (view,) = p3.api.nodes()
    assert view["state"]["current_status"] == "FAILED", view
    assert f"/{new}/api/v1/state: HTTP 404" in view["state"]["failure_reason"], view
    assert p3.api.versions()["node_version"]["current"] == new
    # its users are refused after the switch, never answered by the old version; the others' users see nothing
    after = [s for s in by_part["p3"].sent if s.started_ms > clock.until_ms]
    assert after, "no chat reached p3 after the switch"
    assert all(not s.result.ok for s in after), [s.describe() for s in after if s.result.ok]
    for pid in ("p1", "p2"):
        assert not by_part[pid].failures(), [f.describe() for f in by_part[pid].failures()]

    # The audit: every prefix right (the network is atomic); p3's row shows what its MLNode could not answer
    report = runner.audit_now()
    assert report.verdict == "pass", report.to_text()
    net = report.network
    assert net.verdict == "atomic", report.to_text()
    assert [net.row(p).unserved for p in ("p1", "p2")] == [0, 0], report.to_text()
    row = net.row("p3")
    assert row.unserved > 0, report.to_text()
    assert row.first_unserved.version_seen == new, report.to_text()
    assert row.first_unserved.logged_ms >= clock.from_ms, report.to_text()

    # The operator deploys the version: p3 recovers by itself, on the new version only
    for node in p3.mlnodes:
        for url in node.journals.values():
            Journal(url).add_mappings(version_stubs(new))
    deployed_ms = tn.now_ms()  # after the import: a status poll received while it ran was rightly unanswered
    tn.wait_nodes_inference(timeout_s=30)
    chat = p3.api.chat("deployed now?")
    assert chat.ok, chat
    assert chat.content.endswith(new), chat.content
    recovered = runner.audit_now()
    assert recovered.verdict == "pass", recovered.to_text()
    since = [r for r in recovered.records if r.node_key in set(p3.node_ids) and r.logged_ms > deployed_ms]
    assert since, "p3's API node made no MLNode call after the deployment"
    unanswered = [f"{r.method} {r.url}" for r in since if r.matched is False]
    assert not unanswered, f"requests p3's MLNode still could not answer after the deployment: {unanswered[:5]}"


@pytest.mark.stable
@pytest.mark.requires("admin_reconcile")  # management traffic after the height from admin disable/enable
def test_a_proposal_without_quorum_leaves_every_node_on_the_old_version(testnet_with, harness_options):
    tn = testnet_with(participants=THREE)
    old, new = harness_options.versions[0], harness_options.versions[1]
    keys = tn.validator_keys()
    runner = UpgradeRunner(tn)
    traffic = [ChatTraffic(p.api, interval_s=0.1, participant=p.id) for p in tn.participants]
    for t in traffic:
        t.__enter__()
    try:
        # Only p1's validator votes: a third of the bonded tokens is below gov's quorum (0.334)
        height = propose_without_quorum(tn, new, proposer=keys[0], voters=keys[:1])
        tn.rpc.wait_for_height(height + 3)
        for p in tn.participants:
            runner.kick_management(p.mlnodes[0].id, p.id)  # management traffic after the height too
    finally:
        for t in traffic:
            t.stop()

    assert tn.chain.mlnode_version() == old
    assert tn.chain.partial_upgrades() == []
    report = runner.audit_now()  # the timeline has no switch: every request must carry the old prefix
    assert report.verdict == "pass", report.to_text()
    assert report.network.verdict == "atomic"
    seen = {r.version_seen for r in report.records}
    assert seen == {old}, f"requests with other prefixes after a rejected proposal: {sorted(seen - {old})}"
    assert {r.participant for r in report.network.rows if r.requests > 0} == {p.id for p in tn.participants}
    for p in tn.participants:
        assert p.api.versions()["node_version"]["current"] == old, p.id
        assert p.api.chat("still old?").content.endswith(old), p.id


def propose_without_quorum(tn, version: str, *, proposer, voters, attempts: int = 3) -> int:
    """Propose an upgrade that `voters` cannot carry and check gov rejects it; returns its height. A proposal included
    too late to pass 2 blocks before its height is not voted on (UpgradeTooSoon): propose again, 2 blocks later."""
    for attempt in range(attempts):
        height = tn.chain.earliest_upgrade_height()[0] + 2 + 2 * attempt
        try:
            with pytest.raises(ChainError, match="PROPOSAL_STATUS_REJECTED"):
                tn.chain.propose_partial_upgrade(version, height, proposer=proposer, voters=voters)
        except UpgradeTooSoon:
            if attempt < attempts - 1:
                continue
            raise
        return height
    raise AssertionError(f"no proposal was made in {attempts} attempts")
