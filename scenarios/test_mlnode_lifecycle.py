"""MLNode lifecycle modes (harness/mlnode/README.md "Lifecycle modes"): the seed's proposal says a version's `.stop()`
must come before the next version can take requests (one GPU: one version at a time), and a new MLNode container
takes minutes to start. These scenarios run the MLNodes that way and judge the API node's order and the gap it cost.

- exclusive: `inference/up` on the new version is refused (409) while the old one still serves. The reference API
  node stops the old version, then brings the new one up: it passes, and the audit shows its order and gap.
- exclusive, `bring_up: before_stop` (a model knob: the new version's inference/up before the old version's stop): the
  MLNode refuses it; the audit fails on the `refused` offender and the hop report names the order.
- slow start: the new version answers 503 "loading" for N s from its first request. Expected of the reference node:
  it switches at H anyway (it must not fall back to the old version), stops the old one, and its users get a 503
  naming the cause (loading, or the node not serving yet) until the new version has loaded and is up; then the new
  version answers. The audit passes the prefixes and reports the gap, at least the loading time, and the failed chats.
"""

import pytest

from harness.audit.lifecycle import STOP_THEN_UP, UP_BEFORE_STOP
from harness.drive.assertions import assert_hop_clean, hop_problems
from harness.drive.hop import UpgradeRunner
from harness.mlnode.lifecycle import MLNodeLifecycle

pytestmark = [pytest.mark.stable, pytest.mark.requires("mlnode_lifecycle", "rebuild")]

EXCLUSIVE = MLNodeLifecycle(exclusive=True)
LOADING_S = 2.0


@pytest.mark.requires(api_profile="reference", topology="single")
def test_exclusive_mlnode_the_reference_node_stops_then_brings_up(testnet_with, harness_options):
    tn = testnet_with(mlnode_lifecycle=EXCLUSIVE)
    runner = UpgradeRunner(tn)
    hop = runner.hop(harness_options.versions[1])
    # Clean: every prefix right, the old version stopped once, no user chat failed, the new version answers
    assert_hop_clean(hop, tn)
    # ... in the order an exclusive MLNode needs: nothing refused, the gap reported with the user chats in it
    for order in hop.orders:
        assert order.order == STOP_THEN_UP, hop.audit.to_text()
        assert order.refused == 0, hop.audit.to_text()
        assert order.gap_ms is not None, hop.audit.to_text()
        assert order.user_failed == 0, order.describe()
        assert order.describe() in hop.summary()
    assert "switch order per node" in hop.audit.to_text()
    assert not [o for o in hop.audit.offenders if o.verdict == "refused"]


@pytest.mark.requires("model_api", topology="single")  # the wrong order is a knob of the model API node
def test_exclusive_mlnode_refuses_a_node_that_brings_up_before_stopping(testnet_with, harness_options):
    old, new = harness_options.versions[0], harness_options.versions[1]
    tn = testnet_with(api_profile="reference", api_overrides={"bring_up": "before_stop"}, mlnode_lifecycle=EXCLUSIVE)
    hop = UpgradeRunner(tn).hop(new)
    report = hop.audit
    # The MLNode refused the new version's inference/up while the old one still served: the audit fails on it
    assert report.verdict == "fail", report.to_text()
    refused = [o for o in report.offenders if o.verdict == "refused"]
    assert refused, report.to_text()
    assert refused[0].url == f"/{new}/api/v1/inference/up", str(refused[0])
    assert report.first_offender.verdict == "refused", report.to_text()
    # The hop report names the order and what it cost
    (order,) = hop.orders
    assert order.order == UP_BEFORE_STOP, order.describe()
    assert order.refused >= 1, order.describe()
    assert order.up_ms < order.stop_ms, order.describe()
    assert order.up_ok_ms is not None, order.describe()  # a later reconcile brought it up after the stop
    assert order.up_ok_ms > order.stop_ms, order.describe()
    assert f"{old} -> {new}: up before stop" in hop.summary()
    assert "refused (409)" in report.to_text()
    with pytest.raises(AssertionError, match="prefix audit failed"):
        assert_hop_clean(hop, tn)


@pytest.mark.requires(api_profile="reference")  # on the real binaries too: their outcome is documented
def test_slow_start_users_see_503_until_the_new_version_loaded(testnet_with, harness_options):
    new = harness_options.versions[1]
    tn = testnet_with(mlnode_lifecycle=MLNodeLifecycle(slow_start_s=LOADING_S))
    hop = UpgradeRunner(tn).hop(new)

    # Every prefix right and the old version stopped at the switch: the node did not fall back to the old version
    assert hop.audit.verdict == "pass", hop.audit.to_text()
    (order,) = hop.orders
    assert order.order == STOP_THEN_UP, order.describe()
    # The new version loaded for LOADING_S from its first request; it served only after that
    (loading,) = [x for x in tn.mlnode_loading() if x.version == new]
    assert loading.first_request_ms is not None, loading.describe()
    assert loading.lifted_ms is not None, loading.describe()
    loaded_ms = loading.first_request_ms + int(LOADING_S * 1000)
    assert order.serving_ms is not None, order.describe()
    assert order.serving_ms >= loaded_ms, f"{order.describe()}; {loading.describe()}"
    assert order.gap_ms >= loaded_ms - order.stop_ms, order.describe()
    # Its users saw 503s meanwhile, each naming why (the loading version, or the node not serving yet); some may fall
    # in the hop's own windows (its admin disable/enable after the switch), so every failed chat of the gap counts
    in_gap = [f for f in hop.chat_failures if f.started_ms < order.serving_ms and f.ended_ms >= order.stop_ms]
    assert in_gap, f"no user chat failed while {new} loaded for {LOADING_S} s: {order.describe()}"
    for f in in_gap:
        assert f.result.status == 503, f.describe()
        assert any(why in f.result.body for why in ("loading", "status=FAILED", "status=STOPPED")), f.describe()
    assert order.user_failed == len(in_gap), order.describe()  # the report counts them in the gap
    assert f"gap {order.gap_ms} ms" in hop.summary()
    # After loading, the new version answers; failed user chats are the only problem this hop may have
    assert hop.chat_after.ok, hop.chat_after
    assert hop.chat_after.content.endswith(new), hop.chat_after.content
    others = [p for p in hop_problems(hop, tn) if not p.startswith(f"{len(hop.user_failures)} user chats failed across")]
    assert not others, others
