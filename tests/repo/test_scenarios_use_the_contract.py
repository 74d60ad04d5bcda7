"""Scenarios read a testnet only through the Testnet contract (harness/backends/contract.py, `Testnet`): every
attribute a scenario takes from a variable named `testnet` or `tn` is a member the protocol declares, so a scenario
runs on every backend that keeps the contract. `scenarios/test_docker_backend.py` still reads the docker testnet's
own members (`labels`, `containers`); it is to be folded into the scenarios and is left out until then."""

from __future__ import annotations

import ast

from tests.support import REPO

TESTNET_NAMES = ("testnet", "tn")
NOT_YET = ("test_docker_backend.py",)


def contract_members() -> set[str]:
    tree = ast.parse((REPO / "harness" / "backends" / "contract.py").read_text())
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "Testnet")
    names = {b.name for b in cls.body if isinstance(b, ast.FunctionDef)}
    return names | {b.target.id for b in cls.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)}


def attributes_read(source: str) -> dict[str, int]:
    """{attribute: first line} read off a variable named like a testnet."""
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in TESTNET_NAMES:
            out.setdefault(node.attr, node.lineno)
    return out


def test_the_checker_reads_attributes_of_testnets_only() -> None:
    assert attributes_read("testnet.rpc.height()\nother.labels\ntn.info.block_time_s\n") == {"rpc": 1, "info": 3}


def test_scenarios_read_only_what_the_testnet_contract_declares() -> None:
    members = contract_members()
    found = [f"{path.relative_to(REPO)}:{line} .{name}"
             for path in sorted((REPO / "scenarios").glob("test_*.py")) if path.name not in NOT_YET
             for name, line in attributes_read(path.read_text()).items() if name not in members]  # fmt: skip
    assert not found, "declare these in harness/backends/contract.py's Testnet, or use what it declares:\n" + "\n".join(found)
