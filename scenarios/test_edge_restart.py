"""The API node around the upgrade height: started for the first time after H, and SIGKILLed at a crash point and
restarted (harness/drive/crash.py). Whatever it persisted (or did not) when it went, its first MLNode call after the
(re)start carries the right prefix, and the old version is stopped exactly once per MLNode across the crash.

The right prefix of a call is read off the participant's clock for the hop (README, "Verdicts"): the old version before
S, the new one from D on, either in between (the node is processing block B). A node that was down when its
old-version stop was due stops it when it comes back: that stop is `late_stop` in the audit (the only offender
allowed); a node that had stopped it before the crash must not stop it again.
"""

import pytest

from harness.drive.crash import CRASH_POINTS, calls_since, expected_versions, old_stops, wait_for_crash_point

pytestmark = [
    pytest.mark.edge,
    pytest.mark.requires("restart_api", api_profile="reference"),
    pytest.mark.usefixtures("fresh_chain"),
]


def assert_first_call_and_one_stop(testnet, upgrade, since_ms: int, *, old: str, new: str, proposed_ms: int) -> None:
    """The first MLNode call from `since_ms` on carries the prefix the participant's clock expects then; the old
    version was stopped exactly once per MLNode since the proposal, never before S; the audit finds nothing but a
    late stop; a chat is answered by the new version."""
    __tracebackhide__ = True
    report = upgrade.audit_now()
    timing = upgrade.timing()
    after = calls_since(testnet, since_ms)
    assert after, "the API node made no MLNode call after it came back"
    first = after[0]
    want = expected_versions(first.logged_ms, timing, old, new)
    assert first.version_seen in want, (
        f"first call after the restart: {first.method} {first.url} at {first.logged_ms} ms, expected {sorted(want)} "
        f"({timing.describe()}; S {timing.from_ms}, D {timing.due_ms})"
    )
    stops = old_stops(calls_since(testnet, proposed_ms), old)
    counts = {n.id: len(stops.get(n.id, [])) for n in testnet.mlnodes}
    assert counts == dict.fromkeys(counts, 1), f"POST /{old}/api/v1/stop per MLNode across the crash: {counts}"
    assert all(r.logged_ms >= timing.from_ms for rs in stops.values() for r in rs), f"a stop of {old} before S: {stops}"
    assert {o.reason for o in report.offenders} <= {"late_stop"}, report.to_text()
    upgrade.wait_quiet()
    chat = testnet.api.chat("back?")
    assert chat.ok, chat
    assert chat.content.endswith(new), chat.content


def test_an_api_node_started_for_the_first_time_after_the_height(testnet, upgrade, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    proposed_ms = testnet.now_ms()
    _, height = upgrade.schedule(new)
    # Down before H, and everything it persisted gone: its next start is its first, with the operator's config only
    testnet.stop_api()
    testnet.reset_api_state()
    upgrade.await_switch(new, height)
    testnet.rpc.wait_for_height(height + 2)
    upgrade.wait_past_due()
    started_ms = testnet.now_ms()
    testnet.start_api()
    testnet.wait_nodes_inference()
    # Its first call uses the new prefix; it stops the version its config says the MLNode ran, once
    assert expected_versions(started_ms, upgrade.timing(), old, new) == {new}
    assert_first_call_and_one_stop(testnet, upgrade, started_ms, old=old, new=new, proposed_ms=proposed_ms)
    assert all(r.version_seen == new for r in calls_since(testnet, started_ms) if r.endpoint != "/api/v1/stop")


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_api_node_killed_at_a_crash_point(testnet, upgrade, harness_options, point):
    old, new = harness_options.versions[0], harness_options.versions[1]
    proposed_ms = testnet.now_ms()
    _, height = upgrade.schedule(new)
    # SIGKILL at the crash point (no shutdown, no last state write), then start it again on what it persisted
    wait_for_crash_point(testnet, point, height=height, old=old)
    testnet.kill_api()  # returns once the process is reaped
    restarted_ms = testnet.now_ms()
    testnet.start_api()
    upgrade.await_switch(new, height)
    testnet.rpc.wait_for_height(height + 2)
    upgrade.wait_past_due()
    testnet.wait_nodes_inference()
    assert_first_call_and_one_stop(testnet, upgrade, restarted_ms, old=old, new=new, proposed_ms=proposed_ms)
    if point in ("H+1", "after-stop"):  # it had shown its switch before the crash: nothing late, nothing repeated
        report = upgrade.audit_now()
        assert report.passed, report.to_text()
