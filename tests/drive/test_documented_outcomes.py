"""Documented upstream outcomes (harness/drive/documented.py): on a documented revision a scenario's known failure is
xfailed quoting it; a pass, or a failure of another kind, fails naming what was documented; any other build is
judged by the contract alone."""

from __future__ import annotations

import pytest

from harness.drive.documented import DOCUMENTED, Documented, judge, lookup

pytest_plugins = ["pytester"]

KNOWN = Documented("main", "test_x.py::test_known[H-1]", "keeps the old prefix", r"\d+ late request\(s\)")


def test_lookup_by_revision_and_the_id_below_scenarios() -> None:
    table = (KNOWN,)
    assert lookup("main", "scenarios/test_x.py::test_known[H-1]", table) is KNOWN
    assert lookup("pr228", "scenarios/test_x.py::test_known[H-1]", table) is None
    assert lookup("", "scenarios/test_x.py::test_known[H-1]", table) is None  # any other build
    assert lookup("main", "scenarios/test_x.py::test_known[H]", table) is None


def test_the_known_failure_is_xfailed_quoting_it() -> None:
    verdict = judge(KNOWN, passed=False, failure_text="audit fail: counts ...; 3 late request(s) on mlnode-1")
    assert verdict.outcome == "xfailed"
    assert verdict.text == "main: keeps the old prefix"


def test_another_failure_or_a_pass_fails_naming_the_documentation() -> None:
    other = judge(KNOWN, passed=False, failure_text="1 missing stop on mlnode-1")
    assert other.outcome == "failed"
    assert "not as documented" in other.text
    assert KNOWN.signature in other.text
    fixed = judge(KNOWN, passed=True, failure_text="")
    assert fixed.outcome == "failed"
    assert "no longer does that" in fixed.text


@pytest.mark.parametrize("doc", DOCUMENTED, ids=lambda d: f"{d.revision}:{d.scenario}")
def test_every_documented_row_names_a_scenario_that_exists(doc: Documented, request: pytest.FixtureRequest) -> None:
    path, _, name = doc.scenario.partition("::")
    source = request.config.rootpath / "scenarios" / path
    assert source.is_file(), f"{doc.scenario}: no scenarios/{path}"
    function = name.split("[", 1)[0]
    assert f"def {function}(" in source.read_text(), f"{doc.scenario}: no {function} in scenarios/{path}"
    assert doc.revision in ("main", "pr228")


PLUGIN_RUN = """
import types
import pytest
from harness import plugin
from harness.drive import documented

documented.DOCUMENTED = (
    documented.Documented("main", "test_run.py::test_known", "keeps the old prefix", r"\\d+ late request"),
    documented.Documented("main", "test_run.py::test_other", "keeps the old prefix", r"\\d+ late request"),
    documented.Documented("main", "test_run.py::test_fixed", "keeps the old prefix", r"\\d+ late request"),
)

@pytest.fixture
def tn(request):
    t = types.SimpleNamespace(info=types.SimpleNamespace(upstream_revision=REVISION))
    plugin._used(request, t)
    return t

def test_known(tn):
    assert False, "audit fail: 3 late request(s)"

def test_other(tn):
    assert False, "1 missing stop"

def test_fixed(tn):
    pass

def test_unlisted(tn):
    pass
"""


def test_the_report_hook_applies_the_table_on_a_documented_revision(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_run=PLUGIN_RUN.replace("REVISION", '"main"'))
    result = pytester.runpytest_subprocess("-rA", "-p", "no:randomly")
    result.assert_outcomes(xfailed=1, failed=2, passed=1)
    result.stdout.fnmatch_lines(["XFAIL test_run.py::test_known - main: keeps the old prefix"])
    result.stdout.fnmatch_lines(["*main failed test_run.py::test_other, but not as documented*"])
    result.stdout.fnmatch_lines(["*main passed test_run.py::test_fixed, documented to fail there*"])


def test_any_other_build_is_judged_by_the_contract_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_run=PLUGIN_RUN.replace("REVISION", '""'))
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(failed=2, passed=2)
