"""External backend env-file parsing: every malformed input names the line or key and the fix."""

from __future__ import annotations

import pytest

from harness.backends.external import ExternalTestnet, parse_env_file, parse_mlnode
from harness.errors import ConfigError
from harness.options import build_options

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
