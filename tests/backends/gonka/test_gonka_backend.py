"""The gonka backend's parts that need no Gonka binaries: options, binary checks, genesis overrides, config files,
the chain's PoC windows, and chat request signatures as the real API node verifies them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cosmpy.crypto.keypairs import PublicKey

from harness.backends.contract import Capability
from harness.backends.factory import capabilities_for
from harness.backends.gonka.binaries import GonkaBinaries, sandboxed
from harness.backends.gonka.chain import set_toml
from harness.backends.gonka.genesis import MODEL_FULL, ChainParams, apply_overrides, native_denom
from harness.chain.keys import DEV_MNEMONIC, Key
from harness.clients.api import RequestSigner
from harness.drive.epochs import ChainEpochs
from harness.errors import ConfigError, DependencyMissing
from harness.options import build_options


# -- options ---------------------------------------------------------------------------------------------------------
def test_backend_gonka_needs_a_binary_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_GONKA_BIN", raising=False)
    with pytest.raises(ConfigError, match="--gonka-bin DIR or HARNESS_GONKA_BIN"):
        build_options(backend="gonka")


def test_gonka_bin_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_GONKA_BIN", str(tmp_path))
    assert build_options(backend="gonka").gonka_bin == tmp_path.resolve()
    monkeypatch.setenv("HARNESS_GONKA_BIN", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="is not a directory"):
        build_options(backend="gonka")


def test_gonka_capabilities_exclude_the_model_only_ones(tmp_path: Path) -> None:
    caps = capabilities_for(build_options(backend="gonka", gonka_bin=tmp_path))
    assert Capability.CHAIN_POC in caps
    assert Capability.RESTART_API in caps
    assert not caps & {Capability.MODEL_API, Capability.ADMIN_RECONCILE, Capability.POC_ON_DEMAND}


# -- binaries ----------------------------------------------------------------------------------------------------------
def _fake_bin(path: Path, script: str) -> None:
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_locate_names_the_missing_binary(tmp_path: Path) -> None:
    _fake_bin(tmp_path / "inferenced", "echo v1")
    with pytest.raises(ConfigError, match=r"no decentralized-api in it; build them from your gonka checkout"):
        GonkaBinaries.locate(tmp_path)


def test_locate_refuses_a_binary_that_does_not_run(tmp_path: Path) -> None:
    _fake_bin(tmp_path / "inferenced", "echo 'boom: cannot open shared object' >&2; exit 127")
    _fake_bin(tmp_path / "decentralized-api", "exit 0")
    with pytest.raises(DependencyMissing, match=r"`inferenced version` exited 127: boom"):
        GonkaBinaries.locate(tmp_path)


def test_revision_label_from_the_directory(tmp_path: Path) -> None:
    _fake_bin(tmp_path / "inferenced", "echo v1")
    _fake_bin(tmp_path / "decentralized-api", "exit 0")
    (tmp_path / "REVISION").write_text("main@312044d2\n")
    bins = GonkaBinaries.locate(tmp_path)
    assert bins.revision == "main@312044d2"
    assert bins.known_revision == "main"
    digest = hashlib.sha256((tmp_path / "decentralized-api").read_bytes()).hexdigest()
    assert bins.describe("decentralized-api").startswith(f"decentralized-api main@312044d2 (sha256 {digest[:12]}")
    assert GonkaBinaries.locate(tmp_path, revision="mine@abc").known_revision is None


def test_sandbox_mounts_a_private_root_that_receives_the_hard_coded_writes(tmp_path: Path) -> None:
    """What the real binaries write under /root lands in the run's own directory, and the real /root is untouched."""
    marker = f"harness-sandbox-{os.getpid()}"
    script = f"mkdir -p /root/.dapi && touch /root/.dapi/{marker} && cat /root/cw20_base.wasm | wc -c"
    argv = sandboxed(["sh", "-c", script], tmp_path)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0 and "Operation not permitted" in r.stderr:
        pytest.skip(f"no private mount namespaces here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "8"  # the minimal WebAssembly module stands in for cw20_base.wasm
    assert (tmp_path / "upper" / ".dapi" / marker).exists()
    assert not Path(f"/root/.dapi/{marker}").exists()


# -- genesis and config files ----------------------------------------------------------------------------------------------
def _default_genesis(with_set_validators: bool = True, with_mlnode_version: bool = False) -> dict:
    epoch = {"epoch_length": "100", "poc_stage_duration": "10", "poc_exchange_duration": "2"}
    if with_set_validators:
        epoch["set_new_validators_delay"] = "0"
    inference: dict = {"params": {"epoch_params": epoch, "validation_params": {"expiration_blocks": "20"}}, "model_list": []}
    inference["genesis_only_params"] = {"supply_denom": "ngonka"}
    if with_mlnode_version:
        inference["mlnode_version"] = None
    gov = {"params": {"voting_period": "172800s", "min_deposit": []}}
    return {"app_state": {"gov": gov, "bank": {"denom_metadata": []}, "inference": inference}}


def test_overrides_apply_only_where_the_binary_has_the_key() -> None:
    older = _default_genesis(with_set_validators=False)
    skipped = apply_overrides(older, ChainParams().overrides("nicoin"), model=MODEL_FULL)
    epoch = older["app_state"]["inference"]["params"]["epoch_params"]
    assert epoch["epoch_length"] == "60"
    assert epoch["poc_stage_duration"] == "8"
    assert "set_new_validators_delay" not in epoch
    assert "app_state.inference.params.epoch_params.set_new_validators_delay" in skipped
    assert "app_state.inference.mlnode_version" in skipped
    assert older["app_state"]["gov"]["params"]["voting_period"] == "4s"
    assert older["app_state"]["gov"]["params"]["min_deposit"] == [{"denom": "nicoin", "amount": "1000"}]
    assert older["app_state"]["inference"]["model_list"] == [MODEL_FULL]
    assert older["app_state"]["bank"]["denom_metadata"][0]["base"] == "nicoin"


def test_start_version_goes_into_a_chain_that_keeps_one() -> None:
    g = _default_genesis(with_mlnode_version=True)
    apply_overrides(g, ChainParams(start_version="v1.2.3").overrides("ngonka"), model=MODEL_FULL)
    assert g["app_state"]["inference"]["mlnode_version"] == {"current_version": "v1.2.3"}


@pytest.mark.parametrize(("supply", "base"), [("ngonka", "ngonka"), ("icoin", "nicoin"), ("", "ngonka")])
def test_native_denom(supply: str, base: str) -> None:
    g = {"app_state": {"inference": {"genesis_only_params": {"supply_denom": supply} if supply else {}}}}
    assert native_denom(g) == base


def test_set_toml_changes_one_key_in_one_section(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text('proxy_app = "tcp://0.0.0.0:1"\n\n[rpc]\nladdr = "tcp://0.0.0.0:26657"\n\n[p2p]\nladdr = "tcp://0.0.0.0:26656"\n')
    set_toml(p, "p2p", "laddr", "tcp://127.0.0.1:5")
    set_toml(p, "", "proxy_app", "tcp://127.0.0.1:6")
    set_toml(p, "rpc", "pprof_laddr", "")
    set_toml(p, "consensus", "timeout_commit", "500ms")
    text = p.read_text()
    assert 'proxy_app = "tcp://127.0.0.1:6"' in text
    assert '[rpc]\nladdr = "tcp://0.0.0.0:26657"\npprof_laddr = ""' in text
    assert '[p2p]\nladdr = "tcp://127.0.0.1:5"' in text
    assert text.rstrip().endswith('[consensus]\ntimeout_commit = "500ms"')


# -- PoC windows --------------------------------------------------------------------------------------------------------------
def test_poc_windows_from_epoch_params() -> None:
    e = ChainEpochs(epoch_length=40, epoch_shift=0, poc_blocks=23)
    assert e.poc_start_at_or_after(1) == 40
    assert e.poc_start_at_or_after(41) == 80
    assert e.window_at(30) is None
    w = e.window_at(45)
    assert w is not None
    assert (w.start, w.end) == (40, 66)
    assert e.window_at(66) == w
    assert e.window_at(67) is None
    assert e.quiet_height(38) == 67  # 38 is in the lead before the PoC at 40
    assert e.quiet_height(50) == 67
    assert e.quiet_height(70) == 70
    assert e.next_window_after(40).start == 80
    assert [x.start for x in e.windows_between(10, 130)] == [40, 80, 120]
    assert "blocks 40-66" in w.name()


# -- signed chat ---------------------------------------------------------------------------------------------------------------
def test_chat_signature_is_what_the_api_node_verifies() -> None:
    """bytes = body + decimal timestamp + transfer address; secp256k1 over sha256; base64; verified with the pubkey."""
    key = Key.from_mnemonic(DEV_MNEMONIC)
    signer = RequestSigner(key, transfer_address="gonka1transferagent")
    body = json.dumps({"model": "m", "messages": []}).encode()
    headers = signer.headers(body, timestamp_ns=1_700_000_000_000_000_000)
    assert headers["X-Requester-Address"] == key.address
    assert headers["X-Timestamp"] == "1700000000000000000"
    sig = base64.b64decode(headers["Authorization"])
    assert len(sig) == 64
    pub = PublicKey(key.public_key_bytes)
    assert pub.verify(body + b"1700000000000000000gonka1transferagent", sig)
    assert not pub.verify(body + b"1700000000000000001gonka1transferagent", sig)


def test_epoch_diagnosis_names_a_participant_that_dropped_out() -> None:
    from harness.backends.gonka.testnet import epoch_diagnosis

    healthy = "\x1b[32mINF\x1b[0m ComputeNewWeights: Final summary pocMiningParticipants=1 totalActiveParticipants=1\n"
    dead = healthy + "ERR Calculate: No validations for participant found\n"
    dead += "INF ComputeNewWeights: Final summary totalActiveParticipants=0\n"
    assert "epochs look healthy" in epoch_diagnosis(healthy)
    text = epoch_diagnosis(dead)
    assert "participant is not active" in text
    assert "No validations for participant" in text
    assert "(no PoC epoch yet)" in epoch_diagnosis("executed block height=3\n")


# -- a snapshot's config, pointed at this run --------------------------------------------------------------------------
def test_a_snapshots_api_config_is_retargeted_and_keeps_the_nodes_own_state(tmp_path: Path) -> None:
    """What the real API node wrote into its config (its heights, versions, seeds) stays; the chain URL, the keyring
    and the MLNodes become this run's; the ports stay (the public URL is on chain)."""
    from types import SimpleNamespace

    import yaml

    from harness.backends.contract import MLNodeEndpoint
    from harness.backends.gonka.dapi import DecentralizedApi

    ports = {"public": 10001, "ml": 10002, "admin": 10003, "grpc": 10004, "nats": 10005}
    old = {
        "api": {"public_server_port": 10001, "public_url": "http://127.0.0.1:10001"},
        "chain_node": {"url": "http://127.0.0.1:20000", "keyring_dir": "/old/home", "signer_key_name": "genesis"},
        "nats": {"host": "127.0.0.1", "port": 10005},
        "current_height": 139,
        "current_node_version": "v0.3.8",
        "current_seed": {"seed": 42, "epoch_index": 3},
        "nodes": [{"id": "mlnode-1", "host": "127.0.0.1", "poc_port": 30000, "inference_port": 30000}],
    }
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "config.yaml").write_text(yaml.safe_dump(old))
    node = MLNodeEndpoint("mlnode-1", "127.0.0.1", 31000, 31001, journals={"*": "http://127.0.0.1:31000/__admin"})
    chain = SimpleNamespace(home=tmp_path / "new-home")
    dapi = DecentralizedApi(None, tmp_path / "api", chain=chain, chain_url="http://127.0.0.1:21000", mlnodes=[node],  # type: ignore[arg-type]
                            start_version="v0.3.8", ports=ports, log_dir=tmp_path)  # fmt: skip
    dapi.retarget()
    new = yaml.safe_load((tmp_path / "api" / "config.yaml").read_text())
    assert new["chain_node"]["url"] == "http://127.0.0.1:21000"
    assert new["chain_node"]["keyring_dir"] == str(tmp_path / "new-home")
    assert new["chain_node"]["signer_key_name"] == "genesis"
    assert [(n["id"], n["poc_port"], n["inference_port"]) for n in new["nodes"]] == [("mlnode-1", 31000, 31001)]
    assert (new["current_height"], new["current_node_version"], new["current_seed"]) == (139, "v0.3.8", old["current_seed"])
    assert new["api"] == old["api"]
    assert dapi.public_url == "http://127.0.0.1:10001"
