"""Building blocks of the MLNode WireMock stubs: scenario states, priorities, response bodies and the stub, JSON and
webhook helpers. A leaf module: mappings.py (one scenario per version) and exclusive.py (one shared scenario) both
build from it, and mappings.py writes what exclusive.py builds."""

from __future__ import annotations

import uuid

JSON = {"Content-Type": "application/json"}
STUB_ID_NAMESPACE = uuid.UUID("6f1b7c2e-4b8a-5d0e-9a41-2c3d4e5f6a7b")
# The initial WireMock scenario state is always "Started"; it behaves as STOPPED.
STARTED, STOPPED, INFERENCE, POW, POW_VALIDATE, TRAIN = "Started", "STOPPED", "INFERENCE", "POW", "POW_VALIDATE", "TRAIN"
STATE_BODY = {STARTED: "STOPPED", STOPPED: "STOPPED", INFERENCE: "INFERENCE", POW: "POW", POW_VALIDATE: "POW", TRAIN: "TRAIN"}
POW_STATUS = {STARTED: "IDLE", STOPPED: "IDLE", INFERENCE: "IDLE", POW: "GENERATING", POW_VALIDATE: "VALIDATING", TRAIN: "IDLE"}

# Priorities (lower wins): stream chat 1, fixed-version stateful 2, fixed-version fallback 3, any-version 6/7.
P_STREAM, P_STATE, P_FALLBACK, P_ANY_STREAM, P_ANY = 1, 2, 3, 6, 7

_req = "{{jsonPath originalRequest.body '$.%s'}}"
# node_id is absent from some revisions' requests (PR #228's pow/validate body): default it, or the JSON breaks
_node_id = "{{jsonPath originalRequest.body '$.node_id' default='0'}}"
PROOF_BATCH_BODY = (
    '{"public_key":"' + _req % "public_key" + '","block_hash":"' + _req % "block_hash" + '",'
    '"block_height":' + _req % "block_height" + ',"node_id":' + _node_id + ","
    '"nonces":[1,2,3,4,5,6,7,8,9,10],"dist":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0]}'
)
VALIDATED_BATCH_BODY = (
    '{"public_key":"' + _req % "public_key" + '","block_hash":"' + _req % "block_hash" + '",'
    '"block_height":' + _req % "block_height" + ',"node_id":' + _node_id + ","
    '"nonces":' + _req % "nonces" + ',"dist":' + _req % "dist" + ',"received_dist":' + _req % "dist" + ","
    '"r_target":0.5,"fraud_threshold":0.1,"n_invalid":0,"probability_honest":0.99,"fraud_detected":false}'
)


def _webhook(url: str, body: str) -> list[dict]:
    return [{"name": "webhook", "parameters": {"method": "POST", "url": url, "headers": JSON, "body": body}}]


def _stub(
    method: str, path: dict, response: dict, *, priority: int, name: str, body_patterns: list | None = None, **extra: object
) -> dict:
    request: dict = {"method": method, **path}
    if body_patterns:
        request["bodyPatterns"] = body_patterns
    # A stable id per stub name: journals from different runs name the same mapping the same way.
    stub: dict = {
        "id": str(uuid.uuid5(STUB_ID_NAMESPACE, name)),
        "name": name,
        "priority": priority,
        "request": request,
        "response": response,
    }
    stub.update(extra)
    return stub


def _json(body: dict, status: int = 200) -> dict:
    return {"status": status, "headers": dict(JSON), "jsonBody": body}


def _empty(status: int = 200) -> dict:
    return {"status": status}


def _chat(label: str | None, stream: bool) -> dict:
    params = {"mlnode_version": label} if label else {}
    if stream:
        return {
            "status": 200,
            "headers": {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
            "bodyFileName": "chat-completion-stream.txt",
            "transformerParameters": params,
        }
    return {"status": 200, "headers": dict(JSON), "bodyFileName": "chat-completion.json", "transformerParameters": params}


def _tokenize() -> dict:
    return {"status": 200, "headers": dict(JSON), "bodyFileName": "tokenize.json"}


SLOW_MARKER = "__slow__"
SLOW_CHAT_MS = 2000
STREAM_MATCH = [{"matchesJsonPath": "$[?(@.stream == true)]"}]


def _validate_stubs(path: dict, key: str, priority: int, callback_url: str | None) -> list[dict]:
    if callback_url:
        return [
            _stub(
                "POST",
                path,
                _empty(),
                priority=priority,
                name=f"{key} pow/validate",
                postServeActions=_webhook(callback_url.rstrip("/") + "/validated", VALIDATED_BATCH_BODY),
            )
        ]
    return [
        _stub(
            "POST",
            path,
            _empty(),
            priority=priority,
            name=f"{key} pow/validate with url",
            body_patterns=[{"matchesJsonPath": "$.url"}],
            postServeActions=_webhook("{{jsonPath originalRequest.body '$.url'}}/validated", VALIDATED_BATCH_BODY),
        ),
        _stub("POST", path, _empty(), priority=priority + 1, name=f"{key} pow/validate"),
    ]
