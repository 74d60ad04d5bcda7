"""The models under the edge cases: the model API node writes each old-version stop ahead (a restart never stops the
old version a second time) and brings the new version up without stopping it; simnet never applies a plan whose
proposal passed after its height, and a rejected proposal stores none (harness/chain/proposals.py drives both)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.chain import DEV_MNEMONIC, Key
from harness.chain.proposals import PASSED, cast_votes, submit_partial_upgrade, wait_proposal_final
from harness.chain.schedule import vote_too_late
from harness.errors import ConfigError, TxError
from harness.model.apinode import ApiNode, ApiNodeConfig
from harness.model.apinode.state import StateStore, VersionState
from harness.util.wait import wait_until
from tests.model.apinode.apinode_support import FakeMLNode, fake_chain_and_mlnode
from tests.model.apinode.test_apinode_service import debug, make_config, step_until, wait_inference


class SpyMLNode(FakeMLNode):
    """Also records what the API node had persisted when its stop of v0.3.8 reached the MLNode."""

    state_file: Path | None = None
    persisted: list[dict] = []

    async def _any(self, request):
        if request.path == "/v0.3.8/api/v1/stop" and self.state_file is not None and self.state_file.exists():
            self.persisted.append(yaml.safe_load(self.state_file.read_text()))
        return await super()._any(request)


@pytest.fixture
def fakes():
    with fake_chain_and_mlnode("apinode-fakes", SpyMLNode()) as (loop, chain, ml):
        ml.persisted = []
        yield loop, chain, ml


def test_the_old_versions_stop_is_on_disk_before_it_is_sent(fakes, tmp_path: Path):
    loop, chain, ml = fakes
    ml.state_file = tmp_path / "state.yaml"
    with ApiNode(make_config(tmp_path, chain, ml)) as api:
        wait_inference(api)
        chain.upgrades[chain.height + 3] = "v0.3.9"
        step_until(loop, chain, api, lambda: debug(api)["last_used_version"] == "v0.3.9", what="switch and refresh")
        assert [s["old_stops_sent"] for s in ml.persisted] == [{"n1": "v0.3.8"}]
        assert debug(api)["old_stops_sent"] == {}  # the refresh is over: nothing pending
        # the new version was STOPPED: brought up without a stop of its own
        after = [c.path for c in ml.calls if c.version == "v0.3.9"]
        assert "/v0.3.9/api/v1/inference/up" in after
        assert "/v0.3.9/api/v1/stop" not in after


def crashed_mid_refresh(tmp_path: Path, cfg: ApiNodeConfig, *, sent: dict[str, str]) -> None:
    """The state an API node leaves when killed after its switch to v0.3.9, its stops `sent` written ahead."""
    st = VersionState.from_config(cfg)
    st.current_node_version, st.last_used_version, st.current_height = "v0.3.9", "v0.3.8", 1
    st.old_stops_sent = dict(sent)
    StateStore(tmp_path / "state.yaml").save(st)


@pytest.mark.parametrize(("sent", "stops"), [({"n1": "v0.3.8"}, 0), ({}, 1), ({"n1": "v0.3.7"}, 1)])
def test_a_restart_sends_only_the_stops_not_written_ahead(fakes, tmp_path: Path, sent, stops):
    _loop, chain, ml = fakes
    chain.version = "v0.3.9"
    cfg = make_config(tmp_path, chain, ml)
    crashed_mid_refresh(tmp_path, cfg, sent=sent)
    with ApiNode(cfg) as api:
        wait_until(lambda: debug(api)["last_used_version"] == "v0.3.9", timeout_s=10, what="refresh after the restart")
        wait_inference(api)
        assert ml.calls[0].version == "v0.3.9", ml.calls[0].path
        assert ml.paths("POST").count("/v0.3.8/api/v1/stop") == stops
        assert debug(api)["old_stops_sent"] == {}


def test_old_stops_sent_is_checked_when_the_state_is_loaded(tmp_path: Path):
    path = tmp_path / "state.yaml"
    for bad in ({"n1": "latest"}, ["n1"], {"": "v0.3.8"}):
        path.write_text(yaml.safe_dump({"current_node_version": "v0.3.9", "old_stops_sent": bad}))
        with pytest.raises(ConfigError, match="corrupt state file .*old_stops_sent"):
            StateStore(path).load(None)  # type: ignore[arg-type]


# -- simnet: proposals the chain never applies --------------------------------------------------------------------------
VALIDATOR = Key.from_mnemonic(DEV_MNEMONIC, name="validator")


def test_a_plan_whose_voting_ends_after_its_height_is_never_listed_nor_applied(gov_chain):
    for attempt in range(3):  # a vote after the short voting period (a loaded machine) is refused: propose again
        height = gov_chain.height() + 2  # included at H-1 at the latest; a 3-block voting period ends after H
        sub = submit_partial_upgrade(gov_chain, "v0.3.9", height, proposer=VALIDATOR)
        try:
            cast_votes(gov_chain, sub.proposal_id, [VALIDATOR])
            break
        except TxError as e:
            if attempt == 2 or not vote_too_late(e):
                raise
    status, at, _ = wait_proposal_final(gov_chain, sub.proposal_id, timeout_s=10)
    assert status == PASSED and at > height  # noqa: PT018
    # gov ran the message in EndBlock after H; the inference module then deleted the past entry in the same EndBlock
    for h in range(height - 1, at + 1):
        assert gov_chain.partial_upgrades() == [] or h < sub.height
        assert gov_chain.mlnode_version(height=h) == "v0.3.8", h
    assert gov_chain.partial_upgrade(height) is None


def test_a_proposal_voted_down_stores_no_plan(gov_chain):
    height = gov_chain.earliest_upgrade_height()[0] + 2
    sub = submit_partial_upgrade(gov_chain, "v0.3.9", height, proposer=VALIDATOR)
    cast_votes(gov_chain, sub.proposal_id, [VALIDATOR], option="no")
    status, _, detail = wait_proposal_final(gov_chain, sub.proposal_id, timeout_s=10)
    assert status == "PROPOSAL_STATUS_REJECTED", detail
    assert gov_chain.partial_upgrade(height) is None


def test_the_proposal_steps_refuse_bad_input_naming_it(gov_chain):
    with pytest.raises(ConfigError, match="partial upgrade height must be a positive integer, got 0"):
        submit_partial_upgrade(gov_chain, "v0.3.9", 0, proposer=VALIDATOR)
    with pytest.raises(ConfigError, match="vote option 'maybe' is not one of yes, no, abstain, veto"):
        cast_votes(gov_chain, 1, [VALIDATOR], option="maybe")
    with pytest.raises(ConfigError, match="no voters"):
        cast_votes(gov_chain, 1, [])
