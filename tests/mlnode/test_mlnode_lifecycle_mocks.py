"""MLNode lifecycle modes on real WireMock: exclusive versions (one shared scenario per MLNode), slow start (503
"loading" from a version's first request until the harness lifts it), faults around the switch.

Runs on the 2.35.1 jar bundled in PyPI `wiremock`; HARNESS_WIREMOCK3_JAR (a 3.x standalone jar) adds a run on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.backends.contract import NodeSpec, ParticipantSpec
from harness.backends.factory import check_lifecycle
from harness.backends.mocks import LocalMocks
from harness.errors import ConfigError, Unreachable
from harness.mlnode.faults import MLNodeFault
from harness.mlnode.journal import Journal
from harness.mlnode.lifecycle import MLNodeLifecycle, resolve_lifecycle
from harness.mlnode.mappings import write_mappings
from harness.mlnode.slowstart import Loading, SlowStart, version_pattern
from harness.mlnode.wiremock import WireMockServer
from harness.options import RunOptions, build_options
from harness.util.wait import wait_until

JARS = ["bundled"] + (["wiremock3"] if os.environ.get("HARNESS_WIREMOCK3_JAR") else [])
VERSIONS = ["v0.3.8", "v0.3.9", "v0.3.10"]


@pytest.fixture(scope="module", params=JARS)
def exclusive_wm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WireMockServer]:
    root = write_mappings(tmp_path_factory.mktemp("exclusive"), VERSIONS, exclusive=True)
    jar = os.environ["HARNESS_WIREMOCK3_JAR"] if request.param == "wiremock3" else None
    with WireMockServer(root, name=f"wm-exclusive-{request.param}", log_dir=root / "logs", jar=jar) as server:
        yield server


@pytest.fixture
def mlnode(exclusive_wm: WireMockServer) -> Iterator[MLNode]:
    j = Journal(exclusive_wm.admin_url)
    j.reset()
    yield MLNode(exclusive_wm.url)
    j.close()


class MLNode:
    """Talks to one MLNode mock as the API node does (POSTs without Content-Type)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, version: str, path: str, body: dict | None = None) -> requests.Response:
        data = json.dumps(body).encode() if body is not None else None
        return requests.post(f"{self.url}/{version}/{path}", data=data, timeout=10)

    def up(self, version: str) -> requests.Response:
        return self.post(version, "api/v1/inference/up", {"model": "m", "dtype": "float16", "additional_args": []})

    def stop(self, version: str) -> requests.Response:
        return self.post(version, "api/v1/stop")

    def state(self, version: str) -> str:
        r = requests.get(f"{self.url}/{version}/api/v1/state", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["state"]

    def states(self) -> dict[str, str]:
        return {v: self.state(v) for v in VERSIONS}

    def chat(self, version: str) -> requests.Response:
        return self.post(version, "v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})


def test_inference_up_refused_while_another_version_serves(mlnode: MLNode) -> None:
    assert mlnode.states() == dict.fromkeys(VERSIONS, "STOPPED")
    assert mlnode.up("v0.3.8").status_code == 200
    assert mlnode.states() == {"v0.3.8": "INFERENCE", "v0.3.9": "STOPPED", "v0.3.10": "STOPPED"}
    # v0.3.9 cannot come up while v0.3.8 holds the MLNode: 409 naming the holder and the fix
    refused = mlnode.up("v0.3.9")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith("v0.3.8 is in INFERENCE on this MLNode"), refused.text
    assert "POST /v0.3.8/api/v1/stop first" in refused.json()["detail"]
    assert mlnode.states()["v0.3.8"] == "INFERENCE"  # the refusal changed nothing
    # a stop on the version that is not running changes nothing either
    assert mlnode.stop("v0.3.9").status_code == 200
    assert mlnode.up("v0.3.9").status_code == 409
    # the old version stopped: the new one comes up
    assert mlnode.stop("v0.3.8").status_code == 200
    assert mlnode.states() == dict.fromkeys(VERSIONS, "STOPPED")
    assert mlnode.up("v0.3.9").status_code == 200
    assert mlnode.states() == {"v0.3.8": "STOPPED", "v0.3.9": "INFERENCE", "v0.3.10": "STOPPED"}
    assert mlnode.up("v0.3.9").status_code == 200  # idempotent while it serves
    assert mlnode.up("v0.3.8").status_code == 409


def test_poc_and_training_also_need_the_other_version_stopped(mlnode: MLNode) -> None:
    assert mlnode.post("v0.3.8", "api/v1/pow/init/generate", {"url": "http://127.0.0.1:9/x"}).status_code == 200
    assert mlnode.states()["v0.3.8"] == "POW"
    for cmd in ("pow/init/generate", "pow/init/validate", "train/start", "inference/up"):
        r = mlnode.post("v0.3.10", f"api/v1/{cmd}", {})
        assert r.status_code == 409, (cmd, r.text)
        assert "v0.3.8 is in POW" in r.json()["detail"], (cmd, r.text)
    # a version's own PoC phases follow each other without a stop; inference/up from POW still needs one
    assert mlnode.post("v0.3.8", "api/v1/pow/init/validate", {}).status_code == 200
    status = requests.get(f"{mlnode.url}/v0.3.8/api/v1/pow/status", timeout=10).json()
    assert status["status"] == "VALIDATING", status
    assert mlnode.up("v0.3.8").status_code == 409
    assert mlnode.stop("v0.3.8").status_code == 200
    assert mlnode.post("v0.3.10", "api/v1/train/start", {}).status_code == 200
    assert mlnode.states() == {"v0.3.8": "STOPPED", "v0.3.9": "STOPPED", "v0.3.10": "TRAIN"}


def test_only_the_version_in_inference_answers_chats_and_health(mlnode: MLNode) -> None:
    r = mlnode.chat("v0.3.9")
    assert r.status_code == 503, r.text
    assert "not running in v0.3.9" in r.json()["detail"]
    assert mlnode.up("v0.3.9").status_code == 200
    r = mlnode.chat("v0.3.9")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].endswith("v0.3.9")
    assert requests.get(f"{mlnode.url}/v0.3.9/health", timeout=10).status_code == 200
    assert requests.get(f"{mlnode.url}/v0.3.8/health", timeout=10).status_code == 503
    assert mlnode.chat("v0.3.8").status_code == 503
    # a scenario reset (between tests) frees the MLNode: every version STOPPED
    Journal(mlnode.url + "/__admin").reset()
    assert mlnode.states() == dict.fromkeys(VERSIONS, "STOPPED")
    assert mlnode.chat("v0.3.9").status_code == 503


def test_exclusive_mappings_are_generated_once_per_version(tmp_path: Path) -> None:
    root = write_mappings(tmp_path, VERSIONS, exclusive=True)
    docs = {p.name: json.loads(p.read_text())["mappings"] for p in (root / "mappings").glob("*.json")}
    assert set(docs) == {f"mlnode-{v}.json" for v in VERSIONS} | {"mlnode-unversioned.json", "mlnode-any-version.json"}
    ids = [m["id"] for stubs in docs.values() for m in stubs]
    assert len(ids) == len(set(ids)), "two stubs share an id"
    shared = {m.get("scenarioName") for v in VERSIONS for m in docs[f"mlnode-{v}.json"]} - {None}
    assert shared == {"mlnode-exclusive"}
    # the unversioned paths keep their own state machine
    assert {m.get("scenarioName") for m in docs["mlnode-unversioned.json"]} - {None} == {"mlnode-unversioned"}


@pytest.fixture(scope="module")
def plain_wm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WireMockServer]:
    root = write_mappings(tmp_path_factory.mktemp("plain"), VERSIONS)
    with WireMockServer(root, name="wm-plain", log_dir=root / "logs") as server:
        yield server


def test_slow_start_answers_loading_from_the_first_request_until_lifted(plain_wm: WireMockServer) -> None:
    journal = Journal(plain_wm.admin_url)
    journal.reset()
    target = Loading(plain_wm.admin_url, "v0.3.9", 1.0, version_pattern("v0.3.9", own_wiremock=False), mock="wm")
    slow = SlowStart([target])
    try:
        slow.arm()
        # the start version is never loading; the loading one answers 503 "loading" to every request
        assert requests.get(f"{plain_wm.url}/v0.3.8/api/v1/state", timeout=10).json() == {"state": "STOPPED"}
        for method, path in (("GET", "api/v1/state"), ("POST", "api/v1/inference/up"), ("POST", "v1/chat/completions")):
            r = requests.request(method, f"{plain_wm.url}/v0.3.9/{path}", timeout=10)
            assert (r.status_code, r.json()) == (503, {"detail": "loading"}), (method, path, r.text)
        done = wait_until(lambda: slow.loading[0].lifted_ms, timeout_s=15, what="the loading stub lifted",
                          evidence=lambda: slow.loading[0].describe())  # fmt: skip
        record = slow.loading[0]
        assert record.first_request_ms is not None, record
        assert not record.error, record
        assert done - record.first_request_ms >= 1000, record.describe()
        assert done - record.first_request_ms < 1000 + 2000, f"lifted long after its time (machine load?): {record.describe()}"
        # loaded: the ordinary mappings answer (a fresh version, STOPPED)
        assert requests.get(f"{plain_wm.url}/v0.3.9/api/v1/state", timeout=10).json() == {"state": "STOPPED"}
        served = [
            (e["request"]["loggedDate"], e["response"]["status"]) for e in journal.requests() if "/v0.3.9/" in e["request"]["url"]
        ]
        assert {s for t, s in served if t < record.first_request_ms + 1000} == {503}, served
        assert served[-1][1] == 200, served
        # a re-arm (scenario reset between tests) loads it again from its next first request
        slow.arm()
        assert slow.loading[0].first_request_ms is None
        assert requests.get(f"{plain_wm.url}/v0.3.9/health", timeout=10).status_code == 503
        wait_until(lambda: slow.loading[0].first_request_ms, timeout_s=10, what="the new first request seen")
    finally:
        slow.stop()
        journal.reset_mappings()
        journal.close()
    assert slow._thread is None


def test_slow_start_refuses_a_mock_it_cannot_reach_and_stops_watching_one_that_went_away(tmp_path: Path) -> None:
    with pytest.raises(Unreachable, match=r"cannot install the loading stub of v0.3.9 on http://127.0.0.1:9/__admin"):
        SlowStart([Loading("http://127.0.0.1:9/__admin", "v0.3.9", 1.0, "/.*")]).arm()
    root = write_mappings(tmp_path, VERSIONS)
    with WireMockServer(root, name="wm-going", log_dir=root / "logs") as server:
        slow = SlowStart([Loading(server.admin_url, "v0.3.9", 60.0, "/v0\\.3\\.9(/.*)?")])
        slow.arm()
    # the mock stopped under the watcher: it says why and ends by itself
    wait_until(lambda: slow.loading[0].error, timeout_s=10, what="the watcher giving up")
    assert "no longer watched" in slow.loading[0].describe()
    wait_until(lambda: not slow._thread.is_alive(), timeout_s=10, what="the watcher thread ending")
    slow.stop()


# -- the mode a test asks for, and where it is refused ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exclusive": "yes"}, "exclusive: expected true or false"),
        ({"slow_start_s": -1}, "slow_start_s: expected seconds from 0 to 600"),
        ({"slow_start_s": float("nan")}, "slow_start_s"),
        ({"slow_start_s": True}, "slow_start_s"),
        ({"slow_start_s": 601}, "from 0 to 600"),
    ],
)
def test_lifecycle_refuses_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MLNodeLifecycle(**kwargs)


def test_lifecycle_resolves_node_then_participant_then_run() -> None:
    run, part, node = MLNodeLifecycle(slow_start_s=1), MLNodeLifecycle(exclusive=True), MLNodeLifecycle(slow_start_s=2)
    assert resolve_lifecycle(None, None, run) == run
    assert resolve_lifecycle(None, part, run) == part
    assert resolve_lifecycle(node, part, run) == node
    assert resolve_lifecycle(None, None) == MLNodeLifecycle()
    assert MLNodeLifecycle().default
    assert not part.default
    assert part.describe() == "exclusive"
    assert MLNodeLifecycle(exclusive=True, slow_start_s=2.5).describe() == "exclusive, slow start 2.5 s"
    with pytest.raises(ConfigError, match="expected an MLNodeLifecycle"):
        resolve_lifecycle({"exclusive": True})  # type: ignore[arg-type]


def test_harness_up_options_and_their_refusals() -> None:
    opts = build_options(mlnode_exclusive=True, mlnode_slow_start="2.5")
    assert opts.mlnode_lifecycle == MLNodeLifecycle(exclusive=True, slow_start_s=2.5)
    assert build_options().mlnode_lifecycle.default
    with pytest.raises(ConfigError, match="--mlnode-slow-start: 'soon' is not a number of seconds"):
        build_options(mlnode_slow_start="soon")
    with pytest.raises(ConfigError, match="--mlnode-slow-start: 700.0 is out of range"):
        build_options(mlnode_slow_start="700")
    with pytest.raises(ConfigError, match="--mlnode-exclusive needs --topology single"):
        build_options(mlnode_exclusive=True, topology="side-by-side")


def test_backends_without_their_own_mocks_refuse_lifecycle_modes(tmp_path: Path) -> None:
    docker = RunOptions(backend="docker")
    with pytest.raises(ConfigError, match="backend 'docker' lacks capability mlnode_lifecycle"):
        check_lifecycle(docker.with_(mlnode_lifecycle=MLNodeLifecycle(exclusive=True)), None, 1)
    with pytest.raises(ConfigError, match="lacks capability mlnode_lifecycle"):
        check_lifecycle(docker, (NodeSpec("a", lifecycle=MLNodeLifecycle(slow_start_s=1)),), 1)
    check_lifecycle(docker, (NodeSpec("a"),), 1)  # nothing asked: fine
    check_lifecycle(RunOptions().with_(mlnode_lifecycle=MLNodeLifecycle(exclusive=True)), None, 1)
    check_lifecycle(RunOptions(), None, (ParticipantSpec(lifecycle=MLNodeLifecycle(exclusive=True)),))
    with pytest.raises(ConfigError, match=r"mlnode_lifecycle: expected an MLNodeLifecycle"):
        check_lifecycle(RunOptions().with_(mlnode_lifecycle="exclusive"), None, 1)
    with pytest.raises(ConfigError, match="MLNode b: lifecycle exclusive needs topology single"):
        LocalMocks((NodeSpec("a"), NodeSpec("b", lifecycle=MLNodeLifecycle(exclusive=True))), tuple(VERSIONS),
                   topology="side-by-side", workdir=tmp_path)  # fmt: skip


def test_local_mocks_per_node_modes_on_real_wiremock(tmp_path: Path) -> None:
    specs = (NodeSpec("plain"), NodeSpec("excl", lifecycle=MLNodeLifecycle(exclusive=True, slow_start_s=0.5)))
    with LocalMocks(specs, tuple(VERSIONS), topology="single", workdir=tmp_path, start_version="v0.3.8") as mocks:
        plain, excl = (MLNode(f"http://127.0.0.1:{n.poc_port}") for n in mocks.mlnodes)
        assert plain.up("v0.3.8").status_code == 200
        assert plain.up("v0.3.9").status_code == 200  # independent versions
        assert excl.up("v0.3.8").status_code == 200
        assert excl.up("v0.3.9").status_code == 503  # still loading (its first request)
        assert [(x.mock, x.version) for x in mocks.loading()] == [("excl", "v0.3.9"), ("excl", "v0.3.10")]
        wait_until(lambda: mocks.loading()[0].lifted_ms, timeout_s=15, what="v0.3.9 loaded on excl")
        assert excl.up("v0.3.9").status_code == 409  # loaded, and v0.3.8 holds the MLNode
        assert excl.stop("v0.3.8").status_code == 200
        assert excl.up("v0.3.9").status_code == 200
        mocks.rearm()  # a scenario reset between tests: loading again from the next first request
        r = requests.get(f"{excl.url}/v0.3.9/api/v1/state", timeout=10)
        assert (r.status_code, r.json()) == (503, {"detail": "loading"})
    assert mocks.slow_start._thread is None


# -- faults -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "crash", "version": "v0.3.8"}, "kind: 'crash' is not one of reset, status, timeout"),
        ({"kind": "reset", "version": "0.3.8"}, "MLNode fault version"),
        ({"kind": "reset", "version": "v0.3.8", "paths": "health"}, "paths: 'health' is not one of all, chat, management"),
        ({"kind": "status", "version": "v0.3.8", "status": 404}, "expected a 5xx status, got 404"),
        ({"kind": "timeout", "version": "v0.3.8", "delay_ms": 0}, "delay_ms: expected 1 to 60000 ms"),
    ],
)
def test_fault_refuses_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MLNodeFault(**kwargs)


def test_faults_on_real_wiremock(plain_wm: WireMockServer) -> None:
    journal = Journal(plain_wm.admin_url)
    journal.reset()
    url = plain_wm.url
    try:
        reset = MLNodeFault("reset", "v0.3.8")
        journal.add_mappings(reset.stubs())
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/v0.3.8/api/v1/state", timeout=10)
        assert requests.get(f"{url}/v0.3.9/api/v1/state", timeout=10).status_code == 200  # another version: untouched
        assert journal.remove_mapping(reset.stub_id())
        assert not journal.remove_mapping(reset.stub_id())  # gone already
        assert requests.get(f"{url}/v0.3.8/api/v1/state", timeout=10).status_code == 200

        status = MLNodeFault("status", "v0.3.9", paths="chat", status=502)
        journal.add_mappings(status.stubs())
        r = requests.post(f"{url}/v0.3.9/v1/chat/completions", json={}, timeout=10)
        assert (r.status_code, r.json()) == (502, {"detail": "fault injected: HTTP 502"})
        assert requests.get(f"{url}/v0.3.9/api/v1/state", timeout=10).status_code == 200  # chat only
        journal.remove_mapping(status.stub_id())

        timeout = MLNodeFault("timeout", "v0.3.9", paths="management", delay_ms=300)
        journal.add_mappings(timeout.stubs())
        r = requests.get(f"{url}/v0.3.9/api/v1/state", timeout=10)
        assert r.status_code == 504, r.text
        assert r.elapsed.total_seconds() >= 0.3
        journal.remove_mapping(timeout.stub_id())
        # the journal says which requests the faults answered, and how
        faulted = [e for e in journal.requests() if str(e["stubMapping"]["name"]).startswith("fault ")]
        assert [(e["request"]["url"], e["response"].get("fault"), e["response"]["status"]) for e in faulted] == [
            ("/v0.3.8/api/v1/state", "CONNECTION_RESET_BY_PEER", 200),
            ("/v0.3.9/v1/chat/completions", None, 502),
            ("/v0.3.9/api/v1/state", None, 504),
        ]
    finally:
        journal.reset_mappings()
        journal.close()
    assert MLNodeFault("reset", "v0.3.9").pattern(own_wiremock=True) == "/.*"
    assert MLNodeFault("reset", "v0.3.9", paths="chat").pattern(own_wiremock=True) == "/v1/chat/completions"
