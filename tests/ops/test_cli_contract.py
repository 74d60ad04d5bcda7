"""The exit-code contract of every `harness` command, enforced at the top of the CLI: 0 ok, 1 a check failed, 2 bad
input, 3 unreachable or a missing dependency. A crash is never reported as a failed check, and never as a traceback."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator

import pytest

import harness.cli
from harness.chaos import ChaosProxy
from harness.chaos.testing import RpcUpstream
from harness.errors import ConfigError, DependencyMissing, HarnessError, StartupError, Unreachable, WaitTimeout, exit_code_for
from harness.util.ports import free_port


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = harness.cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse refusals
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("x: bad"), 2),
        (Unreachable("gone"), 3),
        (DependencyMissing("no java"), 3),
        (StartupError("did not start"), 3),
        (WaitTimeout("never"), 1),
        (HarnessError("check failed"), 1),
        (ConnectionRefusedError(111, "refused"), 3),
        (OverflowError("int too large"), 2),
        (RecursionError("maximum recursion depth exceeded"), 2),
        (ValueError("invalid literal"), 2),
        (TypeError("unhashable"), 2),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 2),
        (IsADirectoryError(21, "Is a directory"), 2),
        (MemoryError(), 2),
    ],
)
def test_every_exception_maps_to_the_contract(exc: BaseException, code: int) -> None:
    got, message = exit_code_for(exc)
    assert got == code
    assert message
    assert "Traceback" not in message


def test_an_unexpected_exception_exits_2_without_a_traceback(capsys, monkeypatch) -> None:
    def boom(_args: argparse.Namespace) -> int:
        raise OverflowError("cannot convert float infinity to integer")

    def register(sub: argparse._SubParsersAction) -> None:
        sub.add_parser("boom").set_defaults(func=boom)

    monkeypatch.setattr(harness.cli, "COMMAND_MODULES", [__name__])  # this module, as a command module
    monkeypatch.setattr(sys.modules[__name__], "register", register, raising=False)
    code, _out, err = run(capsys, "boom")
    assert code == 2
    assert "Traceback" not in err
    assert "OverflowError: cannot convert float infinity to integer" in err
    assert "harness bug" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["upgrade", "--to", "v0.3.9", "--at", "99999999999999999999999"], "--at"),
        (["upgrade", "--to", "v0.3.9", "--at", "1_0"], "decimal digits"),
        (["upgrade", "--to", "v0.3.9", "--in", " 2 "], "decimal digits"),
        (["chaos-proxy", "--listen", "70000", "--upstream", "http://127.0.0.1:1"], "TCP port"),
        (["chaos-proxy", "--listen", "0", "--upstream", "http://127.0.0.1:1", "--max-lifetime-s", "1e400"], "finite"),
        (["chaos-proxy", "--listen", "0", "--upstream", "http://127.0.0.1:1", "--max-lifetime-s", "nan"], "finite"),
        (["chaos-proxy", "--listen", "0", "--upstream", "http://127.0.0.1:1", "--parent-pid", "0"], "process id"),
        (["chaos-proxy", "--listen", "0", "--upstream", "http://127.0.0.1:1", "--parent-pid", "-1"], "process id"),
        (["status", "--chain-rpc", "http://[::1"], "not a valid URL"),
        (["status", "--chain-rpc", "http://127.0.0.1:99999"], "Port out of range"),
        (["status", "--chain-rpc", "http://user@127.0.0.1:26657"], "user info"),
        (["status", "--chain-rpc", "http://127.0.0.1:1", "--api-admin", "ftp://x"], "--api-admin"),
        (["chaos", "remove", "-3"], "decimal digits"),
    ],
)
def test_malformed_flags_exit_2_naming_the_flag(capsys, argv: list[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize("content", ["[]", "3", '"x"', '{"endpoints": []}', '{"endpoints": {"chain_rpc": "http://[::1"}}'])
def test_a_malformed_state_file_exits_2(capsys, tmp_path, content: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    code, out, err = run(capsys, "status", "--state-file", state, "--json")
    assert code == 2, err
    assert json.loads(out)["exit_code"] == 2
    assert "state file" in err


def test_a_binary_or_directory_state_file_exits_2(capsys, tmp_path) -> None:
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert run(capsys, "status", "--state-file", binary)[0] == 2
    assert run(capsys, "status", "--state-file", tmp_path)[0] == 2


@pytest.fixture(scope="module")
def proxy() -> Iterator[ChaosProxy]:
    with RpcUpstream() as up, ChaosProxy(up.url) as p:
        yield p


def test_removing_an_unknown_fault_is_bad_input(capsys, proxy: ChaosProxy) -> None:
    where = ["--chain-rpc", proxy.upstream, "--chaos-control", proxy.control_url]
    code, out, err = run(capsys, "chaos", "remove", "99", *where, "--json")
    assert code == 2, err
    assert "fault 99 not found" in json.loads(out)["error"]


def test_an_unreachable_chaos_proxy_exits_3(capsys) -> None:
    where = ["--chain-rpc", "http://127.0.0.1:1", "--chaos-control", f"http://127.0.0.1:{free_port()}"]
    code, _, err = run(capsys, "chaos", "list", *where)
    assert code == 3, err


def test_the_command_table_names_every_command_of_every_module() -> None:
    import importlib

    registered = {}
    for module in harness.cli.COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        registered.update(dict.fromkeys(sub.choices, module))
    assert registered == harness.cli.COMMANDS


@pytest.mark.parametrize("command", ["up", "demo"])
@pytest.mark.parametrize("backend", ["docker"])
def test_up_and_demo_refuse_backends_they_cannot_start(capsys, monkeypatch, tmp_path, command, backend):
    # --backend is honoured (embedded or gonka), never accepted and ignored: the others are refused with the reason
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code, _, err = run(capsys, command, "--backend", backend)
    assert code == 2, err
    from harness.util.invocation import pasteable

    assert pasteable(f"--backend {backend}: `harness up` and `harness demo` start embedded or gonka testnets") in err
    assert list(tmp_path.iterdir()) == [], "the temp workdir made for the refused command is gone"
