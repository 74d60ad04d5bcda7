"""What the documented upstream revisions are known to do in scenarios written for the contract: revision ->
scenario -> the exact failure it shows (docs/edge-cases.md, "On the real binaries").

A scenario is written once and asserts the contract. On a testnet whose API node is one of the documented revisions
(`TestnetInfo.upstream_revision`: "main" or "pr228"), the plugin's report hook applies this table to the outcome:

    failed, and the failure's text matches the documented signature    -> xfailed, quoting what the revision does
    failed in any other way                                             -> failed, naming the signature it missed
    passed although the revision is documented to fail                 -> failed: the documentation is out of date

Any other build (your fix, a variant, a mixed network) is judged by the contract alone: the table does not apply.
A signature is a regular expression searched in the failure's text (the assertion message, which names the
verdicts, counts and offenders); each is as narrow as the audit's own words allow, so an unrelated failure of the same
scenario does not match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Documented:
    revision: str  # "main" or "pr228" (TestnetInfo.upstream_revision)
    scenario: str  # the test's id below scenarios/: "test_edge_plans.py::test_two_upgrades_in_adjacent_blocks"
    what: str  # one line: what the revision does there
    signature: str  # a regular expression the failure's text must contain

    def matches(self, failure_text: str) -> bool:
        return re.search(self.signature, failure_text) is not None


@dataclass(frozen=True)
class Judged:
    outcome: str  # "xfailed", "failed" or "unchanged"
    text: str  # the xfail reason, or what to add to the failure


# upstream main: no MLNode URL carries a version, no old version is ever stopped; the audit's "all" row has requests
# only under `unversioned` (ok, late, stale, early and unknown_version all 0)
MAIN_UNVERSIONED = r"first offender:\s+verdict:\s+unversioned[\s\S]*\ball\s+0\s+0\s+0\s+0\s+[1-9]\d*\s+0\b"
MAIN_WHAT = "upstream main puts no version into any MLNode URL and never stops an old version"
# after a restart its first MLNode call has no version either (the scenario expected the version its clock names)
MAIN_RESTART = r"first call after the restart: (GET|POST) /api/v1/\S+ at \d+ ms, expected \[('v\d+\.\d+\.\d+'(, )?)+\]"
MAIN_NO_STOP = r"waited for POST /v0\.3\.8/api/v1/stop on mlnode-1 \(crash point after-stop\)"

_MAIN_AUDITED = (
    "test_edge_plans.py::test_two_upgrades_in_adjacent_blocks",
    "test_edge_plans.py::test_a_proposal_whose_voting_ends_after_its_height_never_switches",
    "test_edge_plans.py::test_a_rejected_proposal_switches_nothing",
    "test_edge_plans.py::test_an_upgrade_to_the_version_already_current_stops_nothing",
    "test_edge_plans.py::test_a_rollback_at_the_pending_upgrades_height_replaces_it",
    "test_edge_plans.py::test_a_rollback_after_a_pending_upgrade_restores_the_old_prefix",
    "test_edge_plans.py::test_upgrade_height_inside_a_chain_poc_phase",
    "test_mlnode_faults.py::test_old_version_resets_connections_around_the_switch",
    "test_mlnode_faults.py::test_new_version_answers_503_after_the_switch",
    "test_mlnode_faults.py::test_new_version_chats_time_out_after_the_switch",
    "test_mlnode_lifecycle.py::test_exclusive_mlnode_the_reference_node_stops_then_brings_up",
    "test_mlnode_lifecycle.py::test_slow_start_users_see_503_until_the_new_version_loaded",
)
_MAIN_RESTARTS = (
    "test_edge_restart.py::test_an_api_node_started_for_the_first_time_after_the_height",
    *(f"test_edge_restart.py::test_api_node_killed_at_a_crash_point[{p}]" for p in ("H-2", "H-1", "H", "H+1")),
)

# PR #228 (pr228@49bd9c18): versioned URLs, but the switch is taken one block early (H-1) and the worker clients keep
# the old prefix until their 30 s refresh tick: the first offender is early, nothing is unversioned or of an unknown
# version (the audit's "all" row: early >= 1, unversioned 0, unknown_version 0)
PR228_EARLY = r"first offender:\s+verdict:\s+early[\s\S]*\ball\s+\d+\s+\d+\s+\d+\s+[1-9]\d*\s+0\s+0\b"
PR228_WHAT = "PR #228 switches at H-1 and keeps the old prefix until its worker clients' 30 s refresh tick"
_PR228_EARLY = (
    "test_edge_plans.py::test_two_upgrades_in_adjacent_blocks",
    "test_mlnode_faults.py::test_old_version_resets_connections_around_the_switch",
    "test_mlnode_faults.py::test_new_version_answers_503_after_the_switch",
    "test_mlnode_faults.py::test_new_version_chats_time_out_after_the_switch",
    "test_mlnode_lifecycle.py::test_exclusive_mlnode_the_reference_node_stops_then_brings_up",
    "test_mlnode_lifecycle.py::test_slow_start_users_see_503_until_the_new_version_loaded",
)
# restarted, it starts on the version its config names (the old one), whatever the chain's plan says
PR228_OLD_AFTER_RESTART = r"first call after the restart: GET /v0\.3\.8/api/v1/state at \d+ ms, expected \['v0\.3\.9'\]"
# it stops the old version again after a restart (the stop is not remembered across it)
PR228_STOPS_AGAIN = r"POST /v0\.3\.8/api/v1/stop per MLNode across the crash: \{'mlnode-1': [2-9]\}"

DOCUMENTED: tuple[Documented, ...] = (
    *(Documented("main", s, MAIN_WHAT, MAIN_UNVERSIONED) for s in _MAIN_AUDITED),
    *(Documented("main", s, f"{MAIN_WHAT}: its first call after a restart has no version", MAIN_RESTART) for s in _MAIN_RESTARTS),
    Documented(
        "main",
        "test_edge_restart.py::test_api_node_killed_at_a_crash_point[after-stop]",
        f"{MAIN_WHAT}: the crash point after its old-version stop never comes",
        MAIN_NO_STOP,
    ),
    *(Documented("pr228", s, PR228_WHAT, PR228_EARLY) for s in _PR228_EARLY),
    Documented(
        "pr228",
        "test_edge_plans.py::test_a_rollback_at_the_pending_upgrades_height_replaces_it",
        "PR #228 answers users 'no nodes available for inference' while it replaces the plan at the same height",
        r"HTTP 500 \\?'\{\"error\":\"no nodes available for inference\"\}",  # quoted in a list's repr: \'{"error"...
    ),
    Documented(
        "pr228",
        "test_edge_plans.py::test_a_rollback_after_a_pending_upgrade_restores_the_old_prefix",
        "PR #228 keeps the last plan only: the rollback to v0.3.8 at H2 replaces v0.3.9 at H1, which never serves",
        r"first offender:\s+verdict:\s+late \(not_switched\)\s+request:\s+\S+ /v0\.3\.8/",
    ),
    *(
        Documented("pr228", s, "PR #228 restarted after H starts on the old version its config names", PR228_OLD_AFTER_RESTART)
        for s in (
            "test_edge_restart.py::test_an_api_node_started_for_the_first_time_after_the_height",
            "test_edge_restart.py::test_api_node_killed_at_a_crash_point[H-1]",
        )
    ),
    *(
        Documented(
            "pr228",
            f"test_edge_restart.py::test_api_node_killed_at_a_crash_point[{p}]",
            "PR #228 stops the old version again after a restart",
            PR228_STOPS_AGAIN,
        )
        for p in ("H-2", "H", "H+1", "after-stop")
    ),
)


def lookup(revision: str, nodeid: str, table: tuple[Documented, ...] | None = None) -> Documented | None:
    """The documented outcome of the test `nodeid` (a pytest node id) on `revision` (in DOCUMENTED), or None."""
    if not revision:
        return None
    scenario = nodeid.rsplit("/", 1)[-1]
    rows = DOCUMENTED if table is None else table
    return next((d for d in rows if d.revision == revision and d.scenario == scenario), None)


def judge(doc: Documented, *, passed: bool, failure_text: str) -> Judged:
    """The outcome of one test on a documented revision, given what the table says it does there."""
    where = "harness/drive/documented.py and docs/edge-cases.md"
    if passed:
        return Judged(
            "failed",
            f"{doc.revision} passed {doc.scenario}, documented to fail there ({doc.what}): the revision no longer "
            f"does that; update {where}",
        )
    if doc.matches(failure_text):
        return Judged("xfailed", f"{doc.revision}: {doc.what}")
    return Judged(
        "failed",
        f"{doc.revision} failed {doc.scenario}, but not as documented ({doc.what}; its failure text should contain "
        f"a match for /{doc.signature}/): a new failure, or update {where}",
    )
