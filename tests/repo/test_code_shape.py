"""Code shape of harness/: no function over 60 lines, no module over 450 lines (harness/proto/gen, generated, left out).

A function's length is `end_lineno - lineno + 1` of its `def` (methods and nested functions count on their own); a
module's is its number of lines. A failure lists every offender as `file:line name (length)`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "harness"
EXCLUDED = (HARNESS / "proto" / "gen",)
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450


def sources(root: Path = HARNESS) -> Iterator[Path]:
    """Every Python file under `root` except the generated ones."""
    for path in sorted(root.rglob("*.py")):
        if not any(path.is_relative_to(ex) for ex in EXCLUDED):
            yield path


def shape_offences(source: str, where: str) -> list[str]:
    """`where:line name (n lines)` for every function longer than MAX_FUNCTION_LINES and for the module itself when
    longer than MAX_MODULE_LINES."""
    out = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        out.append(f"{where}:1 module ({lines} lines > {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                out.append(f"{where}:{node.lineno} {node.name} ({length} lines > {MAX_FUNCTION_LINES})")
    return out


def test_no_long_functions_or_modules_in_harness() -> None:
    offences = [o for path in sources() for o in shape_offences(path.read_text(), str(path.relative_to(ROOT)))]
    assert not offences, "split these into well-named helpers:\n" + "\n".join(offences)


def test_the_check_finds_long_functions_and_modules() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))  # def line + body = exactly the limit
    at_limit = f"def fits():\n{body}"
    over = f"async def too_long():\n{body}    return 0\n"
    method = f"class C:\n    def m(self):\n{''.join('    ' + line + chr(10) for line in body.splitlines())}        pass\n"
    source = at_limit + "\n" + over + "\n" + method
    assert shape_offences(source, "synthetic.py") == [
        f"synthetic.py:{MAX_FUNCTION_LINES + 2} too_long ({MAX_FUNCTION_LINES + 1} lines > {MAX_FUNCTION_LINES})",
        f"synthetic.py:{2 * MAX_FUNCTION_LINES + 5} m ({MAX_FUNCTION_LINES + 1} lines > {MAX_FUNCTION_LINES})",
    ]
    long_module = "\n".join(f"y{i} = {i}" for i in range(MAX_MODULE_LINES + 1)) + "\n"
    assert shape_offences(long_module, "big.py") == [f"big.py:1 module ({MAX_MODULE_LINES + 1} lines > {MAX_MODULE_LINES})"]
    assert shape_offences(long_module.split("\n", 1)[1], "ok.py") == []


def test_generated_code_is_left_out() -> None:
    assert any((HARNESS / "proto" / "gen").rglob("*.py"))  # there is generated code to leave out
    assert all(not p.is_relative_to(HARNESS / "proto" / "gen") for p in sources())
    assert any(p.name == "hop.py" for p in sources())
