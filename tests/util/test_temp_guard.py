"""Tests leave no temp folders: the suite runs in a temp directory of its own, and whatever a test leaves there fails
the run, named (harness/util/tmpguard.py, loaded by the root conftest.py)."""

from __future__ import annotations

import os
import tempfile

pytest_plugins = ["pytester"]


def test_this_run_has_its_own_temp_directory():
    assert os.path.basename(tempfile.gettempdir()).startswith("harness-test-tmp-")
    assert os.environ["TMPDIR"] == tempfile.gettempdir()


def test_a_test_that_leaves_a_temp_folder_fails_the_run(pytester):
    pytester.makepyfile(
        test_leaky="""
        import tempfile

        def test_leaks():
            tempfile.mkdtemp(prefix="leaky-")

        def test_clean(tmp_path):
            (tmp_path / "x").write_text("pytest's own tmp_path is pytest's to manage")
        """
    )
    before = tempfile.gettempdir()
    result = pytester.runpytest_subprocess("-p", "harness.util.tmpguard", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["harness temp guard: tests left 1 temp folder(s) or file(s) behind: leaky-*", "*2 passed*"])
    assert result.ret == 1
    clean = pytester.makepyfile(test_clean="def test_clean(tmp_path):\n    (tmp_path / 'x').write_text('ok')\n")
    result = pytester.runpytest_subprocess("-p", "harness.util.tmpguard", "-p", "no:cacheprovider", str(clean))
    assert result.ret == 0
    assert tempfile.gettempdir() == before
