"""Operator CLI (harness/ops) against an in-process simnet: keyring, finding the testnet, `harness upgrade` and its
refusals, `harness status`, `harness chaos` on a real chaos proxy, and `harness down` on real processes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import harness.cli
from harness.chain import DEV_MNEMONIC, DEV_USER_MNEMONIC, ChainClient, Key
from harness.errors import ConfigError
from harness.ops.keyring import Keyring
from harness.ops.state import WORKDIR_MARKER, make_temp_workdir, proc_identity
from harness.util.process import proc_starttime
from harness.util.wait import wait_until


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Never read or write the user's ~/.harness."""
    monkeypatch.setenv("HARNESS_KEYRING", str(tmp_path / "keys.json"))
    monkeypatch.setenv("HARNESS_STATE_FILE", str(tmp_path / "testnet.json"))


@pytest.fixture
def run(capsys):
    def _run(*argv: str) -> tuple[int, dict | None, str]:
        code = harness.cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        try:
            doc = json.loads(out) if out.strip() else None
        except ValueError:
            doc = None
        return code, doc, out + err

    return _run


# -- keyring -----------------------------------------------------------------------------------------------------------


def test_keyring_builtin_file_and_env(tmp_path, monkeypatch):
    ring = Keyring.load(tmp_path / "absent.json")
    assert ring.names() == ["dev"]
    assert ring.key("dev").address == Key.from_mnemonic(DEV_MNEMONIC).address
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"alice": DEV_USER_MNEMONIC, "bob": {"mnemonic": DEV_USER_MNEMONIC, "index": 1}}))
    ring = Keyring.load(path)
    assert ring.names() == ["alice", "bob", "dev"]
    assert ring.key("alice").address == Key.from_mnemonic(DEV_USER_MNEMONIC).address
    assert ring.key("bob").address == Key.from_mnemonic(DEV_USER_MNEMONIC, index=1).address != ring.key("alice").address
    monkeypatch.setenv("OPS_TEST_MNEMONIC", DEV_USER_MNEMONIC)
    assert ring.key("env:OPS_TEST_MNEMONIC").address == ring.key("alice").address


def test_keyring_refusals_name_the_problem(tmp_path):
    ring = Keyring.load(tmp_path / "absent.json")
    with pytest.raises(ConfigError, match=r"unknown key name; known names: dev"):
        ring.key("carol")
    with pytest.raises(ConfigError, match="OPS_UNSET_VAR is not set"):
        ring.key("env:OPS_UNSET_VAR")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="malformed JSON at line 1"):
        Keyring.load(bad)
    bad.write_text(json.dumps({"x": {"mnemonic": DEV_MNEMONIC, "index": -1}}))
    with pytest.raises(ConfigError, match=r"x.index must be an integer >= 0"):
        Keyring.load(bad)


def test_keys_add_writes_private_file(run, tmp_path, monkeypatch):
    monkeypatch.setenv("OPS_NEW_KEY", DEV_USER_MNEMONIC)
    code, doc, _ = run("keys", "add", "ops-user", "--mnemonic-env", "OPS_NEW_KEY", "--json")
    assert code == 0
    assert {k["name"] for k in doc["keys"]} == {"dev", "ops-user"}
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"ops-user": DEV_USER_MNEMONIC}
    code, _, out = run("keys", "add", "dev", "--mnemonic-env", "OPS_NEW_KEY")
    assert code == 2
    assert "built-in" in out


# -- finding the testnet -----------------------------------------------------------------------------------------------


def test_no_state_file_is_unreachable(run, tmp_path):
    code, doc, _ = run("status", "--state-file", tmp_path / "none.json", "--json")
    assert code == 3
    assert doc["exit_code"] == 3
    assert "no running testnet recorded" in doc["error"]


def test_dead_chain_is_unreachable(run, tmp_path):
    from harness.util.ports import free_port

    code, doc, _ = run("status", "--chain-rpc", f"http://127.0.0.1:{free_port()}", "--json")
    assert code == 3
    assert "does not answer" in doc["error"]


def test_conflicting_sources_are_bad_input(run, tmp_path):
    env = tmp_path / "ext.env"
    env.write_text(
        "HARNESS_CHAIN_RPC=http://127.0.0.1:1\nHARNESS_API_PUBLIC=http://127.0.0.1:2\nHARNESS_API_ADMIN=http://127.0.0.1:3\n"
    )
    code, _, out = run("status", "--env-file", env, "--state-file", tmp_path / "s.json")
    assert code == 2
    assert "not both" in out
    code, _, out = run("status", "--api-public", "http://127.0.0.1:2")
    assert code == 2
    assert "only work together with --chain-rpc" in out
    code, _, out = run("down", "--env-file", env)
    assert code == 2
    assert "not ours to stop" in out


def test_env_file_context(tmp_path):
    from harness.ops.context import from_env_file

    env = tmp_path / "ext.env"
    env.write_text(
        "HARNESS_CHAIN_RPC=http://127.0.0.1:26657\nHARNESS_API_PUBLIC=http://127.0.0.1:9000\n"
        "HARNESS_API_ADMIN=http://127.0.0.1:9200\nHARNESS_BLOCK_TIME=5\nHARNESS_API_PROFILE=pr228\n"
        f'HARNESS_GOV_MNEMONIC="{DEV_MNEMONIC}"\n'
        "HARNESS_MLNODE_1=id=n1,host=h,poc_port=8080,inference_port=8081,journal=http://127.0.0.1:8090/__admin\n"
    )
    ctx = from_env_file(env)
    assert ctx.backend == "external"
    assert ctx.api_profile == "pr228"
    assert ctx.block_time_s == 5.0
    assert ctx.validator_mnemonics == [DEV_MNEMONIC]
    assert [(n.id, n.journals) for n in ctx.mlnodes] == [("n1", {"*": "http://127.0.0.1:8090/__admin"})]


# -- harness upgrade ---------------------------------------------------------------------------------------------------


def test_upgrade_refuses_bad_input_without_a_testnet(run, tmp_path):
    none = tmp_path / "none.json"
    code, doc, _ = run("upgrade", "--to", "0.3.9", "--in", "20", "--state-file", none, "--json")
    assert code == 2
    assert "'0.3.9' is not a valid MLNode version" in doc["error"]
    code, doc, _ = run("upgrade", "--to", "v0.3.9", "--in", "20", "--from", "carol", "--state-file", none, "--json")
    assert code == 2
    assert "unknown key name" in doc["error"]
    assert "known names: dev" in doc["error"]
    code, _, out = run("upgrade", "--to", "v0.3.9", "--in", "0", "--state-file", none)
    assert code == 2
    assert "--in: 0 blocks" in out


def test_upgrade_too_close_names_the_earliest_height(run, gov_simnet):
    h = ChainClient(gov_simnet.rpc_url).height()
    code, doc, _ = run("upgrade", "--to", "v0.3.9", "--at", h + 1, "--chain-rpc", gov_simnet.rpc_url, "--json")
    assert code == 2
    assert "too close" in doc["error"]
    assert "the earliest allowed height is" in doc["error"]
    earliest = int(doc["error"].split("the earliest allowed height is ")[1].split()[0])
    assert earliest > h + 1


def test_upgrade_then_status_then_duplicate_refused(run, gov_simnet):
    chain = ChainClient(gov_simnet.rpc_url)
    code, doc, out = run("upgrade", "--to", "v0.3.9", "--in", 20, "--from", "dev", "--chain-rpc", gov_simnet.rpc_url, "--json")
    assert code == 0, out
    assert doc["ok"] is True
    assert doc["authority"] == chain.gov_authority()
    assert doc["proposer"] == Key.from_mnemonic(DEV_MNEMONIC).address
    assert doc["passed_height"] < doc["upgrade_height"] == doc["api_switch_height"]
    h = doc["upgrade_height"]

    code, st, out = run("status", "--chain-rpc", gov_simnet.rpc_url, "--json")
    assert code == 0, out
    assert {"height": h, "version": "v0.3.9"}.items() <= st["chain"]["partial_upgrades"][0].items()
    prop = next(p for p in st["chain"]["proposals"] if p["id"] == doc["proposal_id"])
    assert prop["status"] == "PROPOSAL_STATUS_PASSED"
    assert prop["partial_upgrades"] == [{"height": h, "version": "v0.3.9"}]
    assert st["chain"]["mlnode_version"] == "v0.3.8"
    assert st["chain"]["block_time_s"] > 0

    code, doc2, _ = run("upgrade", "--to", "v0.3.10", "--at", h, "--chain-rpc", gov_simnet.rpc_url, "--json")
    assert code == 2
    assert f"height {h} already has a pending partial upgrade: v0.3.9" in doc2["error"]

    chain.rpc.wait_for_height(h + 1, timeout_s=30)
    assert chain.mlnode_version() == "v0.3.9"
    code, doc3, _ = run("upgrade", "--to", "v0.3.9", "--in", 12, "--chain-rpc", gov_simnet.rpc_url, "--json")
    assert code == 2
    assert "already runs MLNode version v0.3.9" in doc3["error"]


# -- harness chaos -----------------------------------------------------------------------------------------------------


def test_chaos_add_list_clear_on_a_real_proxy(run, gov_simnet):
    from harness.chaos import ChaosProxy

    with ChaosProxy(gov_simnet.rpc_url, seed=7, control_port=0) as proxy:
        where = ("--chain-rpc", gov_simnet.rpc_url, "--chaos-control", proxy.control_url, "--json")
        code, doc, out = run("chaos", "add", "eof", "--method", "abci_query", "--nth", 1, "--max-count", 1, *where)
        assert code == 0, out
        assert doc["seed"] == 7
        assert doc["spec"]["target"] == {"methods": ["abci_query"], "nth": 1, "kind": "any"}
        fid = doc["id"]
        code, doc, _ = run("chaos", "add", "latency", "--param", "latency_ms=50", "--for-ms", 60000, *where)
        assert code == 0
        code, doc, _ = run("chaos", "list", *where)
        assert [f["fault"] for f in doc["faults"]] == ["eof", "latency"]
        assert doc["faults"][0]["id"] == fid
        with ChainClient(proxy.url) as via_proxy:  # the first abci_query through the proxy gets EOF
            with pytest.raises(Exception, match="abci_query"):
                via_proxy.mlnode_version()
            assert via_proxy.mlnode_version().startswith("v0.3.")
        code, doc, _ = run("chaos", "list", *where)
        assert doc["faults"][0]["applied"] == 1
        code, doc, out = run("status", *where)  # status shows the faults in force and their counts
        assert code == 0, out
        chaos = doc["chaos"]
        rows = [(f["fault"], f["state"], f["applied"]) for f in chaos["faults"]]
        assert rows[0] == ("eof", "ended", 1)
        assert rows[1][:2] == ("latency", "active")  # it delayed the calls above: its count says how many
        assert (chaos["in_force"], chaos["applied_total"], chaos["seed"]) == (1, 1 + rows[1][2], 7)
        code, _, out = run("status", *where[:-1])
        assert code == 0, out
        assert f"chaos faults in force: 1 (applied {1 + rows[1][2]} times in all; seed 7)" in out
        code, doc, _ = run("chaos", "clear", *where)
        assert doc["cleared"] == 2
        assert doc["faults"] == []


def test_chaos_bad_spec_is_refused_before_any_network(run, tmp_path):
    none = ("--state-file", tmp_path / "none.json", "--json")
    code, doc, _ = run("chaos", "add", "eof", "--method", "abci_query", *none)
    assert code == 2
    assert "has no end" in doc["error"]
    code, doc, _ = run("chaos", "add", "teleport", "--max-count", 1, *none)
    assert code == 2
    assert "teleport" in doc["error"]
    code, doc, _ = run("chaos", "add", "latency", "--param", "latency", "--max-count", 1, *none)
    assert code == 2
    assert "NAME=VALUE" in doc["error"]


def test_chaos_method_the_chain_connection_never_carries_is_refused(run, gov_simnet):
    from harness.chaos import ChaosProxy
    from harness.chaos.methods import COMETBFT_METHODS

    with ChaosProxy(gov_simnet.rpc_url, seed=7, control_port=0) as proxy:
        where = ("--chain-rpc", gov_simnet.rpc_url, "--chaos-control", proxy.control_url, "--json")
        code, doc, _ = run("chaos", "add", "eof", "--method", "abci-query", "--max-count", 5, *where)
        assert code == 2
        assert "--method 'abci-query' (did you mean 'abci_query'?): the chain connection never carries" in doc["error"]
        assert ", ".join(COMETBFT_METHODS) in doc["error"]
        assert "--any-method" in doc["error"]
        spec = '{"fault": "eof", "target": {"methods": ["abci_query", "teleport"]}, "window": {"max_count": 1}}'
        code, doc, _ = run("chaos", "add", "--spec", spec, *where)
        assert code == 2
        assert "--spec target.methods 'teleport': the chain connection never carries" in doc["error"]
        code, doc, _ = run("chaos", "list", *where)
        assert doc["faults"] == [], "nothing was installed"
        code, doc, out = run("chaos", "add", "eof", "--method", "my_route", "--any-method", "--max-count", 1, *where)
        assert code == 0, out
        assert doc["spec"]["target"]["methods"] == ["my_route"]


def test_chaos_without_control_url_is_bad_input(run, gov_simnet):
    code, doc, _ = run("chaos", "list", "--chain-rpc", gov_simnet.rpc_url, "--json")
    assert code == 2
    assert "no chaos proxy control URL" in doc["error"]


# -- harness down ------------------------------------------------------------------------------------------------------

SLEEPER = "import signal, sys, time\n{}\nprint('ready', flush=True)\nfor _ in range(6000): time.sleep(0.01)\n"


def _spawn(ignore_term: bool = False) -> subprocess.Popen:
    """A sleeping child in its own session; returns once its signal handling is in place (it printed 'ready')."""
    code = SLEEPER.format("signal.signal(signal.SIGTERM, signal.SIG_IGN)" if ignore_term else "")
    proc = subprocess.Popen([sys.executable, "-c", code, "harness-ops-test"], start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready", "the test child did not start"
    return proc


def _write_state(path, children: list[tuple[str, subprocess.Popen]], *, starttime_of=proc_starttime, **extra) -> None:
    path.write_text(
        json.dumps(
            {
                "pid": 2**22 - 1,
                "backend": "embedded",
                "pids": [{"name": n, **proc_identity(p.pid), "starttime": starttime_of(p.pid)} for n, p in children],
                **extra,
            }
        )
    )


def test_down_stops_recorded_groups_and_is_idempotent(run, tmp_path, monkeypatch):
    polite, stubborn = _spawn(), _spawn(ignore_term=True)
    wait_until(lambda: proc_starttime(stubborn.pid) is not None, timeout_s=5, what="child started")
    state = tmp_path / "testnet.json"
    _write_state(state, [("polite", polite), ("stubborn", stubborn)])
    try:
        from harness.ops import down as down_mod

        monkeypatch.setattr(down_mod, "GROUP_TERM_TIMEOUT_S", 1.0)
        code, doc, out = run("down", "--state-file", state, "--json")
        assert code == 0, out
        results = {s["name"]: s["result"] for s in doc["stopped"]}
        assert results == {"harness up": "gone", "polite": "stopped", "stubborn": "killed"}
        assert polite.wait(5) == -signal.SIGTERM
        assert stubborn.wait(5) == -signal.SIGKILL
        assert not state.exists()
        code, doc, _ = run("down", "--state-file", state, "--json")
        assert code == 0
        assert doc["found"] is False
    finally:
        for p in (polite, stubborn):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def test_down_leaves_a_reused_pid_alone(run, tmp_path):
    other = _spawn()
    state = tmp_path / "testnet.json"
    _write_state(state, [("stale", other)], starttime_of=lambda pid: (proc_starttime(pid) or 0) + 1)
    try:
        code, doc, _ = run("down", "--state-file", state, "--json")
        assert code == 0
        assert [s["result"] for s in doc["stopped"] if s["name"] == "stale"] == ["not-ours"]
        assert other.poll() is None
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        other.wait(5)


def test_down_proves_pid_start_time_and_command_line_before_signalling(run, tmp_path):
    """A state file naming a live process of ours with its true pid and start time but another command line (a
    crafted or stale file) must not get it killed; neither must one that records no command line, nor pid 1."""
    victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
    other = _spawn()
    try:
        wait_until(lambda: proc_starttime(victim.pid) is not None, timeout_s=5, what="sleep started")
        state = tmp_path / "victim.json"
        state.write_text(json.dumps({
            "backend": "embedded", "pid": victim.pid, "starttime": proc_starttime(victim.pid),
            "cmdline": ["python", "-m", "harness", "up"],
            "pids": [{"name": "no-cmdline", "pid": other.pid, "starttime": proc_starttime(other.pid)},
                     {"name": "init", "pid": 1, "starttime": proc_starttime(1), "cmdline": ["/sbin/init"]},
                     {"name": "me", "pid": os.getpid(), **proc_identity(os.getpid())}],
        }))  # fmt: skip
        code, doc, out = run("down", "--state-file", state, "--json")
        assert code == 0, out
        results = {s["name"]: s["result"] for s in doc["stopped"]}
        assert results == {"harness up": "not-ours", "no-cmdline": "unproven"}
        # had `down` signalled them, it would have waited until they were gone before returning
        assert victim.poll() is None
        assert other.poll() is None
    finally:
        for p in (victim, other):
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def test_down_removes_only_the_temp_workdir_harness_up_made(run, tmp_path):
    workdir, token = make_temp_workdir()
    (workdir / "logs").mkdir()
    (workdir / "logs" / "apinode.log").write_text("x" * 1000)
    state = tmp_path / "s.json"
    _write_state(state, [], workdir=str(workdir), workdir_token=token)
    code, doc, _ = run("down", "--state-file", state, "--json")
    assert code == 0
    assert doc["workdir"] == {"path": str(workdir), "result": "removed"}
    assert not workdir.exists()
    # a crafted state file pointing at another directory (the user's, /, a symlink) never gets it removed
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / WORKDIR_MARKER).write_text("another-token")
    link = tmp_path / "link"
    link.symlink_to(precious)
    for target in (precious, link, Path("/")):
        _write_state(state, [], workdir=str(target), workdir_token=token)
        code, doc, _ = run("down", "--state-file", state, "--json")
        assert code == 0
        assert doc["workdir"]["result"].startswith("kept"), doc
    assert (precious / WORKDIR_MARKER).exists()
    _write_state(state, [], workdir=str(precious))  # `harness up --workdir DIR`: no token, never removed
    assert run("down", "--state-file", state, "--json")[1]["workdir"] is None
    assert precious.exists()


def test_one_claim_per_state_file_and_only_its_owner_removes_the_file(tmp_path):
    from harness.ops.state import claim_state, clear_state

    state = tmp_path / "testnet.json"
    first = claim_state(state)
    with pytest.raises(ConfigError, match=rf"belongs to a testnet that is running \(harness up pid {os.getpid()}"):
        claim_state(state)
    state.write_text(json.dumps({"owner": "someone-else", "pid": 1}))  # e.g. written by hand: not this claim's
    state.with_suffix(".env").write_text("HARNESS_CHAIN_RPC=http://127.0.0.1:1\n")
    first.release()
    assert state.exists(), "another owner's files are left alone"
    assert state.with_suffix(".env").exists()
    assert not first.lock_path.exists()
    assert clear_state(state, owner=first.owner) is False
    second = claim_state(state)  # the claim is free again; a file whose processes are gone is only stale
    state.write_text(json.dumps({"owner": second.owner}))
    second.release()
    assert not state.exists()
    assert not state.with_suffix(".env").exists()
    assert not second.lock_path.exists()
