"""Module queries on simnet: auth, bank, gov v1, upgrade and the inference module's partial-upgrade queries
(as upstream names them: `PartialUpgrade`, `PartialUpgradeAll`; `MLNodeVersion` as PR #228 adds it; `Params`).
Texts of the gRPC errors are the SDK keepers'.
"""

from __future__ import annotations

import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.auth.v1beta1 import auth_pb2
from cosmos.auth.v1beta1 import query_pb2 as auth_q
from cosmos.bank.v1beta1 import bank_pb2
from cosmos.bank.v1beta1 import query_pb2 as bank_q
from cosmos.base.v1beta1 import coin_pb2
from cosmos.crypto.secp256k1 import keys_pb2
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from harness import proto as P
from harness.chain.keys import BECH32_PREFIX, validate_address
from harness.errors import ConfigError
from harness.model.simnet.ante import MAX_MEMO_CHARS, TX_SIZE_COST_PER_BYTE
from harness.model.simnet.bank import DENOM_RE
from harness.model.simnet.errors import invalid_argument, not_found
from harness.model.simnet.gov import ST_VOTING, Proposal
from harness.model.simnet.numbers import dec_str
from harness.model.simnet.routes import Routes, paginate
from harness.model.simnet.sigverify import SIG_VERIFY_COST_SECP256K1, TX_SIG_LIMIT
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Account, Store

Q = "/cosmos.{}.Query/{}"


def _address(addr: str, what: str = "address") -> str:
    if not addr:
        raise invalid_argument(f"{what} cannot be empty")
    try:
        validate_address(addr)
    except ConfigError as e:
        raise invalid_argument(f"invalid {what}: {e}") from None
    return addr


def _base_account(acc: Account) -> auth_pb2.BaseAccount:
    base = auth_pb2.BaseAccount(address=acc.address, account_number=acc.number, sequence=acc.sequence)
    if acc.pub_key:
        base.pub_key.CopyFrom(Any(type_url=P.TYPE_SECP256K1_PUBKEY, value=keys_pb2.PubKey(key=acc.pub_key).SerializeToString()))
    return base


def account_any(acc: Account) -> Any:
    base = _base_account(acc)
    if acc.module_name:
        mod = auth_pb2.ModuleAccount(base_account=base, name=acc.module_name, permissions=list(acc.permissions))
        return Any(type_url=P.TYPE_MODULE_ACCOUNT, value=mod.SerializeToString())
    return Any(type_url=P.TYPE_BASE_ACCOUNT, value=base.SerializeToString())


def _coins(items: list[tuple[str, int]]) -> list[coin_pb2.Coin]:
    return [coin_pb2.Coin(denom=d, amount=str(a)) for d, a in items]


def _proposal(store: Store, pid: int) -> Proposal:
    if pid == 0:
        raise invalid_argument("proposal id can not be 0")
    p = store.proposals.get(pid)
    if p is None:
        raise not_found(f"proposal {pid} doesn't exist")
    return p


def _vote_proto(pid: int, voter: str, options: list[tuple[int, int]]) -> P.gov_pb2.Vote:
    v = P.gov_pb2.Vote(proposal_id=pid, voter=voter)
    for option, weight in options:
        v.options.add(option=option, weight=dec_str(weight))
    return v


class Queries:
    def __init__(self, state: ChainState) -> None:
        self.state = state

    # -- auth ----------------------------------------------------------------------------
    def account(self, req: Message, store: Store) -> Message:
        acc = store.accounts.get(_address(req.address))  # type: ignore[attr-defined]
        if acc is None:
            raise not_found(f"account {req.address} not found")  # type: ignore[attr-defined]
        return auth_q.QueryAccountResponse(account=account_any(acc))

    def account_info(self, req: Message, store: Store) -> Message:
        acc = store.accounts.get(_address(req.address))  # type: ignore[attr-defined]
        if acc is None:
            raise not_found(f"account {req.address} not found")  # type: ignore[attr-defined]
        return auth_q.QueryAccountInfoResponse(info=_base_account(acc))

    def accounts(self, req: Message, store: Store) -> Message:
        chunk, page = paginate(sorted(store.accounts.values(), key=lambda a: a.number), req.pagination)  # type: ignore[attr-defined]
        return auth_q.QueryAccountsResponse(accounts=[account_any(a) for a in chunk], pagination=page)

    def module_account(self, req: Message, store: Store) -> Message:
        name = req.name  # type: ignore[attr-defined]
        if not name:
            raise invalid_argument("module name is empty")
        for acc in store.accounts.values():
            if acc.module_name == name:
                return auth_q.QueryModuleAccountByNameResponse(account=account_any(acc))
        raise not_found(f"account {name} not found")

    def module_accounts(self, req: Message, store: Store) -> Message:
        mods = sorted((a for a in store.accounts.values() if a.module_name), key=lambda a: a.module_name)
        return auth_q.QueryModuleAccountsResponse(accounts=[account_any(a) for a in mods])

    def auth_params(self, req: Message, store: Store) -> Message:
        params = auth_pb2.Params(
            max_memo_characters=MAX_MEMO_CHARS,
            tx_sig_limit=TX_SIG_LIMIT,
            tx_size_cost_per_byte=TX_SIZE_COST_PER_BYTE,
            sig_verify_cost_ed25519=590,
            sig_verify_cost_secp256k1=SIG_VERIFY_COST_SECP256K1,
        )
        return auth_q.QueryParamsResponse(params=params)

    # -- bank ----------------------------------------------------------------------------
    def balance(self, req: Message, store: Store) -> Message:
        addr = _address(req.address)  # type: ignore[attr-defined]
        denom = req.denom  # type: ignore[attr-defined]
        if not DENOM_RE.fullmatch(denom):
            raise invalid_argument(f"invalid denom: {denom[:130]}")
        amount = store.balances.get(addr, {}).get(denom, 0)
        return bank_q.QueryBalanceResponse(balance=coin_pb2.Coin(denom=denom, amount=str(amount)))

    def all_balances(self, req: Message, store: Store) -> Message:
        addr = _address(req.address)  # type: ignore[attr-defined]
        chunk, page = paginate(sorted(store.balances.get(addr, {}).items()), req.pagination)  # type: ignore[attr-defined]
        cls = (
            bank_q.QueryAllBalancesResponse
            if isinstance(req, bank_q.QueryAllBalancesRequest)
            else bank_q.QuerySpendableBalancesResponse
        )
        return cls(balances=_coins(chunk), pagination=page)

    def total_supply(self, req: Message, store: Store) -> Message:
        chunk, page = paginate(sorted((d, a) for d, a in store.supply.items() if a), req.pagination)  # type: ignore[attr-defined]
        return bank_q.QueryTotalSupplyResponse(supply=_coins(chunk), pagination=page)

    def supply_of(self, req: Message, store: Store) -> Message:
        denom = req.denom  # type: ignore[attr-defined]
        if not DENOM_RE.fullmatch(denom):
            raise invalid_argument(f"invalid denom: {denom[:130]}")
        return bank_q.QuerySupplyOfResponse(amount=coin_pb2.Coin(denom=denom, amount=str(store.supply.get(denom, 0))))

    def bank_params(self, req: Message, store: Store) -> Message:
        return bank_q.QueryParamsResponse(params=bank_pb2.Params(default_send_enabled=True))

    def denoms_metadata(self, req: Message, store: Store) -> Message:
        return bank_q.QueryDenomsMetadataResponse(pagination=paginate([], req.pagination)[1])  # type: ignore[attr-defined]

    # -- gov -----------------------------------------------------------------------------
    def proposal(self, req: Message, store: Store) -> Message:
        return P.gov_query_pb2.QueryProposalResponse(proposal=_proposal(store, req.proposal_id).to_proto())  # type: ignore[attr-defined]

    def proposals(self, req: Message, store: Store) -> Message:
        status, voter, depositor = req.proposal_status, req.voter, req.depositor  # type: ignore[attr-defined]
        items = [
            p
            for _, p in sorted(store.proposals.items())
            if (not status or p.status == status)
            and (not voter or voter in p.votes)
            and (not depositor or depositor in p.deposits)
        ]
        chunk, page = paginate(items, req.pagination)  # type: ignore[attr-defined]
        return P.gov_query_pb2.QueryProposalsResponse(proposals=[p.to_proto() for p in chunk], pagination=page)

    def vote(self, req: Message, store: Store) -> Message:
        p = _proposal(store, req.proposal_id)  # type: ignore[attr-defined]
        voter = _address(req.voter, "voter address")  # type: ignore[attr-defined]
        if voter not in p.votes:
            raise not_found(f"voter: {voter} not found for proposal: {p.id}")
        return P.gov_query_pb2.QueryVoteResponse(vote=_vote_proto(p.id, voter, p.votes[voter]))

    def votes(self, req: Message, store: Store) -> Message:
        p = _proposal(store, req.proposal_id)  # type: ignore[attr-defined]
        chunk, page = paginate(sorted(p.votes.items()), req.pagination)  # type: ignore[attr-defined]
        return P.gov_query_pb2.QueryVotesResponse(votes=[_vote_proto(p.id, v, o) for v, o in chunk], pagination=page)

    def deposit(self, req: Message, store: Store) -> Message:
        p = _proposal(store, req.proposal_id)  # type: ignore[attr-defined]
        who = _address(req.depositor, "depositor address")  # type: ignore[attr-defined]
        if who not in p.deposits:
            raise not_found(f"depositor: {who} not found for proposal: {p.id}")
        d = P.gov_pb2.Deposit(proposal_id=p.id, depositor=who, amount=_coins(sorted(p.deposits[who].items())))
        return P.gov_query_pb2.QueryDepositResponse(deposit=d)

    def deposits(self, req: Message, store: Store) -> Message:
        p = _proposal(store, req.proposal_id)  # type: ignore[attr-defined]
        chunk, page = paginate(sorted(p.deposits.items()), req.pagination)  # type: ignore[attr-defined]
        out = [P.gov_pb2.Deposit(proposal_id=p.id, depositor=w, amount=_coins(sorted(a.items()))) for w, a in chunk]
        return P.gov_query_pb2.QueryDepositsResponse(deposits=out, pagination=page)

    def tally(self, req: Message, store: Store) -> Message:
        p = _proposal(store, req.proposal_id)  # type: ignore[attr-defined]
        counts = self.state.gov.tally(p)[2] if p.status == ST_VOTING else p.tally
        resp = P.gov_query_pb2.QueryTallyResultResponse()
        t = resp.tally
        t.yes_count, t.abstain_count = str(counts.get(1, 0)), str(counts.get(2, 0))
        t.no_count, t.no_with_veto_count = str(counts.get(3, 0)), str(counts.get(4, 0))
        return resp

    def gov_params(self, req: Message, store: Store) -> Message:
        gov = self.state.gov
        kind = req.params_type  # type: ignore[attr-defined]
        if kind not in ("", "voting", "deposit", "tallying"):
            raise invalid_argument(f"{kind[:40]} is not a valid parameter type")
        gp, voting_ns = gov.params, gov.voting_period_ns()
        params = P.gov_pb2.Params(
            quorum=dec_str(gp.dec("quorum")),
            threshold=dec_str(gp.dec("threshold")),
            veto_threshold=dec_str(gp.dec("veto_threshold")),
            min_initial_deposit_ratio=dec_str(gp.dec("min_initial_deposit_ratio")),
            proposal_cancel_ratio="0.500000000000000000",
            expedited_threshold=dec_str(gp.dec("expedited_threshold")),
            burn_vote_quorum=gp.burn_vote_quorum,
            burn_proposal_deposit_prevote=gp.burn_proposal_deposit_prevote,
            burn_vote_veto=gp.burn_vote_veto,
            min_deposit_ratio=dec_str(gp.dec("min_deposit_ratio")),
        )
        params.min_deposit.extend(_coins(sorted(gov.min_deposit().items())))
        params.expedited_min_deposit.extend(_coins(sorted(gov.min_deposit(expedited=True).items())))
        params.max_deposit_period.FromNanoseconds(int(gp.max_deposit_period_s * 1e9))
        params.voting_period.FromNanoseconds(voting_ns)
        params.expedited_voting_period.FromNanoseconds(gov.voting_period_ns(expedited=True))
        resp = P.gov_query_pb2.QueryParamsResponse(params=params)
        if kind in ("", "voting"):
            resp.voting_params.voting_period.FromNanoseconds(voting_ns)
        if kind in ("", "deposit"):
            resp.deposit_params.min_deposit.extend(params.min_deposit)
            resp.deposit_params.max_deposit_period.CopyFrom(params.max_deposit_period)
        if kind in ("", "tallying"):
            resp.tally_params.quorum, resp.tally_params.threshold = params.quorum, params.threshold
            resp.tally_params.veto_threshold = params.veto_threshold
        return resp

    # -- inference and upgrade -----------------------------------------------------------
    def partial_upgrade_all(self, req: Message, store: Store) -> Message:
        chunk, page = paginate([store.upgrades[h] for h in sorted(store.upgrades)], req.pagination)  # type: ignore[attr-defined]
        return P.inference_pb2.QueryAllPartialUpgradeResponse(partialUpgrade=chunk, pagination=page)

    def partial_upgrade(self, req: Message, store: Store) -> Message:
        up = store.upgrades.get(req.height)  # type: ignore[attr-defined]
        if up is None:
            raise not_found("not found")
        return P.inference_pb2.QueryGetPartialUpgradeResponse(partialUpgrade=up)

    def mlnode_version(self, req: Message, store: Store) -> Message:
        resp = P.inference_pb2.QueryGetMLNodeVersionResponse()
        resp.mlnode_version.current_version = store.mlnode_version
        return resp

    def inference_params(self, req: Message, store: Store) -> Message:
        resp = P.inference_pb2.QueryParamsResponse()
        resp.params.epoch_params.epoch_length = self.state.genesis.epoch_length
        return resp

    def table(self) -> Routes:
        """path -> (request class, handler)."""
        s = self
        return {
            Q.format("auth.v1beta1", "Account"): (auth_q.QueryAccountRequest, s.account),
            Q.format("auth.v1beta1", "AccountInfo"): (auth_q.QueryAccountInfoRequest, s.account_info),
            Q.format("auth.v1beta1", "Accounts"): (auth_q.QueryAccountsRequest, s.accounts),
            Q.format("auth.v1beta1", "ModuleAccountByName"): (auth_q.QueryModuleAccountByNameRequest, s.module_account),
            Q.format("auth.v1beta1", "ModuleAccounts"): (auth_q.QueryModuleAccountsRequest, s.module_accounts),
            Q.format("auth.v1beta1", "Params"): (auth_q.QueryParamsRequest, s.auth_params),
            Q.format("auth.v1beta1", "Bech32Prefix"): (
                auth_q.Bech32PrefixRequest,
                lambda r, _: auth_q.Bech32PrefixResponse(bech32_prefix=BECH32_PREFIX),
            ),
            Q.format("bank.v1beta1", "Balance"): (bank_q.QueryBalanceRequest, s.balance),
            Q.format("bank.v1beta1", "AllBalances"): (bank_q.QueryAllBalancesRequest, s.all_balances),
            Q.format("bank.v1beta1", "SpendableBalances"): (bank_q.QuerySpendableBalancesRequest, s.all_balances),
            Q.format("bank.v1beta1", "TotalSupply"): (bank_q.QueryTotalSupplyRequest, s.total_supply),
            Q.format("bank.v1beta1", "SupplyOf"): (bank_q.QuerySupplyOfRequest, s.supply_of),
            Q.format("bank.v1beta1", "Params"): (bank_q.QueryParamsRequest, s.bank_params),
            Q.format("bank.v1beta1", "DenomsMetadata"): (bank_q.QueryDenomsMetadataRequest, s.denoms_metadata),
            P.Q_GOV_PROPOSAL: (P.gov_query_pb2.QueryProposalRequest, s.proposal),
            Q.format("gov.v1", "Proposals"): (P.gov_query_pb2.QueryProposalsRequest, s.proposals),
            Q.format("gov.v1", "Vote"): (P.gov_query_pb2.QueryVoteRequest, s.vote),
            Q.format("gov.v1", "Votes"): (P.gov_query_pb2.QueryVotesRequest, s.votes),
            Q.format("gov.v1", "Deposit"): (P.gov_query_pb2.QueryDepositRequest, s.deposit),
            Q.format("gov.v1", "Deposits"): (P.gov_query_pb2.QueryDepositsRequest, s.deposits),
            Q.format("gov.v1", "TallyResult"): (P.gov_query_pb2.QueryTallyResultRequest, s.tally),
            P.Q_GOV_PARAMS: (P.gov_query_pb2.QueryParamsRequest, s.gov_params),
            P.Q_UPGRADE_CURRENT_PLAN: (
                P.upgrade_query_pb2.QueryCurrentPlanRequest,
                lambda r, _: P.upgrade_query_pb2.QueryCurrentPlanResponse(),
            ),
            P.Q_PARTIAL_UPGRADE_ALL: (P.inference_pb2.QueryAllPartialUpgradeRequest, s.partial_upgrade_all),
            P.Q_PARTIAL_UPGRADE: (P.inference_pb2.QueryGetPartialUpgradeRequest, s.partial_upgrade),
            P.Q_MLNODE_VERSION: (P.inference_pb2.QueryGetMLNodeVersionRequest, s.mlnode_version),
            P.Q_INFERENCE_PARAMS: (P.inference_pb2.QueryParamsRequest, s.inference_params),
        }


def routes(state: ChainState) -> Routes:
    return Queries(state).table()
