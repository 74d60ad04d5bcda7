"""WireMock mappings for MLNode mocks, generated so every version has its own scenario (state machine).

WireMock scenarios need fixed names, so one mapping file is written per configured version
(`mappings/mlnode-v0.3.9.json`, scenario `mlnode-v0.3.9`) plus one for unversioned paths
(`mlnode-unversioned.json`, scenario `mlnode-unversioned`) and one set of regex catch-alls
(`mlnode-any-version.json`) that answers any other `/vX.Y.Z/` prefix statelessly (state INFERENCE).
Requests nothing matches get WireMock's own 404 and stay in the journal as unmatched.

State machine per version (initial state STOPPED, like upstream's mock and a freshly started MLNode, so the
API node's real reconcile path runs: GET state -> STOPPED -> POST stop -> POST inference/up -> INFERENCE):

    any --stop--> STOPPED --inference/up--> INFERENCE       (inference/up from POW/TRAIN: 409, state kept)
    any --pow/init/generate--> POW (+ webhook ProofBatch to body.url + "/generated")
    any --pow/init/validate--> POW_VALIDATE (state "POW", pow/status "VALIDATING")
    any --train/start--> TRAIN
    GET health: 200 in INFERENCE, 503 otherwise.  chat/tokenize/pow/validate: stateless.

`pow/validate` calls back to body.url + "/validated" when the body has a `url` (upstream's API sends a
ProofBatch without one; upstream's mock hard-codes `http://<key>-api:9100/v1/poc-batches/validated`):
pass `validation_callback_url` to get that fixed callback instead.

Only features both WireMock 2.35 and 3.x have are used: urlPath/urlPathPattern, matchesJsonPath,
scenarios, transformerParameters, global response templating helpers (jsonPath, pathSegments, if),
and `postServeActions` in the array form `[{"name": "webhook", "parameters": {...}}]`
(3.x: built-in webhook extension; 2.35: mocks/mlnode/extensions, loaded by harness.mlnode.wiremock).

    python -m harness.mlnode.mappings mocks/mlnode v0.3.8 v0.3.9 v0.3.10     # regenerate the committed set
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.mlnode.exclusive import exclusive_stubs
from harness.mlnode.stubs import (
    INFERENCE,
    P_ANY,
    P_ANY_STREAM,
    P_FALLBACK,
    P_STATE,
    P_STREAM,
    POW,
    POW_STATUS,
    POW_VALIDATE,
    PROOF_BATCH_BODY,
    SLOW_CHAT_MS,
    SLOW_MARKER,
    STARTED,
    STATE_BODY,
    STOPPED,
    STREAM_MATCH,
    TRAIN,
    _chat,
    _empty,
    _json,
    _stub,
    _tokenize,
    _validate_stubs,
    _webhook,
)
from harness.versions import DEFAULT_PATH, check_version

REPO_MOCKS = Path(__file__).resolve().parents[2] / "mocks" / "mlnode"
ANY_VERSION = r"v[0-9]+\.[0-9]+\.[0-9]+"


@dataclass(frozen=True)
class StubRow:
    """One row of the per-version MLNode stub table: what a stub matches, answers, and does to the version's scenario.

    `answer`: a JSON body (dict) or the name of a canned response ("empty", "chat", "chat-stream", "tokenize").
    `requires`/`moves_to`: the scenario state the stub needs / moves to (either puts the stub in the version's
    scenario). `webhook`: the suffix a ProofBatch is posted to, after the request body's `url`.
    """

    method: str
    endpoint: str
    name: str
    answer: dict | str = "empty"
    status: int = 200
    priority: int = P_STATE
    requires: str | None = None
    moves_to: str | None = None
    match: tuple[dict, ...] = ()
    delay_ms: int | None = None
    webhook: str | None = None


def _state_rows(state: str) -> tuple[StubRow, ...]:
    """The rows answering GET state and GET pow/status while the version's scenario is in `state`."""
    pow_status = {"status": POW_STATUS[state], "is_model_initialized": state in (POW, POW_VALIDATE)}
    return (
        StubRow("GET", "api/v1/state", f"state {state}", {"state": STATE_BODY[state]}, requires=state),
        StubRow("GET", "api/v1/pow/status", f"pow/status {state}", pow_status, requires=state),
    )


# The state machine of one version (module docstring), in mapping-file order; pow/validate (_validate_stubs) follows.
CONTROL_ROWS: tuple[StubRow, ...] = (
    *(row for state in STATE_BODY for row in _state_rows(state)),
    StubRow("POST", "api/v1/stop", "stop", moves_to=STOPPED),
    StubRow("POST", "api/v1/inference/up", "inference/up from Started", requires=STARTED, moves_to=INFERENCE),
    StubRow("POST", "api/v1/inference/up", "inference/up from STOPPED", requires=STOPPED, moves_to=INFERENCE),
    StubRow("POST", "api/v1/inference/up", "inference/up while INFERENCE", requires=INFERENCE),
    StubRow(
        "POST",
        "api/v1/inference/up",
        "inference/up while busy",
        {"detail": "MLNode busy: send POST /api/v1/stop first"},
        status=409,
        priority=P_FALLBACK,
    ),
    StubRow("POST", "api/v1/pow/init/generate", "pow/init/generate", moves_to=POW, webhook="/generated"),
    StubRow("POST", "api/v1/pow/init/validate", "pow/init/validate", moves_to=POW_VALIDATE),
    StubRow("POST", "api/v1/train/start", "train/start", moves_to=TRAIN),
    StubRow("GET", "health", "health INFERENCE", requires=INFERENCE),
    StubRow("GET", "health", "health not running", {"detail": "vLLM is not running"}, status=503, priority=P_FALLBACK),
)

# Stateless serving endpoints of one version, after pow/validate. A prompt containing SLOW_MARKER is answered after
# SLOW_CHAT_MS (in-flight-across-switch tests).
SERVING_ROWS: tuple[StubRow, ...] = (
    StubRow("POST", "v1/chat/completions", "chat stream", "chat-stream", priority=P_STREAM, match=tuple(STREAM_MATCH)),
    StubRow("POST", "v1/chat/completions", "chat", "chat"),
    StubRow(
        "POST",
        "v1/chat/completions",
        "chat slow",
        "chat",
        priority=P_STREAM,
        match=({"contains": SLOW_MARKER},),
        delay_ms=SLOW_CHAT_MS,
    ),
    StubRow("POST", "tokenize", "tokenize", "tokenize"),
)


def _row_response(row: StubRow, label: str) -> dict:
    """The WireMock response of a table row (`label` names the version in chat answers)."""
    if isinstance(row.answer, dict):
        response = _json(copy.deepcopy(row.answer), row.status)
    elif row.answer in ("chat", "chat-stream"):
        response = _chat(label, row.answer == "chat-stream")
    elif row.answer == "tokenize":
        response = _tokenize()
    else:
        response = _empty(row.status)
    if row.delay_ms is not None:
        response["fixedDelayMilliseconds"] = row.delay_ms
    return response


def _row_stub(row: StubRow, prefix: str, key: str, label: str) -> dict:
    """The WireMock stub of a table row for the version at path `prefix`, named and scenario-keyed by `key`."""
    extra: dict[str, object] = {}
    if row.requires is not None or row.moves_to is not None:
        extra["scenarioName"] = f"mlnode-{key}"
    if row.requires is not None:
        extra["requiredScenarioState"] = row.requires
    if row.moves_to is not None:
        extra["newScenarioState"] = row.moves_to
    if row.webhook is not None:
        extra["postServeActions"] = _webhook("{{jsonPath originalRequest.body '$.url'}}" + row.webhook, PROOF_BATCH_BODY)
    return _stub(
        row.method,
        {"urlPath": f"{prefix}/{row.endpoint}"},
        _row_response(row, label),
        priority=row.priority,
        name=f"{key} {row.name}",
        body_patterns=copy.deepcopy(list(row.match)) or None,
        **extra,
    )


def version_stubs(version: str | None, *, label: str | None = None, validation_callback_url: str | None = None) -> list[dict]:
    """Stateful stubs for one version (`None` = the unversioned paths). `label` names the version in chat answers."""
    prefix = f"/{version}" if version else ""
    key = version or "unversioned"
    label = label or version or "(unversioned)"
    validate = {"urlPath": f"{prefix}/api/v1/pow/validate"}
    return [
        *(_row_stub(row, prefix, key, label) for row in CONTROL_ROWS),
        *_validate_stubs(validate, key, P_STATE, validation_callback_url),
        *(_row_stub(row, prefix, key, label) for row in SERVING_ROWS),
    ]


def any_version_stubs(validation_callback_url: str | None = None) -> list[dict]:
    """Stateless answers for any `/vX.Y.Z/` prefix not in the configured list (state INFERENCE)."""

    def path(p: str) -> dict:
        return {"urlPathPattern": f"/{ANY_VERSION}/{p}"}

    return [
        _stub("GET", path(r"api/v1/state"), _json({"state": "INFERENCE"}), priority=P_ANY, name="any-version state"),
        _stub(
            "GET",
            path(r"api/v1/pow/status"),
            _json({"status": "IDLE", "is_model_initialized": False}),
            priority=P_ANY,
            name="any-version pow/status",
        ),
        _stub(
            "POST",
            path(r"api/v1/(stop|inference/up|pow/init/validate|train/start)"),
            _empty(),
            priority=P_ANY,
            name="any-version commands",
        ),
        _stub(
            "POST",
            path(r"api/v1/pow/init/generate"),
            _empty(),
            priority=P_ANY,
            name="any-version pow/init/generate",
            postServeActions=_webhook("{{jsonPath originalRequest.body '$.url'}}/generated", PROOF_BATCH_BODY),
        ),
        *_validate_stubs(path(r"api/v1/pow/validate"), "any-version", P_ANY, validation_callback_url),
        _stub("GET", path("health"), _empty(), priority=P_ANY, name="any-version health"),
        _stub(
            "POST",
            path(r"v1/chat/completions"),
            _chat(None, True),
            priority=P_ANY_STREAM,
            name="any-version chat stream",
            body_patterns=STREAM_MATCH,
        ),
        _stub("POST", path(r"v1/chat/completions"), _chat(None, False), priority=P_ANY, name="any-version chat"),
        _stub("POST", path("tokenize"), _tokenize(), priority=P_ANY, name="any-version tokenize"),
    ]


def write_mappings(
    root_dir: Path | str,
    versions: Iterable[str] = DEFAULT_PATH,
    *,
    unversioned_as: str | None = None,
    validation_callback_url: str | None = None,
    any_version: bool = True,
    exclusive: bool = False,
) -> Path:
    """Write `mappings/*.json` and `__files/*` under root_dir (a WireMock --root-dir); return root_dir.

    `unversioned_as`: the version label unversioned paths answer with (side-by-side: each WireMock behind nginx
    sees unprefixed paths, so it is told which version it is). `any_version=False` leaves out the catch-alls for
    other `/vX.Y.Z/` prefixes: a version not in `versions` then finds no mapping (an MLNode where that version is
    not deployed; WireMock answers 404 and journals the request as unmatched). Stale `mlnode-*.json` files are
    removed. `exclusive=True`: the configured versions share one state machine, one version at a time
    (harness/mlnode/exclusive.py).
    """
    root = Path(root_dir)
    checked = [check_version(v, field="mlnode mock versions") for v in versions]
    if unversioned_as is not None:
        unversioned_as = check_version(unversioned_as, field="unversioned_as")
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "__files").mkdir(parents=True, exist_ok=True)
    for old in (root / "mappings").glob("mlnode-*.json"):
        old.unlink()
    if exclusive:
        by_version = exclusive_stubs(checked, validation_callback_url=validation_callback_url)
    else:
        by_version = {v: version_stubs(v, validation_callback_url=validation_callback_url) for v in checked}
    files: dict[str, list[dict]] = {f"mlnode-{v}.json": stubs for v, stubs in by_version.items()}
    files["mlnode-unversioned.json"] = version_stubs(None, label=unversioned_as, validation_callback_url=validation_callback_url)
    if any_version:
        files["mlnode-any-version.json"] = any_version_stubs(validation_callback_url)
    for name, stubs in files.items():
        (root / "mappings" / name).write_text(json.dumps({"mappings": stubs}, indent=1) + "\n")
    for name in BODY_FILES:
        if (root / "__files" / name).resolve() != (REPO_MOCKS / "__files" / name).resolve():
            shutil.copyfile(REPO_MOCKS / "__files" / name, root / "__files" / name)
    return root


# Response bodies are hand-written templates in mocks/mlnode/__files (chat content: "Response from MLNode <version>",
# the version from transformerParameters.mlnode_version, else the first path segment); copied into every root_dir.
BODY_FILES = ("chat-completion.json", "chat-completion-stream.txt", "tokenize.json")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m harness.mlnode.mappings ROOT_DIR [VERSION ...]", file=sys.stderr)
        return 2
    root = write_mappings(args[0], args[1:] or DEFAULT_PATH)
    print(f"wrote MLNode mappings to {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
