"""Governance proposals carrying MsgCreatePartialUpgrade, one step at a time. `ChainClient.propose_partial_upgrade` puts
the steps together between its height checks; a scenario that needs a proposal those checks refuse (its voting ends
after its own height: the chain can never apply it) or votes other than YES takes the steps itself:

    sub = submit_partial_upgrade(chain, "v0.3.9", 120, proposer=key)       # included; no height is checked here
    cast_votes(chain, sub.proposal_id, voters, option="no")
    status, height, detail = wait_proposal_final(chain, sub.proposal_id, timeout_s=30)
    # ("PROPOSAL_STATUS_REJECTED", 118, "tally: ...; failed_reason: ''")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cosmpy.protos  # noqa: F401  (puts cosmpy's `cosmos.*` modules on sys.path; must come first)
from cosmos.base.v1beta1 import coin_pb2

from harness import proto
from harness.chain.keys import Key
from harness.chain.tx import pack_any
from harness.errors import ChainError, ConfigError
from harness.util.wait import wait_until
from harness.versions import check_version

if TYPE_CHECKING:
    from harness.chain.client import ChainClient

VOTE_OPTIONS = {"yes": "VOTE_OPTION_YES", "no": "VOTE_OPTION_NO", "abstain": "VOTE_OPTION_ABSTAIN",
                "veto": "VOTE_OPTION_NO_WITH_VETO"}  # fmt: skip
PASSED = "PROPOSAL_STATUS_PASSED"
FINAL = (PASSED, "PROPOSAL_STATUS_REJECTED", "PROPOSAL_STATUS_FAILED")


@dataclass(frozen=True)
class Submitted:
    proposal_id: int
    height: int  # the block that included the proposal
    tx_hash: str


def submit_partial_upgrade(
    chain: ChainClient,
    version: str,
    height: int,
    *,
    proposer: Key,
    deposit: int | None = None,
    title: str = "",
    timeout_s: float | None = None,
) -> Submitted:
    """Sign and broadcast a MsgSubmitProposal with MsgCreatePartialUpgrade(version, height) (authority: the gov module
    account on chain, the min deposit unless `deposit`); return once a block included it. Nothing about the height is
    checked beyond it being positive."""
    version = check_version(version, field="partial upgrade node version")
    if isinstance(height, bool) or not isinstance(height, int) or height <= 0:
        raise ConfigError(f"partial upgrade height must be a positive integer, got {height!r}")
    amount = chain.min_deposit() if deposit is None else deposit
    if amount < 0:
        raise ConfigError(f"deposit must be >= 0 {chain.denom}, got {amount}")
    upgrade = proto.MsgCreatePartialUpgrade(
        authority=chain.gov_authority(), height=height, nodeVersion=version, apiBinariesJson=""
    )
    submit = proto.gov_tx_pb2.MsgSubmitProposal(
        messages=[pack_any(upgrade)],
        initial_deposit=[coin_pb2.Coin(denom=chain.denom, amount=str(amount))] if amount else [],
        proposer=proposer.address,
        metadata="",
        title=title or f"Partial upgrade to {version} at height {height}",
        summary=f"MLNode node version {version} from block {height}",
        expedited=False,
    )
    sub = chain.submit([submit], proposer, timeout_s=timeout_s)
    ids = sub.attribute("submit_proposal", "proposal_id")
    if not ids:
        raise ChainError(f"tx {sub.hash} has no submit_proposal.proposal_id event; events: {sub.events}")
    return Submitted(int(ids[0]), sub.height, sub.hash)


def cast_votes(
    chain: ChainClient, proposal_id: int, voters: list[Key], *, option: str = "yes", timeout_s: float | None = None
) -> None:
    """Every voter votes `option` (yes, no, abstain, veto); broadcast side by side, then each waited for (TxError when
    one fails, e.g. gov's "inactive proposal" for a vote after the voting period)."""
    if option not in VOTE_OPTIONS:
        raise ConfigError(f"vote option {option!r} is not one of {', '.join(VOTE_OPTIONS)}")
    if not voters:
        raise ConfigError("cast_votes: no voters; pass the validator keys that vote")
    value = proto.gov_pb2.VoteOption.Value(VOTE_OPTIONS[option])
    pending = [
        chain.submit([proto.gov_tx_pb2.MsgVote(proposal_id=proposal_id, voter=v.address, option=value)], v, wait=False)
        for v in voters
    ]
    for p in pending:
        chain.wait_for_tx(p.hash, timeout_s=timeout_s)


def wait_proposal_final(chain: ChainClient, proposal_id: int, *, timeout_s: float) -> tuple[str, int, str]:
    """Poll the proposal until its voting ended: (status name, the height that status was read at, "tally: ...;
    failed_reason: ..."). WaitTimeout naming the last status seen otherwise."""
    statuses = proto.gov_pb2.ProposalStatus
    last: dict[str, Any] = {}

    def check() -> bool:
        req = proto.gov_query_pb2.QueryProposalRequest(proposal_id=proposal_id)
        resp, at = chain.rpc.query_at(proto.Q_GOV_PROPOSAL, req)
        p = resp.proposal
        tally = str(p.final_tally_result).replace("\n", " ").strip()
        last.update(status=statuses.Name(p.status), height=at, detail=f"tally: {tally}; failed_reason: {p.failed_reason!r}")
        return last["status"] in FINAL

    wait_until(
        check,
        timeout_s=timeout_s,
        what=f"gov proposal {proposal_id} to end its voting period (one of {', '.join(FINAL)})",
        evidence=lambda: f"last seen: {last}",
        hint="is the voting period as short as gov params say, and is the chain making blocks?",
    )
    return last["status"], int(last["height"]), last["detail"]
