"""--keep-env on the docker backend: each live testnet is recorded in a state file that `harness status` and
`harness down` read (docker labels included, so `harness down` reaps the containers). No engine needed: the
testnet here is a plain handle with the fields a docker testnet records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backends.contract import Endpoints, MLNodeEndpoint, TestnetInfo
from harness.backends.factory import TestnetFactory
from harness.ops.state import keep_testnets
from harness.options import RunOptions


class KeptTestnet:
    def __init__(self) -> None:
        self.info = TestnetInfo("docker", "gonka-testnet", 0.2, "v0.3.8", "reference", "single")
        self.endpoints = Endpoints("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3", "http://127.0.0.1:4")
        self.mlnodes = [MLNodeEndpoint("mlnode-1", "127.0.0.1", 5, 5, {"*": "http://127.0.0.1:5/__admin"})]
        self.labels = {"harness.testnet": "t1"}
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_keep_records_a_state_file_per_testnet_for_harness_down(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr("harness.ops.state.DEFAULT_STATE", tmp_path / "testnet.json")
    factory = TestnetFactory(RunOptions(backend="docker", keep_env=True), tmp_path / "root")
    tn = KeptTestnet()
    factory.live.append(tn)
    factory.release(tn)  # a kept testnet is not closed when its tests are done
    assert not tn.closed
    [path] = keep_testnets(factory.live)
    state = json.loads(path.read_text())
    assert state["docker_labels"] == {"harness.testnet": "t1"}
    assert state["endpoints"]["chain_rpc"] == "http://127.0.0.1:1"
    assert f"harness down --state-file {path}" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["embedded"])
def test_keep_is_refused_by_the_options_of_backends_that_cannot(backend):
    from harness.errors import ConfigError
    from harness.options import build_options

    with pytest.raises(ConfigError, match="cannot outlive pytest"):
        build_options(backend=backend, keep_env=True)
