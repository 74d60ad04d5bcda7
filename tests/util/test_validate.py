"""The one place per kind of value (harness/validate.py, harness/versions.py): property tests that any input gives
the clean value or a ConfigError naming the field, with a bounded message; never another exception."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.model.apinode.config import ApiNodeConfig
from harness.validate import (
    MAX_INT64,
    as_height,
    as_number,
    as_port,
    as_unix_ms,
    http_url,
    int_text,
    json_value,
    number_text,
    shown,
)
from harness.versions import is_version, parse_version

ANY = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40), st.binary(max_size=10),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


def outcome(fn, *args, **kw):
    try:
        return ("ok", fn(*args, **kw))
    except ConfigError as e:
        return ("refused", str(e))


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"v[0-9]{1,12}\.[0-9]{1,3}\.[0-9]{1,3}\s?", fullmatch=True)))
def test_versions(text):
    kind, value = outcome(parse_version, text, field="v")
    if kind == "refused":
        assert value.startswith("v: ")
        assert not is_version(text)
        return
    assert is_version(str(value))
    assert is_version(text) == (text == str(value))  # a chain value must be exact; a user's spaces are forgiven
    assert str(value).isascii()


@settings(max_examples=500, deadline=None)
@given(value=ANY)
def test_numbers_heights_ports_times(value):
    for fn, kw in ((as_height, {}), (as_port, {}), (as_unix_ms, {}), (as_number, {"hi": 1e6}), (int_text, {}),
                   (number_text, {"hi": 1e6})):  # fmt: skip
        kind, got = outcome(fn, value, "f", **kw)
        if kind == "refused":
            assert got.startswith("f: ")
            assert len(got) < 400
        elif fn in (as_height, int_text):
            assert isinstance(got, int)
            assert 0 <= got <= MAX_INT64
        elif fn is as_port:
            assert 1 <= got <= 65535
        else:
            assert math.isfinite(got)


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.from_regex(r"https?://[a-z0-9.:@\[\]/-]{0,30}", fullmatch=True)))
def test_urls(text):
    kind, got = outcome(http_url, text, "--chain-rpc")
    if kind == "refused":
        assert got.startswith("--chain-rpc: ")
        return
    assert got.startswith(("http://", "https://"))
    assert "@" not in got.split("/", 3)[2]


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode)))
def test_json_bodies(data):
    kind, got = outcome(json_value, data, "body")
    if kind == "refused":
        assert got.startswith("body: ")
        assert len(got) < 400


def test_shown_bounds_any_value():
    assert len(shown("x" * 10**6)) < 120
    assert "1000000 characters" in shown("x" * 10**6)

    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert shown(Bad()) == "<Bad>"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4),
    max_leaves=20,
)
CONFIG_KEYS = ["chain_node", "current_node_version", "last_used_version", "upgrade_plan", "current_height", "nodes", "api",
               "intervals", "profile", "profile_overrides", "state_file", "ready_file"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(extra=st.dictionaries(st.sampled_from(CONFIG_KEYS), JSONISH, max_size=5))
def test_api_node_config_parser_property(extra):
    """Any config mapping is a config that round-trips through its YAML form, or a ConfigError; nothing else."""
    raw = {"chain_node": {"url": "http://127.0.0.1:26657"}, **extra}
    kind, cfg = outcome(ApiNodeConfig.from_dict, raw)
    if kind == "refused":
        assert len(cfg) < 3000
        return
    again = ApiNodeConfig.from_dict(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize("text", ["v0.3.9\n", "v0.3.9 ", "v\u0660.3.9", "v1.2.3" + "4" * 20, "../x#", "v01.2.3"])
def test_chain_versions_are_exact(text):
    assert not is_version(text)
