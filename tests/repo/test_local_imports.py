"""Imports of harness modules inside functions are kept only where they save start-up time, and say so: either the
module's docstring says why its imports sit inside functions ("Imports inside ..."), or a `# lazy: <why>` comment
stands right above the import (a group of imports under one comment counts). Everything else imports at the top."""

from __future__ import annotations

import ast

from tests.repo.test_code_shape import HARNESS, sources


def unexplained(source: str, where: str) -> list[str]:
    """`where:line import` for every function-local harness import its module does not explain."""
    tree = ast.parse(source, filename=where)
    doc = ast.get_docstring(tree) or ""
    if "Imports inside" in doc:
        return []
    lines = source.splitlines()
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if isinstance(node, ast.Import):
                module = node.names[0].name
            if not (module or "").startswith("harness") or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            above = node.lineno - 2
            while above >= 0 and lines[above].strip().startswith(("from harness", "import harness")):
                above -= 1  # a group of imports under one comment
            said = "# lazy:" in lines[node.lineno - 1] or (above >= 0 and lines[above].strip().startswith("# lazy:"))
            if not said:
                out.append(f"{where}:{node.lineno} {lines[node.lineno - 1].strip()}")
    return out


def test_the_checker_wants_a_reason() -> None:
    src = "def f():\n    from harness.errors import ConfigError\n\n"
    src += "def g():\n    # lazy: start-up\n    from harness.chain import Key\n"
    assert unexplained(src, "x.py") == ["x.py:2 from harness.errors import ConfigError"]
    assert unexplained('"""Imports inside functions: start-up."""\n' + src, "x.py") == []


def test_every_function_local_harness_import_says_why() -> None:
    found = [hit for path in sources() for hit in unexplained(path.read_text(), str(path.relative_to(HARNESS.parent)))]
    assert not found, "import at the top, or say why it is lazy (`# lazy: ...` above it):\n" + "\n".join(found)
