"""abci_query on simnet: gRPC query paths answered with protobuf bytes, errors as the SDK's baseapp maps a failed
gRPC query (NotFound -> sdk 22 key not found, InvalidArgument -> sdk 18 invalid request, others -> sdk 6 unknown
request; the log keeps the gRPC text, e.g. `rpc error: code = NotFound desc = account gonka1... not found`).

The paths served are listed by `QueryRouter.paths()` (README: "What simnet serves"); any other path is refused
with sdk 6 naming them. Handlers live in `queries.py` (auth, bank, gov, upgrade, inference), `queries_staking.py`
and `services.py` (tx and tendermint services).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from harness.model.simnet import queries, queries_staking, services
from harness.model.simnet.errors import AbciError
from harness.model.simnet.routes import Routes

if TYPE_CHECKING:
    from harness.model.simnet.node import Node

APP_NAME = "inference"

@dataclass
class QueryResult:
    code: int = 0
    log: str = ""
    value: bytes | None = None
    height: int = 0
    codespace: str = ""


class QueryRouter:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.state = node.state
        self.routes: Routes = {**queries.routes(self.state), **queries_staking.routes(self.state), **services.routes(node)}

    def paths(self) -> list[str]:
        return sorted(self.routes)

    def query(self, path: str, data: bytes, height: int = 0) -> QueryResult:
        """Never raises: every failure is a non-zero code with a log, as the real app answers."""
        latest = self.state.height
        try:
            route = self.routes.get(path)
            if route is None:
                shown = path if len(path) <= 200 else path[:200] + "..."
                raise AbciError(
                    "sdk", 6, f"unknown query path {shown!r}; simnet serves {len(self.routes)} paths (see its README)"
                )
            if latest == 0:
                raise AbciError("sdk", 26, f"{APP_NAME} is not ready; please wait for first block")
            store = self.state.view(height)
            req_cls, handler = route
            try:
                req = req_cls.FromString(data)
            except DecodeError as e:
                raise AbciError("sdk", 18, f"failed to decode {req_cls.DESCRIPTOR.full_name}: {e}") from None
            resp = handler(req, store)
            return QueryResult(0, "", resp.SerializeToString(deterministic=True), store.height)
        except AbciError as e:
            return QueryResult(e.code, e.log, None, latest if e.code != 26 else height, e.codespace)
        except Exception as e:  # a bug in a handler answers like a recovered panic; the server keeps serving
            return QueryResult(
                1, f"simnet internal error in {path[:200]}: {type(e).__name__}: {str(e)[:200]}", None, latest, "undefined"
            )
