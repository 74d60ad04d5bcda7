"""Chain client: typed queries, signed tx submission, and partial upgrades through governance.

Speaks only CometBFT JSON-RPC (abci_query, broadcast_tx_sync, tx, status, block), so it works unchanged against
simnet and a real Gonka node's RPC port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import cosmpy.protos  # noqa: F401  (puts cosmpy's `cosmos.*` modules on sys.path; must come first)
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx_pb2
from cosmos.base.v1beta1 import coin_pb2

from harness import proto
from harness.chain.keys import DENOM, Key, gov_module_address
from harness.chain.proposals import PASSED, cast_votes, submit_partial_upgrade, wait_proposal_final
from harness.chain.tx import build_signed_tx, tx_hash
from harness.cometbft.client import RpcClient, RpcError, block_time_ceil_blocks
from harness.errors import ChainError, ConfigError, QueryError, TxError
from harness.versions import check_version

# Blocks between "now" and the upgrade height beyond the voting period: one to include the proposal,
# one for the votes, one for the tally in EndBlock.
UPGRADE_MARGIN_BLOCKS = 3
PASS_MARGIN_BLOCKS = 2  # a proposal passes at least this many blocks before its upgrade height, or is not voted on
MAX_PAGES = 100  # PartialUpgradeAll pages read at most (each up to the node's page size)
KEY_NOT_FOUND = 22  # sdk ErrKeyNotFound: what baseapp makes of a gRPC NotFound in an ABCI query (38 is ErrNotFound)
UNKNOWN_REQUEST = 6  # sdk ErrUnknownRequest: the query path does not exist on this chain


class UpgradeTooSoon(ConfigError):
    """The proposed upgrade height is not after the voting period end (the chain moved on, or it was too close).
    `late_by_blocks`: how many blocks after the height read before submitting the proposal was included (0 when it
    was refused before anything was sent), so that a caller proposing again can leave that much more room."""

    def __init__(self, message: str, *, late_by_blocks: int = 0) -> None:
        super().__init__(message)
        self.late_by_blocks = late_by_blocks


class UpgradePassedTooLate(ChainError):
    """The proposal passed at or after its upgrade height, so the chain dropped the entry without any effect."""


class ProposalNotPassed(ChainError):
    """The proposal's voting ended without it passing (`status`: PROPOSAL_STATUS_REJECTED or _FAILED). `late_vote`:
    one of its YES votes came after the voting period and gov refused it ("inactive proposal"), on a loaded machine
    the likely reason it missed its quorum; a caller may propose again."""

    def __init__(self, proposal_id: int, status: str, detail: str, *, late_vote: TxError | None = None) -> None:
        self.proposal_id, self.status, self.late_vote = proposal_id, status, late_vote
        why = f"; a YES vote came after the voting period: {late_vote}" if late_vote is not None else ""
        super().__init__(f"gov proposal {proposal_id} ended as {status} ({detail}), not {PASSED}{why}")


@dataclass
class TxOutcome:
    hash: str
    height: int
    code: int
    log: str = ""
    codespace: str = ""
    gas_used: int = 0
    events: list[dict] = field(default_factory=list)

    def attribute(self, event_type: str, key: str) -> list[str]:
        """Values of `<event_type>.<key>` in emission order (e.g. submit_proposal.proposal_id)."""
        return [
            str(a.get("value", ""))
            for ev in self.events
            if ev.get("type") == event_type
            for a in ev.get("attributes") or []
            if a.get("key") == key
        ]


@dataclass(frozen=True)
class ProposalOutcome:
    proposal_id: int
    submit_height: int
    passed_height: int
    upgrade_height: int


def tx_result_from_rpc(r: dict) -> TxOutcome:
    res = r.get("tx_result") or {}
    return TxOutcome(
        hash=str(r.get("hash", "")),
        height=int(r.get("height") or 0),
        code=int(res.get("code") or 0),
        log=str(res.get("log") or ""),
        codespace=str(res.get("codespace") or ""),
        gas_used=int(res.get("gas_used") or 0),
        events=list(res.get("events") or []),
    )


class ChainClient:
    """Queries and transactions against a chain's CometBFT RPC endpoint (http://HOST:26657)."""

    def __init__(self, rpc_url: str, *, chain_id: str | None = None, timeout_s: float = 10.0, denom: str = DENOM) -> None:
        self.rpc = RpcClient(rpc_url, timeout_s=timeout_s)
        self.denom = denom  # the chain's base coin (deposits, transfers)
        self._chain_id = chain_id
        self._accounts: dict[str, list[int]] = {}  # address -> [account_number, next sequence]
        self._lock = threading.Lock()

    def close(self) -> None:
        self.rpc.close()

    def __enter__(self) -> ChainClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.rpc.chain_id()
        return self._chain_id

    def height(self) -> int:
        return self.rpc.height()

    # -- queries -----------------------------------------------------------------------------------------------------

    def account(self, address: str) -> tuple[int, int]:
        """(account_number, sequence) of an account; QueryError if the chain does not know it."""
        try:
            resp = self.rpc.query(proto.Q_ACCOUNT, proto.auth_query_pb2.QueryAccountRequest(address=address))
        except QueryError as e:
            e.args = (f"{e.args[0]}; account {address} has no on-chain record yet: fund it (genesis or a bank send) first",)
            raise
        base = _base_account(resp.account)
        return int(base.account_number), int(base.sequence)

    def module_account_address(self, name: str) -> str:
        req = proto.auth_query_pb2.QueryModuleAccountByNameRequest(name=name)
        resp = self.rpc.query(proto.Q_MODULE_ACCOUNT_BY_NAME, req)
        return str(_base_account(resp.account).address)

    def gov_authority(self) -> str:
        """The gov module account address from the chain; computed (bech32 of sha256("gov")[:20]) if not queryable."""
        try:
            return self.module_account_address("gov")
        except (QueryError, ChainError):
            return gov_module_address()

    def gov_params(self) -> Any:
        return self.rpc.query(proto.Q_GOV_PARAMS, proto.gov_query_pb2.QueryParamsRequest()).params

    def min_deposit(self) -> int:
        """The gov module's min deposit in this client's coin. A chain whose only deposit coin is another one (an
        older Gonka revision's `nicoin`) teaches the client its coin."""
        coins = list(self.gov_params().min_deposit)
        for c in coins:
            if c.denom == self.denom:
                return int(c.amount)
        if len(coins) == 1:
            self.denom = coins[0].denom
            return int(coins[0].amount)
        if coins:
            raise ChainError(f"gov min_deposit is {[f'{c.amount}{c.denom}' for c in coins]}, none in {self.denom}")
        return 0

    def voting_period_s(self) -> float:
        vp = self.gov_params().voting_period
        return vp.seconds + vp.nanos / 1e9

    def proposal(self, proposal_id: int) -> Any:
        req = proto.gov_query_pb2.QueryProposalRequest(proposal_id=proposal_id)
        return self.rpc.query(proto.Q_GOV_PROPOSAL, req).proposal

    def partial_upgrades(self) -> list[Any]:
        """Every stored PartialUpgrade (all pages)."""
        out: list[Any] = []
        key = b""
        for _ in range(MAX_PAGES):
            req = proto.inference_pb2.QueryAllPartialUpgradeRequest()
            if key:
                req.pagination.key = key
            resp = self.rpc.query(proto.Q_PARTIAL_UPGRADE_ALL, req)
            out.extend(resp.partialUpgrade)
            key = resp.pagination.next_key
            if not key:
                return out
        raise ChainError(f"PartialUpgradeAll: more than {MAX_PAGES} pages; stopped reading")

    def partial_upgrade(self, height: int) -> Any | None:
        """The PartialUpgrade stored at `height`, or None."""
        req = proto.inference_pb2.QueryGetPartialUpgradeRequest(height=height)
        try:
            return self.rpc.query(proto.Q_PARTIAL_UPGRADE, req).partialUpgrade
        except QueryError as e:
            if e.code == KEY_NOT_FOUND or "not found" in e.log:
                return None
            raise

    def mlnode_version(self, height: int = 0) -> str:
        """MLNodeVersion.current_version (at `height`, 0 = latest). QueryError on a chain without that query (upstream
        main keeps no chain-wide MLNode version: see `tracks_mlnode_version`)."""
        req = proto.inference_pb2.QueryGetMLNodeVersionRequest()
        return str(self.rpc.query(proto.Q_MLNODE_VERSION, req, height=height).mlnode_version.current_version)

    def tracks_mlnode_version(self) -> bool:
        """Whether this chain keeps an MLNodeVersion (the query exists); upstream main answers "unknown query path"."""
        try:
            self.mlnode_version()
        except QueryError as e:
            if "unknown query path" in e.log or e.code == UNKNOWN_REQUEST:
                return False
            raise
        return True

    def epoch_params(self) -> Any:
        """The inference module's EpochParams (epoch length, PoC phase lengths) from its Params query."""
        return self.rpc.query(proto.Q_INFERENCE_PARAMS, proto.inference_pb2.QueryParamsRequest()).params.epoch_params

    def current_plan(self) -> Any | None:
        resp = self.rpc.query(proto.Q_UPGRADE_CURRENT_PLAN, proto.upgrade_query_pb2.QueryCurrentPlanRequest())
        return resp.plan if resp.HasField("plan") else None

    # -- transactions ------------------------------------------------------------------------------------------------

    def submit(
        self,
        messages: list,
        key: Key,
        *,
        wait: bool = True,
        timeout_s: float | None = None,
        gas_limit: int = 2_000_000,
        fee_amount: int = 0,
        memo: str = "",
    ) -> TxOutcome:
        """Sign and broadcast; TxError on a CheckTx or DeliverTx failure. With wait=False, returns after CheckTx."""
        with self._lock:
            acct = self._accounts.get(key.address)
            if acct is None:
                acct = list(self.account(key.address))
                self._accounts[key.address] = acct
            account_number, sequence = acct
            raw = build_signed_tx(
                messages,
                key,
                chain_id=self.chain_id,
                account_number=account_number,
                sequence=sequence,
                gas_limit=gas_limit,
                fee_amount=fee_amount,
                memo=memo,
            )
            h = tx_hash(raw)
            try:
                res = self.rpc.broadcast_tx_sync(raw)
            except RpcError as e:  # mempool refusals: duplicate, full, too large
                self._accounts.pop(key.address, None)
                raise TxError("broadcast", e.code, e.data or e.message, h) from None
            if res.code != 0:
                self._accounts.pop(key.address, None)  # re-read the sequence from the chain next time
                raise TxError("CheckTx", res.code, f"{res.codespace}: {res.log}" if res.codespace else res.log, res.hash or h)
            acct[1] = sequence + 1
        if not wait:
            return TxOutcome(hash=res.hash or h, height=0, code=0, log=res.log)
        return self.wait_for_tx(res.hash or h, timeout_s=timeout_s)

    def wait_for_tx(self, hash_hex: str, *, timeout_s: float | None = None) -> TxOutcome:
        result = tx_result_from_rpc(self.rpc.wait_for_tx(hash_hex, timeout_s))
        if result.code != 0:
            log = f"{result.codespace}: {result.log}" if result.codespace else result.log
            raise TxError("DeliverTx", result.code, log, hash_hex)
        return result

    def send(self, key: Key, to_address: str, amount: int, *, timeout_s: float | None = None) -> TxOutcome:
        """cosmos.bank MsgSend of `amount` base coins; the first tx of an account also puts its public key on chain."""
        msg = bank_tx_pb2.MsgSend(
            from_address=key.address, to_address=to_address, amount=[coin_pb2.Coin(denom=self.denom, amount=str(amount))]
        )
        return self.submit([msg], key, timeout_s=timeout_s)

    # -- governance --------------------------------------------------------------------------------------------------

    def earliest_upgrade_height(self) -> tuple[int, dict[str, float]]:
        """The lowest height a partial upgrade proposed now can take effect at, and the numbers behind it."""
        current = self.height()
        if current < 3:
            # No block time can be measured yet, and a guessed one may undercount the voting period's blocks:
            # wait for a few blocks first (the chain is seconds old).
            current = self.rpc.wait_for_height(3)
        bt = self.rpc.block_time_s()
        # The voting period's blocks are counted at the median recent interval: a mean inflated by the held blocks
        # undercounts them (seen: 2 blocks for a 3-block period after a hop, the proposal passing at its height).
        typical = self.rpc.typical_block_interval_s()
        vp_s = self.voting_period_s()
        vp_blocks = block_time_ceil_blocks(vp_s, max(min(bt, typical), 1e-3))
        earliest = current + vp_blocks + UPGRADE_MARGIN_BLOCKS
        return earliest, {"current_height": current, "block_time_s": bt, "typical_block_s": typical,
                          "voting_period_s": vp_s, "voting_blocks": vp_blocks}  # fmt: skip

    def propose_partial_upgrade(
        self,
        version: str,
        height: int,
        *,
        proposer: Key,
        voters: list[Key],
        deposit: int | None = None,
        title: str = "",
        timeout_s: float | None = None,
    ) -> ProposalOutcome:
        """Submit a gov proposal carrying MsgCreatePartialUpgrade, vote YES with every voter, wait until it passed.
        Refused when the height is too close for the vote (UpgradeTooSoon, before anything is sent or when the proposal
        was included too late to pass 2 blocks before it; then it is not voted on); the steps without these checks are
        in harness/chain/proposals.py."""

        version = check_version(version, field="partial upgrade node version")
        if not isinstance(height, int) or height <= 0:
            raise ConfigError(f"partial upgrade height must be a positive integer, got {height!r}")
        if not voters:
            raise ConfigError("propose_partial_upgrade: no voters; pass the validator keys that vote YES")
        earliest, why = self.earliest_upgrade_height()
        if height < earliest:
            raise UpgradeTooSoon(
                f"upgrade height {height} is not after the voting period end: current height {why['current_height']} + "
                f"voting period {why['voting_period_s']:.3f}s (~{why['voting_blocks']} blocks at "
                f"{why['block_time_s']:.3f}s/block) + "
                f"{UPGRADE_MARGIN_BLOCKS} blocks margin = earliest {earliest}; choose a height >= {earliest}"
            )
        tx_timeout = self.rpc.deadline_for_blocks(3, block_time_s=why["block_time_s"])
        sub = submit_partial_upgrade(self, version, height, proposer=proposer, deposit=deposit, title=title,
                                     timeout_s=tx_timeout)  # fmt: skip
        proposal_id = sub.proposal_id
        passes_by = sub.height + why["voting_blocks"]
        if passes_by > height - PASS_MARGIN_BLOCKS:
            # Voting YES would pass it too close to (or after) its height: an API node learns the plan from the
            # block that stored it and must have blocks to spare before H. Left unvoted it fails its quorum.
            raise UpgradeTooSoon(
                f"proposal {proposal_id} was included at height {sub.height} ({sub.height - why['current_height']} "
                f"blocks after the height read before submitting); its {why['voting_blocks']}-block voting period ends "
                f"at {passes_by}, later than {PASS_MARGIN_BLOCKS} blocks before upgrade height {height}. It was not "
                f"voted on and will be rejected for lack of quorum; propose again with a later height",
                late_by_blocks=sub.height - why["current_height"],
            )
        deadline = (
            timeout_s
            if timeout_s is not None
            else why["voting_period_s"] * 3
            + self.rpc.deadline_for_blocks(UPGRADE_MARGIN_BLOCKS + 2, block_time_s=why["block_time_s"])
        )
        passed_height = self._vote_and_wait(proposal_id, voters, tx_timeout, deadline)
        if passed_height >= height and not self._upgrade_took(version, height):
            raise UpgradePassedTooLate(
                f"proposal {proposal_id} passed at height {passed_height}, not before upgrade height {height}: "
                "EndBlock drops the entry without switching; propose with a later height"
            )
        return ProposalOutcome(proposal_id, sub.height, passed_height, height)

    def _vote_and_wait(self, proposal_id: int, voters: list[Key], tx_timeout: float, deadline: float) -> int:
        """Vote YES with every voter, then until the proposal passed; the height PASSED was read at."""
        try:
            cast_votes(self, proposal_id, voters, option="yes", timeout_s=tx_timeout)
        except TxError as e:
            if not vote_too_late(e):
                raise
            # Some votes were included before the voting period ended: the proposal may pass without the late ones
            # (and the chain then applies it), so its end decides, not the late vote.
            status, passed_height, detail = wait_proposal_final(self, proposal_id, timeout_s=deadline)
            if status != PASSED:
                raise ProposalNotPassed(proposal_id, status, detail, late_vote=e) from e
            return passed_height
        return self._wait_proposal_passed(proposal_id, deadline)

    def _upgrade_took(self, version: str, height: int) -> bool:
        """Whether the partial upgrade to `version` at `height` is stored or was applied (the harness may read PASSED
        only blocks after the EndBlock that passed it, on a loaded machine)."""
        if any(u.height == height and u.node_version == version for u in self.partial_upgrades()):
            return True
        try:
            return self.mlnode_version(height=height) == version
        except ChainError:  # a chain without MLNodeVersion, or one that pruned that height
            return False

    def _wait_proposal_passed(self, proposal_id: int, timeout_s: float) -> int:
        """Until the proposal's voting ended; the height PASSED was read at, else ChainError naming how it ended."""

        status, at, detail = wait_proposal_final(self, proposal_id, timeout_s=timeout_s)
        if status != PASSED:
            raise ProposalNotPassed(proposal_id, status, detail)
        return at


def vote_too_late(e: BaseException) -> bool:
    """A vote delivered after its proposal's voting period ended (x/gov ErrInactiveProposal, code 3), or a proposal
    that did not pass with such a vote among its own."""
    if isinstance(e, ProposalNotPassed):
        return e.late_vote is not None
    return getattr(e, "code", None) == 3 and "inactive proposal" in str(getattr(e, "log", ""))


def _base_account(any_msg: Any) -> Any:
    """The BaseAccount inside an auth `Any` (BaseAccount or ModuleAccount)."""
    if any_msg.type_url == proto.TYPE_BASE_ACCOUNT:
        return proto.auth_pb2.BaseAccount.FromString(any_msg.value)
    if any_msg.type_url == proto.TYPE_MODULE_ACCOUNT:
        return proto.auth_pb2.ModuleAccount.FromString(any_msg.value).base_account
    raise ChainError(
        f"account type {any_msg.type_url!r} is not supported; expected {proto.TYPE_BASE_ACCOUNT} or a module account"
    )
