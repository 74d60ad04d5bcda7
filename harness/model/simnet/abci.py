"""abci_query on simnet: gRPC-style query paths answered with protobuf bytes, errors mapped as the SDK's
baseapp does (gRPC status -> sdk error: NotFound -> 38 key not found, InvalidArgument -> 18 invalid request,
others -> 6 unknown request; the log keeps the gRPC text, e.g.
`rpc error: code = NotFound desc = account gonka1... not found: key not found`).

Choice documented: an unknown account gives code 38 (the auth keeper returns gRPC NotFound, which baseapp maps
to ErrKeyNotFound), not 9 (ErrUnknownAddress, which is the ante handler's error for a tx signer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.crypto.secp256k1 import keys_pb2
from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError, Message

from harness import proto as P
from harness.chain.keys import validate_address
from harness.errors import ConfigError
from harness.model.simnet.state import AbciError, Account, ChainState, Store

APP_NAME = "inference"


@dataclass
class QueryResult:
    code: int = 0
    log: str = ""
    value: bytes | None = None
    height: int = 0
    codespace: str = ""


def _not_found(desc: str) -> AbciError:
    return AbciError("sdk", 38, f"rpc error: code = NotFound desc = {desc}")


def _invalid(desc: str) -> AbciError:
    return AbciError("sdk", 18, f"rpc error: code = InvalidArgument desc = {desc}")


def _account_any(acc: Account) -> Any:
    base = P.auth_pb2.BaseAccount(address=acc.address, account_number=acc.number, sequence=acc.sequence)
    if acc.pub_key:
        base.pub_key.CopyFrom(Any(type_url=P.TYPE_SECP256K1_PUBKEY, value=keys_pb2.PubKey(key=acc.pub_key).SerializeToString()))
    if acc.module_name:
        mod = P.auth_pb2.ModuleAccount(base_account=base, name=acc.module_name, permissions=["burner"])
        return Any(type_url=P.TYPE_MODULE_ACCOUNT, value=mod.SerializeToString())
    return Any(type_url=P.TYPE_BASE_ACCOUNT, value=base.SerializeToString())


def _duration(ns: int) -> dict[str, int]:
    return {"seconds": ns // 10**9, "nanos": ns % 10**9}


class QueryRouter:
    def __init__(self, state: ChainState) -> None:
        self.state = state
        self.handlers: dict[str, Callable[[Message, Store], Message]] = {
            P.Q_PARTIAL_UPGRADE_ALL: self._partial_upgrade_all,
            P.Q_PARTIAL_UPGRADE: self._partial_upgrade,
            P.Q_MLNODE_VERSION: self._mlnode_version,
            P.Q_INFERENCE_PARAMS: self._inference_params,
            P.Q_ACCOUNT: self._account,
            P.Q_MODULE_ACCOUNT_BY_NAME: self._module_account,
            P.Q_GOV_PROPOSAL: self._proposal,
            P.Q_GOV_PARAMS: self._gov_params,
            P.Q_UPGRADE_CURRENT_PLAN: self._current_plan,
        }

    def query(self, path: str, data: bytes, height: int = 0) -> QueryResult:
        """Never raises: every failure is a non-zero code with a log, as the real app answers."""
        latest = self.state.height
        try:
            handler = self.handlers.get(path)
            if handler is None:
                raise AbciError("sdk", 6, f"unknown query path {path!r}; simnet serves {', '.join(sorted(self.handlers))}")
            if latest == 0:
                raise AbciError("sdk", 26, f"{APP_NAME} is not ready; please wait for first block")
            store = self.state.view(height)
            req_cls, _ = P.QUERIES[path]
            try:
                req = req_cls.FromString(data)
            except DecodeError as e:
                raise AbciError("sdk", 18, f"failed to decode {req_cls.DESCRIPTOR.full_name}: {e}") from None
            resp = handler(req, store)
            return QueryResult(0, "", resp.SerializeToString(deterministic=True), store.height)
        except AbciError as e:
            return QueryResult(e.code, e.log, None, latest if e.code != 26 else height, e.codespace)
        except Exception as e:  # a bug in a handler must not take the server down
            return QueryResult(1, f"simnet internal error in {path}: {type(e).__name__}: {e}", None, latest, "undefined")

    # -- inference -----------------------------------------------------------------------
    def _partial_upgrade_all(self, req: Message, store: Store) -> Message:
        ups = [store.upgrades[h] for h in sorted(store.upgrades)]
        page = req.pagination  # type: ignore[attr-defined]
        offset, limit = int(page.offset), int(page.limit) or 100
        resp = P.inference_pb2.QueryAllPartialUpgradeResponse(partialUpgrade=ups[offset : offset + limit])
        if page.count_total:
            resp.pagination.total = len(ups)
        else:
            resp.pagination.SetInParent()
        return resp

    def _partial_upgrade(self, req: Message, store: Store) -> Message:
        up = store.upgrades.get(req.height)  # type: ignore[attr-defined]
        if up is None:
            raise _not_found("not found")
        return P.inference_pb2.QueryGetPartialUpgradeResponse(partialUpgrade=up)

    def _mlnode_version(self, req: Message, store: Store) -> Message:
        resp = P.inference_pb2.QueryGetMLNodeVersionResponse()
        resp.mlnode_version.current_version = store.mlnode_version
        return resp

    def _inference_params(self, req: Message, store: Store) -> Message:
        resp = P.inference_pb2.QueryParamsResponse()
        resp.params.epoch_params.epoch_length = self.state.genesis.epoch_length
        return resp

    # -- auth ----------------------------------------------------------------------------
    def _account(self, req: Message, store: Store) -> Message:
        addr = req.address  # type: ignore[attr-defined]
        if not addr:
            raise _invalid("Address cannot be empty")
        try:
            validate_address(addr)
        except ConfigError as e:
            raise _invalid(f"invalid address: {e}") from None
        acc = store.accounts.get(addr)
        if acc is None:
            raise _not_found(f"account {addr} not found")
        return P.auth_query_pb2.QueryAccountResponse(account=_account_any(acc))

    def _module_account(self, req: Message, store: Store) -> Message:
        name = req.name  # type: ignore[attr-defined]
        if not name:
            raise _invalid("module name is empty")
        for acc in store.accounts.values():
            if acc.module_name == name:
                return P.auth_query_pb2.QueryModuleAccountByNameResponse(account=_account_any(acc))
        raise _not_found(f"account {name} not found")

    # -- gov -----------------------------------------------------------------------------
    def _proposal(self, req: Message, store: Store) -> Message:
        pid = req.proposal_id  # type: ignore[attr-defined]
        if pid == 0:
            raise _invalid("proposal id can not be 0")
        p = store.proposals.get(pid)
        if p is None:
            raise _not_found(f"proposal {pid} doesn't exist")
        return P.gov_query_pb2.QueryProposalResponse(proposal=p.to_proto())

    def _gov_params(self, req: Message, store: Store) -> Message:
        g = self.state.genesis
        voting_ns = self.state.voting_period_ns()
        params = P.gov_pb2.Params(
            quorum="0.334000000000000000",
            threshold="0.500000000000000000",
            veto_threshold="0.334000000000000000",
            min_initial_deposit_ratio="0.000000000000000000",
            proposal_cancel_ratio="0.500000000000000000",
            expedited_threshold="0.667000000000000000",
            burn_vote_veto=True,
            min_deposit_ratio="0.010000000000000000",
        )
        params.min_deposit.add(denom="ngonka", amount=str(g.min_deposit))
        params.expedited_min_deposit.add(denom="ngonka", amount=str(g.min_deposit * 5))
        params.max_deposit_period.FromNanoseconds(48 * 3600 * 10**9)
        params.voting_period.FromNanoseconds(voting_ns)
        params.expedited_voting_period.FromNanoseconds(max(voting_ns // 2, 1))
        resp = P.gov_query_pb2.QueryParamsResponse(params=params)
        kind = req.params_type  # type: ignore[attr-defined]
        if kind in ("", "voting"):
            resp.voting_params.voting_period.FromNanoseconds(voting_ns)
        if kind in ("", "deposit"):
            resp.deposit_params.min_deposit.add(denom="ngonka", amount=str(g.min_deposit))
            resp.deposit_params.max_deposit_period.FromNanoseconds(48 * 3600 * 10**9)
        if kind in ("", "tallying"):
            resp.tally_params.quorum, resp.tally_params.threshold = params.quorum, params.threshold
            resp.tally_params.veto_threshold = params.veto_threshold
        if kind not in ("", "voting", "deposit", "tallying"):
            raise _invalid(f"{kind} is not a valid parameter type")
        return resp

    def _current_plan(self, req: Message, store: Store) -> Message:
        return P.upgrade_query_pb2.QueryCurrentPlanResponse()
