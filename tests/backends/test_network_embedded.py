"""A network of participants on the embedded backend: one validator per participant on simnet, each with its own API
node and MLNode mocks; names never mix; one participant's API node stops alone; nothing is left behind."""

from __future__ import annotations

import pytest

from harness.backends.contract import NodeSpec, ParticipantSpec, participant_specs
from harness.backends.embedded import EmbeddedTestnet
from harness.errors import ConfigError
from harness.options import RunOptions
from harness.util.process import live_processes


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    two_nodes = (NodeSpec("a"), NodeSpec("b"))
    specs = (ParticipantSpec(power=40), ParticipantSpec(power=30, nodes=two_nodes), ParticipantSpec(power=30))
    with EmbeddedTestnet(RunOptions(), tmp_path_factory.mktemp("net"), participants=specs) as tn:
        yield tn
    assert not live_processes(), f"processes survived teardown: {[p.name for p in live_processes()]}"


def test_each_participant_is_a_validator_with_its_own_api_node_and_mlnodes(net):
    parts = net.participants
    assert [p.id for p in parts] == ["p1", "p2", "p3"]
    assert [p.node_ids for p in parts] == [["p1-mlnode-1"], ["p2-a", "p2-b"], ["p3-mlnode-1"]]
    assert len({p.api_public for p in parts}) == 3
    assert len({p.api_admin for p in parts}) == 3
    # the first participant is what single-participant scenarios see
    assert net.api is parts[0].api
    assert net.mlnodes == parts[0].mlnodes
    assert net.endpoints.api_public == parts[0].api_public
    # simnet's validator set is the participants' keys with their powers
    vals = net.rpc.call("validators", {})
    assert vals["total"] == "3"
    assert sorted(int(v["voting_power"]) for v in vals["validators"]) == [30, 30, 40]
    assert [k.address for k in net.validator_keys()] == [p.validator.address for p in parts]
    assert len({p.validator.address for p in parts}) == 3
    assert [p.power for p in parts] == [40, 30, 30]


def test_every_api_node_drives_only_its_own_mlnodes(net):
    for p in net.participants:
        views = p.api.nodes()
        assert sorted(v["node"]["id"] for v in views) == sorted(p.node_ids), p.id
        assert {v["state"]["current_status"] for v in views} == {"INFERENCE"}
        chat = p.api.chat(f"hello {p.id}")
        assert chat.ok, chat
        assert chat.content.endswith("v0.3.8"), chat.content
    logs = net.logs()
    assert {"apinode-p1", "apinode-p2", "apinode-p3", "p2-a", "p2-b", "simnet"} <= set(logs)
    names = {c["name"] for c in net.child_pids()}
    assert {"simnet", "apinode-p1", "apinode-p2", "apinode-p3", "p1-mlnode-1", "p2-a", "p2-b", "p3-mlnode-1"} <= names


def test_one_participants_api_node_stops_alone(net):
    p2 = net.participant("p2")
    net.stop_api("p2")
    try:
        down = p2.api.chat("anyone?")
        assert down.status == 0, down  # nothing listens
        assert down.error, down
        for p in (net.participant("p1"), net.participant("p3")):
            assert p.api.chat("still here").ok
    finally:
        net.start_api("p2")
    assert net.participant("p2") is not p2  # a fresh view with a client for the restarted node
    net.wait_nodes_inference()
    with pytest.raises(ConfigError, match=r"no participant 'p9' in this testnet; its participants are \['p1', 'p2', 'p3'\]"):
        net.stop_api("p9")


def test_participant_specs_are_checked():
    assert [s.id for s in participant_specs(3)] == ["p1", "p2", "p3"]
    assert participant_specs(2, nodes=(NodeSpec("x"),))[1].nodes == (NodeSpec("x"),)
    assert [s.id for s in participant_specs((ParticipantSpec(id="genesis"), ParticipantSpec()))] == ["genesis", "p2"]
    for bad, message in [
        (0, "0 is out of range; run 1 to 5 participants"),
        (6, "6 is out of range"),
        (True, "expected a count 1..5 or ParticipantSpecs"),
        ((ParticipantSpec(id="a"), ParticipantSpec(id="a")), "id 'a' is given twice"),
        ((ParticipantSpec(id="a/b"),), "id 'a/b' must be 1-32 letters"),
        (("p1",), r"participants\[0\]: expected a ParticipantSpec"),
    ]:
        with pytest.raises(ConfigError, match=message):
            participant_specs(bad)


def test_a_participant_must_serve_the_start_version(tmp_path):
    spec = ParticipantSpec(mlnode_versions=("v0.3.9",))
    with pytest.raises(ConfigError, match=r"participant p1: mlnode_versions \['v0.3.9'\] leave out the start version v0.3.8"):
        EmbeddedTestnet(RunOptions(), tmp_path, participants=(spec,))
    with pytest.raises(ConfigError, match="topology 'mesh' is not one of single, side-by-side"):
        EmbeddedTestnet(RunOptions(), tmp_path, participants=(ParticipantSpec(topology="mesh"),))


def test_backends_without_participants_refuse_a_network_before_starting(tmp_path):
    from harness.backends.contract import Capability
    from harness.backends.factory import TestnetFactory, capabilities_for

    factory = TestnetFactory(RunOptions(backend="docker"), tmp_path)
    with pytest.raises(ConfigError, match="participants=3: backend 'docker' lacks capability participants"):
        factory.make(participants=3)
    assert factory.live == []
    assert Capability.PARTICIPANTS in capabilities_for(RunOptions())
    assert Capability.PARTICIPANTS not in capabilities_for(RunOptions(backend="docker"))
    assert Capability.PARTICIPANTS in capabilities_for(RunOptions(backend="gonka"))  # gonka/network.py


def test_a_voting_period_is_refused_by_a_backend_that_runs_its_own_chain(tmp_path):
    from harness.backends.factory import TestnetFactory

    factory = TestnetFactory(RunOptions(backend="external"), tmp_path)
    with pytest.raises(ConfigError, match="voting_period_blocks=10: --backend external runs its own chain's voting period"):
        factory.make(voting_period_blocks=10)
    assert factory.live == []
