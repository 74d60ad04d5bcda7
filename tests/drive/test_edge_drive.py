"""The harness side of the edge cases (scenarios/test_edge_*.py), without a testnet: an upgrade to the version already
current judged as no switch, plans replaced at their height, a block two upgrades hold, an upgrade height inside a PoC
phase, the crash points' reading of a participant's clock, and the participant specs of a network of mixed builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from harness.audit import Switch, audit, contract_for, record_from_url
from harness.audit.basis import CHAIN, HopTiming
from harness.backends.base import BaseTestnet
from harness.backends.contract import Capability, CapabilityMissing, ParticipantSpec, TestnetInfo
from harness.chain.client import ProposalOutcome, UpgradeTooSoon
from harness.chaos.holds import DeliveryGate
from harness.drive.assertions import hop_problems
from harness.drive.crash import CRASH_POINTS, expected_versions, old_stops, wait_for_crash_point
from harness.drive.epochs import ChainEpochs
from harness.drive.hop import HopReport, UpgradeRunner
from harness.drive.hop_report import same_version_stops
from harness.drive.traffic import ExcusedWindow
from harness.errors import ConfigError
from harness.options import RunOptions

S = 1_000_000
INFO = TestnetInfo("embedded", "gonka-testnet", 0.2, "v0.3.8", "reference", "single")


def rec(url: str, t_ms: int, method: str = "GET", node: str = "mlnode-1"):
    return record_from_url(url, logged_ms=t_ms, mock_id=f"{node}/*", node_id=node, method=method)


# -- an upgrade to the version already current --------------------------------------------------------------------
def same_version_hop(records: list, windows: list[ExcusedWindow]) -> HopReport:
    report = audit(records, [Switch("v0.3.8", 0)], contract_for("reference"), end_ms=S + 5_000)
    hop = HopReport("v0.3.8", "v0.3.8", 10, 1, 10, S, S - 3_000, S + 5_000, report, None, windows=windows)
    hop.chat_after = SimpleNamespace(ok=True, content="Response from MLNode v0.3.8")
    hop.same_version_stops = same_version_stops(report.records, "v0.3.8", since_ms=S, windows=windows, owners={})
    return hop


TN = SimpleNamespace(participants=[SimpleNamespace(mlnodes=[SimpleNamespace(id="mlnode-1")])])


def test_an_upgrade_to_the_current_version_that_stops_nothing_is_clean():
    disable = ExcusedWindow("admin disable mlnode-1", S + 2_000, S + 2_500)
    hop = same_version_hop([rec("/v0.3.8/api/v1/state", S + 100), rec("/v0.3.8/api/v1/stop", S + 2_100, "POST")], [disable])
    assert hop.same_version
    assert hop.same_version_stops == []  # the stop inside the hop's own admin disable is not the upgrade's
    assert hop_problems(hop, TN) == []
    with pytest.raises(LookupError, match="no switch"):
        hop.timing()


def test_an_upgrade_to_the_current_version_that_stops_it_is_named():
    hop = same_version_hop([rec("/v0.3.8/api/v1/stop", S + 40, "POST"), rec("/v0.3.8/api/v1/stop", S - 10, "POST")], [])
    assert [r.logged_ms for r in hop.same_version_stops] == [S + 40]  # a stop before block B is not the upgrade's
    [problem] = hop_problems(hop, TN)
    assert "the upgrade to v0.3.8, the version already current, stopped it" in problem
    assert f"POST /v0.3.8/api/v1/stop on mlnode-1 at {S + 40} ms" in problem


def test_a_window_of_one_participant_excuses_only_its_own_mlnodes():
    windows = [ExcusedWindow("admin disable p1-mlnode-1", S, S + 100, "p1")]
    records = [rec("/v0.3.8/api/v1/stop", S + 50, "POST", n) for n in ("p1-mlnode-1", "p2-mlnode-1")]
    owners = {"p1-mlnode-1": "p1", "p2-mlnode-1": "p2"}
    stops = same_version_stops(records, "v0.3.8", since_ms=S, windows=windows, owners=owners)
    assert [r.node_key for r in stops] == ["p2-mlnode-1"]


# -- scheduling: a plan at a height, a plan replaced, the holds ---------------------------------------------------
@dataclass
class FakeProxy:
    armed: list[tuple[int, float]] = field(default_factory=list)

    def deliveries(self, lo=0, hi=None):
        return []

    def arm_hold(self, height, max_ms):
        self.armed.append((height, max_ms))

    def holds(self):
        return []

    def release_hold(self, height, reason=""):
        pass


class Chain:
    def __init__(self, failures=()) -> None:
        self.failures, self.heights = list(failures), []

    def height(self) -> int:
        return 10

    def tracks_mlnode_version(self):
        return True

    def mlnode_version(self):
        return "v0.3.8"

    def earliest_upgrade_height(self):
        return 20, {}

    def propose_partial_upgrade(self, version, height, *, proposer, voters):
        self.heights.append(height)
        if self.failures:
            raise self.failures.pop(0)
        return ProposalOutcome(7, height - 6, height - 2, height)


def runner(chain: Chain, proxy: FakeProxy | None = None, capabilities=frozenset()) -> UpgradeRunner:
    parts = [SimpleNamespace(id="p1", chain_proxy=proxy, mlnodes=[])] if proxy else []
    tn = SimpleNamespace(info=INFO, capabilities=capabilities, chain=chain, rpc=SimpleNamespace(height=lambda: 10),
                         validator_keys=lambda: ["key"], participants=parts, last_runner=None)  # fmt: skip
    return UpgradeRunner(tn)


def test_a_plan_at_a_given_height_is_proposed_there_once():
    chain = Chain([UpgradeTooSoon("too close")])
    with pytest.raises(UpgradeTooSoon):
        runner(chain).schedule("v0.3.9", height=33)
    assert chain.heights == [33]  # no second attempt further out: the height was the point
    assert runner(Chain()).schedule("v0.3.9", height=33) == (7, 33)


def test_a_rollback_at_the_same_height_replaces_the_holds_and_holds_nothing():
    proxy = FakeProxy()
    r = runner(Chain(), proxy)
    try:
        r.schedule("v0.3.9", height=30)
        assert [h for h, _ in proxy.armed] == [30, 31] and list(r.clock._pending) == [30]  # noqa: PT018
        r.schedule("v0.3.8", height=30)  # the chain keeps one plan per height: back to the current version
        assert r.clock._pending == {}  # no switch at 30 any more: nothing held for it
        assert [h for h, _ in proxy.armed] == [30, 31]
        r.schedule("v0.3.9", height=40)
        r.schedule("v0.3.10", height=41)  # adjacent: it leaves v0.3.9, the plan just before it
        assert r.clock._pending[41].old == "v0.3.9"
    finally:
        r.clock.disarm_all()


def test_an_upgrade_to_the_current_version_holds_no_block_and_records_no_switch():
    proxy = FakeProxy()
    r = runner(Chain(), proxy)
    r.schedule("v0.3.8", height=30)
    assert proxy.armed == [] and r.clock._pending == {}  # noqa: PT018


def test_an_upgrade_height_inside_a_poc_phase_needs_a_chain_that_runs_them():
    with pytest.raises(CapabilityMissing, match="chain_poc"):
        runner(Chain()).schedule("v0.3.9", inside_poc=True)


def test_inside_poc_lands_a_third_into_the_next_phase_that_leaves_it_at_or_after_the_height():
    epochs = ChainEpochs(epoch_length=40, epoch_shift=0, poc_blocks=21)
    for height in (1, 40, 46, 47, 48, 100):
        h = epochs.inside_poc(height)
        assert h >= height
        window = epochs.window_at(h)
        assert window is not None and h == window.start + 7, (height, h, window)  # noqa: PT018
    assert epochs.inside_poc(47) == 47 and epochs.inside_poc(48) == 87  # noqa: PT018


def test_a_block_two_upgrades_hold_keeps_the_longer_bound():
    gate = DeliveryGate()
    gate.arm(31, 4_000)  # B+1 of the upgrade at 30
    gate.arm(31, 1_000)  # B of the upgrade at 31
    (hold,) = gate.holds()
    assert (hold.height, hold.max_ms) == (31, 4_000)
    gate.release(31, "switch seen")
    gate.arm(31, 9_000)  # once released, arming anew starts a new hold
    assert gate.holds()[0].max_ms == 9_000


# -- crash points ----------------------------------------------------------------------------------------------------
def timing(from_ms: int, due_ms: int) -> HopTiming:
    return HopTiming("p1", 1, "v0.3.9", 10, 10, CHAIN, from_ms, due_ms, due_ms)


def test_the_right_prefix_is_read_off_the_participants_clock():
    t = timing(S, S + 750)
    assert expected_versions(S - 1, t, "v0.3.8", "v0.3.9") == {"v0.3.8"}
    assert expected_versions(S, t, "v0.3.8", "v0.3.9") == {"v0.3.8", "v0.3.9"}  # processing block B
    assert expected_versions(S + 750, t, "v0.3.8", "v0.3.9") == {"v0.3.9"}


def test_old_stops_are_counted_per_mlnode():
    records = [rec("/v0.3.8/api/v1/stop", S, "POST"), rec("/v0.3.9/api/v1/stop", S + 1, "POST"),
               rec("/v0.3.8/api/v1/stop", S + 2, "POST", "mlnode-2"), rec("/v0.3.8/api/v1/state", S + 3)]  # fmt: skip
    assert {n: len(rs) for n, rs in old_stops(records, "v0.3.8").items()} == {"mlnode-1": 1, "mlnode-2": 1}


def test_an_unknown_crash_point_is_refused_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"crash point 'H\+3' is not one of H-2, H-1, H, H\+1, after-stop"):
        wait_for_crash_point(None, "H+3", height=10, old="v0.3.8")
    assert list(CRASH_POINTS) == ["H-2", "H-1", "H", "H+1", "after-stop"]


def test_a_backend_that_cannot_restart_its_api_node_refuses_a_crash():
    tn = BaseTestnet(INFO)
    for call in (tn.kill_api, tn.reset_api_state):
        with pytest.raises(CapabilityMissing, match="restart_api"):
            call()
    assert Capability.RESTART_API.value == "restart_api"


# -- a network of mixed builds -----------------------------------------------------------------------------------------
def test_each_backend_refuses_the_other_backends_build_field(tmp_path):
    from harness.backends.embedded.participant import EmbeddedParticipant
    from harness.backends.gonka.network import participant_binaries

    opts = RunOptions()
    p2 = ParticipantSpec(id="p2", api_profile="pr228")
    assert EmbeddedParticipant(p2, index=1, network=True, opts=opts, workdir=tmp_path).profile("reference") == "pr228"
    with pytest.raises(ConfigError, match="participant p2: gonka_bin is for --backend gonka.*api_profile"):
        EmbeddedParticipant(ParticipantSpec(id="p2", gonka_bin=tmp_path), index=1, network=True, opts=opts, workdir=tmp_path)
    with pytest.raises(ConfigError, match="api_profile 'pr229' is not one of reference, pr228"):
        EmbeddedParticipant(ParticipantSpec(id="p2", api_profile="pr229"), index=1, network=True, opts=opts, workdir=tmp_path)
    with pytest.raises(ConfigError, match="participant p2: api_profile is the model API node's.*gonka_bin=DIR"):
        participant_binaries((ParticipantSpec(id="p1"), p2), run_bins=SimpleNamespace())
    run_bins = SimpleNamespace(dir=tmp_path)
    assert participant_binaries((ParticipantSpec(id="p1"),), run_bins) == {"p1": run_bins}
