"""Exclusive MLNode mappings: one version at a time on an MLNode, as on one GPU (MLNodeLifecycle(exclusive=True)).

The default mappings give every version its own WireMock scenario, so a version never sees what another does. Here
every configured version of one MLNode shares ONE scenario (`mlnode-exclusive`; one WireMock serves one MLNode in the
single topology, so the scenario is that MLNode's). Its state says which version holds the MLNode and in which state:

    Started                      every version STOPPED (WireMock's initial state; `POST /__admin/scenarios/reset`)
    "<version> INFERENCE"        that version serves inference; every other version is STOPPED
    "<version> POW" / "<version> POW_VALIDATE" / "<version> TRAIN"

Per version V (WireMock 2.35 and 3.x: required states, new states and priorities only; lower priority wins):

    GET  /V/api/v1/state, pow/status  "V X" -> X; any other state -> STOPPED / IDLE (the version is not running)
    POST /V/api/v1/stop               "V X" -> Started; any other state -> 200, unchanged (V was stopped already)
    POST /V/api/v1/inference/up       Started -> "V INFERENCE"; "V INFERENCE" -> 200, unchanged;
                                      "W X" (another version W running) -> 409 naming W ("POST /W/api/v1/stop first");
                                      "V POW" / "V TRAIN" -> 409 (stop first, as before)
    POST /V/api/v1/pow/init/generate, pow/init/validate, train/start
                                      "W X" -> 409 naming W; otherwise -> "V POW" / "V POW_VALIDATE" / "V TRAIN"
    GET  /V/health, POST /V/v1/chat/completions
                                      "V INFERENCE" -> 200; otherwise 503 (vLLM is not running in this version)
    POST /V/tokenize, /V/api/v1/pow/validate: stateless

So `inference/up` on v0.3.9 is refused (409, as the real MLNode's check_service_conflicts refuses a second service)
while v0.3.8 is in INFERENCE on the same MLNode, and accepted once `POST /v0.3.8/api/v1/stop` was served. Unversioned
paths and the any-version catch-alls keep their own (independent) behaviour. Side-by-side (one WireMock per version
behind nginx) cannot share a scenario across WireMocks: refused there (harness.backends.mocks).
"""

from __future__ import annotations

from harness.mlnode.stubs import (
    INFERENCE,
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

SCENARIO = "mlnode-exclusive"
RUNNING = (INFERENCE, POW, POW_VALIDATE, TRAIN)  # the states in which a version holds the MLNode
# (command, the state it puts its version in); inference/up has its own rules (idempotent while INFERENCE)
STARTS = (("pow/init/generate", POW), ("pow/init/validate", POW_VALIDATE), ("train/start", TRAIN))


def holds(version: str, state: str) -> str:
    """The scenario state in which `version` holds the MLNode in `state`."""
    return f"{version} {state}"


def conflict_detail(holder: str, state: str) -> str:
    return f"{holder} is in {STATE_BODY[state]} on this MLNode (one version at a time): POST /{holder}/api/v1/stop first"


def exclusive_stubs(versions: list[str], *, validation_callback_url: str | None = None) -> dict[str, list[dict]]:
    """{version: its stubs}, every version in the one shared scenario."""
    return {v: _version(v, [w for w in versions if w != v], validation_callback_url) for v in versions}


def _version(v: str, others: list[str], callback_url: str | None) -> list[dict]:
    def path(p: str) -> dict:
        return {"urlPath": f"/{v}/{p}"}

    def held(method: str, p: str, state: str, response: dict, name: str, **extra: object) -> dict:
        return _stub(method, path(p), response, priority=P_STATE, name=f"exclusive {v} {name}", scenarioName=SCENARIO,
                     requiredScenarioState=state, **extra)  # fmt: skip

    def fallback(method: str, p: str, response: dict, name: str, **extra: object) -> dict:
        return _stub(method, path(p), response, priority=P_FALLBACK, name=f"exclusive {v} {name}", **extra)

    stubs: list[dict] = []
    for x in RUNNING:
        stubs += [
            held("GET", "api/v1/state", holds(v, x), _json({"state": STATE_BODY[x]}), f"state {x}"),
            held("GET", "api/v1/pow/status", holds(v, x),
                 _json({"status": POW_STATUS[x], "is_model_initialized": x in (POW, POW_VALIDATE)}), f"pow/status {x}"),
            held("POST", "api/v1/stop", holds(v, x), _empty(), f"stop from {x}", newScenarioState=STARTED),
        ]  # fmt: skip
    stubs += [
        fallback("GET", "api/v1/state", _json({"state": "STOPPED"}), "state STOPPED"),
        fallback("GET", "api/v1/pow/status", _json({"status": "IDLE", "is_model_initialized": False}), "pow/status IDLE"),
        fallback("POST", "api/v1/stop", _empty(), "stop while stopped"),
    ]
    # another version holds the MLNode: every command that would start a workload is refused, naming it
    for cmd in ("inference/up", *(c for c, _ in STARTS)):
        for w in others:
            for x in RUNNING:
                stubs.append(held("POST", f"api/v1/{cmd}", holds(w, x), _json({"detail": conflict_detail(w, x)}, 409),
                                  f"{cmd} refused: {w} {x}"))  # fmt: skip
    stubs += [
        held("POST", "api/v1/inference/up", STARTED, _empty(), "inference/up", newScenarioState=holds(v, INFERENCE)),
        held("POST", "api/v1/inference/up", holds(v, INFERENCE), _empty(), "inference/up while INFERENCE"),
        fallback("POST", "api/v1/inference/up", _json({"detail": f"{v} is busy: POST /{v}/api/v1/stop first"}, 409),
                 "inference/up while busy"),
    ]  # fmt: skip
    for cmd, state in STARTS:
        extra: dict = {}
        if cmd == "pow/init/generate":
            extra["postServeActions"] = _webhook("{{jsonPath originalRequest.body '$.url'}}/generated", PROOF_BATCH_BODY)
        # no required state: it applies wherever the refusals above (higher priority) do not
        stubs.append(fallback("POST", f"api/v1/{cmd}", _empty(), cmd, scenarioName=SCENARIO, newScenarioState=holds(v, state),
                              **extra))  # fmt: skip
    stubs += _validate_stubs(path("api/v1/pow/validate"), f"exclusive {v}", P_STATE, callback_url)
    stubs += _inference_port(v, path, held, fallback)
    return stubs


def _inference_port(v: str, path, held, fallback) -> list[dict]:
    """Health and chat answer only while the version is in INFERENCE; tokenize is stateless."""
    running = holds(v, INFERENCE)
    not_running = _json({"detail": f"vLLM is not running in {v} on this MLNode"}, 503)

    def chat(name: str, response: dict, priority: int, body: list | None = None) -> dict:
        return _stub("POST", path("v1/chat/completions"), response, priority=priority, name=f"exclusive {v} {name}",
                     body_patterns=body, scenarioName=SCENARIO, requiredScenarioState=running)  # fmt: skip

    return [
        held("GET", "health", running, _empty(), "health INFERENCE"),
        fallback("GET", "health", not_running, "health not running"),
        chat("chat stream", _chat(v, True), P_STREAM, STREAM_MATCH),
        chat("chat", _chat(v, False), P_STATE),
        chat("chat slow", {**_chat(v, False), "fixedDelayMilliseconds": SLOW_CHAT_MS}, P_STREAM, [{"contains": SLOW_MARKER}]),
        fallback("POST", "v1/chat/completions", not_running, "chat not running"),
        _stub("POST", path("tokenize"), _tokenize(), priority=P_STATE, name=f"exclusive {v} tokenize"),
    ]
