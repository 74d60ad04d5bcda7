"""What every aiohttp server of the harness shares (the API node's public, admin and callback apps, the chaos
proxy's control API): a request body limit, JSON bodies parsed with a nesting limit, and errors answered as JSON.

    app = json_app()                              # client_max_size = 1 MiB, the json_errors middleware
    doc = await read_json(request, "node")        # ConfigError -> 400 {"error": "node: ..."}

Errors: a ConfigError from a handler is a 400; aiohttp's own refusals (404 unknown path, 405 method, 413 body too
large) keep their status with a JSON body; any other exception is a 500 `{"error": "internal error ..."}` (the
traceback goes to the server's log, never to the client). Every message is cut to a bounded length.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from harness.errors import ConfigError
from harness.validate import json_value, shown

log = logging.getLogger("harness.webapp")

MAX_BODY_BYTES = 1 << 20
MAX_MESSAGE_CHARS = 2000


def error_response(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message[:MAX_MESSAGE_CHARS], **extra}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        generic = not e.text or e.text == f"{e.status}: {e.reason}"  # aiohttp's own, not a handler's message
        reason = e.reason if generic else e.text
        if isinstance(e, web.HTTPRequestEntityTooLarge):
            reason = f"request body larger than {request.app._client_max_size} bytes; send a smaller body"
        elif e.status == 404 and generic:
            reason = f"no such path {shown(request.path, 120)}"
        elif e.status == 405 and generic:
            reason = f"method {shown(request.method, 20)} not allowed on {shown(request.path, 120)}"
        headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
        resp = error_response(e.status, reason)
        if headers:
            resp.headers.update(headers)
        return resp
    except ConfigError as e:
        return error_response(400, str(e))
    except Exception as e:
        log.exception("%s %s failed", request.method, shown(request.path, 120))
        return error_response(500, f"internal error ({type(e).__name__}); see the server's log")


def json_app(*, max_body_bytes: int = MAX_BODY_BYTES) -> web.Application:
    return web.Application(client_max_size=max_body_bytes, middlewares=[json_errors])


async def read_json(request: web.Request, field: str = "body") -> Any:
    """The request body as JSON: at most the app's body limit, nesting and numbers checked (ConfigError -> 400)."""
    return json_value(await request.read(), field)
