"""The switch block B = H + switch_offset, and S read off the chain at B, are computed in harness/audit/ alone
(`SwitchContract.switch_block`, `timeline.chain_switch`): no other module does arithmetic on a contract's switch_offset.
The model API node (harness/model/) has its own knob of that name, the behaviour under test, and is left out."""

from __future__ import annotations

import ast

from tests.repo.test_code_shape import HARNESS, sources

OWNERS = (HARNESS / "audit", HARNESS / "model")


def offset_arithmetic(source: str, where: str) -> list[str]:
    """`where:line` of every + or - with `<something>.switch_offset` as an operand."""
    out = []
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            if any(isinstance(x, ast.Attribute) and x.attr == "switch_offset" for x in (node.left, node.right)):
                out.append(f"{where}:{node.lineno}")
    return out


def test_the_checker_sees_offset_arithmetic() -> None:
    assert offset_arithmetic("b = s.height + contract.switch_offset\nc = contract.switch_block(h)\n", "x.py") == ["x.py:1"]


def test_only_the_audit_computes_the_switch_block() -> None:
    found = [hit for path in sources() if not any(path.is_relative_to(o) for o in OWNERS)
             for hit in offset_arithmetic(path.read_text(), str(path.relative_to(HARNESS.parent)))]  # fmt: skip
    fix = "use SwitchContract.switch_block / harness.audit.chain_switch instead of H + switch_offset at:\n"
    assert not found, fix + "\n".join(found)
