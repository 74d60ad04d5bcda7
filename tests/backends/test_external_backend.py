"""External backend: env-file parsing (every malformed input names the line or key and the fix), and the stable
scenarios run against a testnet started by `harness up`, described by the env file it writes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.backends.external import ExternalTestnet, parse_env_file, parse_mlnode
from harness.errors import ConfigError
from harness.options import build_options
from tests.support import REPO
from tests.support.harness_up import HarnessUp

GOOD = """
# a running local-test-net
HARNESS_CHAIN_RPC=http://127.0.0.1:26657
HARNESS_API_PUBLIC=http://127.0.0.1:9000
HARNESS_API_ADMIN=http://127.0.0.1:9200   # admin
HARNESS_GOV_KEY_HEX=%s
HARNESS_MLNODE_1=id=genesis,host=genesis-mock-server,poc_port=8080,inference_port=8080,journal=http://127.0.0.1:8090
""" % ("11" * 32)


def test_good_env_file(tmp_path):
    f = tmp_path / "net.env"
    f.write_text(GOOD)
    tn = ExternalTestnet(build_options(backend="external", env_file=f))
    assert tn.endpoints.api_admin == "http://127.0.0.1:9200"
    assert tn.mlnodes[0].poc_port == 8080
    assert tn.mlnodes[0].journals == {"*": "http://127.0.0.1:8090/__admin"}  # base URL normalised to the admin API
    assert tn.validator_keys()[0].address.startswith("gonka1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("HARNESS_CHAIN_RPC=x\nno equals here\n", ":2: expected KEY=VALUE"),
        ("HARNESS_CHAIN_RPC=x\n", "missing HARNESS_API_PUBLIC, HARNESS_API_ADMIN"),
    ],
)
def test_bad_env_file(tmp_path, text, message):
    f = tmp_path / "bad.env"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        parse_env_file(f)


def test_no_key_and_no_mlnode(tmp_path):
    f = tmp_path / "n.env"
    f.write_text("\n".join(line for line in GOOD.splitlines() if "GOV" not in line))
    with pytest.raises(ConfigError, match="HARNESS_GOV_MNEMONIC or HARNESS_GOV_KEY_HEX"):
        ExternalTestnet(build_options(backend="external", env_file=f))
    f.write_text("\n".join(line for line in GOOD.splitlines() if "MLNODE" not in line))
    with pytest.raises(ConfigError, match="no HARNESS_MLNODE_"):
        ExternalTestnet(build_options(backend="external", env_file=f))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("id=a,host=h,poc_port=1,inference_port=2", "missing journal="),
        ("id=a,oops", "'oops' is not name=value"),
        ("id=a,host=h,poc_port=x,inference_port=2,journal=u", "must be integers"),
    ],
)
def test_bad_mlnode_spec(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_mlnode(spec, key="HARNESS_MLNODE_1")


def test_missing_env_file_named():
    with pytest.raises(ConfigError, match="does not exist"):
        build_options(backend="external", env_file="/nonexistent/net.env")


# ---------------------------------------------------------------- a testnet started by `harness up`, run as external
SCENARIO_1 = REPO / "scenarios" / "test_upgrade_path.py"
SCENARIOS = SCENARIO_1.parent


def _pytest(*argv: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *argv],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=SCENARIOS.parent,
    )


@pytest.fixture
def harness_up(tmp_path):
    """`harness up` as a user runs it; yields the env file it wrote for `--backend external`."""
    up = HarnessUp(tmp_path, wait_for="env")
    try:
        yield up.env_file
    finally:
        up.stop()
    assert not up.env_file.exists(), "harness up left its env file behind"


def test_scenario_1_against_a_testnet_started_by_harness_up(harness_up):
    text = harness_up.read_text()
    assert "HARNESS_API_KIND=model" in text
    assert "HARNESS_MLNODE_1=id=mlnode-1," in text
    # scenario 1 needs no restart and no rebuild: it runs against the fresh testnet
    first = _pytest(str(SCENARIO_1), "--backend", "external", "--env-file", str(harness_up))
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert "1 passed" in first.stdout, first.stdout[-3000:]
    assert "harness: under test: external testnet described by" in first.stdout
    # every other stable scenario either runs or is skipped with its reason (the chain is no longer fresh now)
    rest = _pytest("-m", "stable", str(SCENARIOS), "--backend", "external", "--env-file", str(harness_up), timeout_s=600)
    assert rest.returncode == 0, rest.stdout[-4000:] + rest.stderr[-2000:]
    summary = rest.stdout.splitlines()[-1]
    assert "failed" not in summary, rest.stdout[-4000:]
    assert "error" not in summary, rest.stdout[-4000:]
    skips = [line for line in rest.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skips, rest.stdout[-3000:]
    assert all("--backend external" in line or "needs" in line for line in skips), "\n".join(skips)
    assert any("it needs a fresh testnet" in line for line in skips), "\n".join(skips)
