"""Scheduling a partial upgrade through governance, proposed again when the chain outran it: the one retry rule the
hop (harness/drive/hop.py) and the operator's `harness upgrade` (harness/ops/upgrade.py) share.

    outcome, height = propose_until_passed(chain, "v0.3.9", pick_height, proposer=key, voters=keys)
    # pick_height(extra_blocks) -> H: the height to propose at, `extra_blocks` further out than the first choice

On a loaded machine blocks may land between the height's choice and the proposal's own check (refused before
anything is signed: UpgradeTooSoon), or the votes may land so late that the proposal passes at or after its height
(UpgradePassedTooLate: the chain would drop the entry), or after the voting period (gov's "inactive proposal"; a
proposal the other votes carried counts as passed: ChainClient.propose_partial_upgrade waits for its end). Each
refused attempt is proposed again from the current height, with two more blocks of margin each time plus as many as
the refused attempt took. An exact height (`attempts=1`) is proposed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from harness.chain.client import ProposalNotPassed, UpgradePassedTooLate, UpgradeTooSoon, vote_too_late
from harness.errors import TxError

if TYPE_CHECKING:
    from harness.chain.client import ChainClient, ProposalOutcome
    from harness.chain.keys import Key

ATTEMPTS = 4  # proposals per schedule when the chain moved on or the votes came too late

__all__ = ["ATTEMPTS", "propose_until_passed", "vote_too_late"]


def propose_until_passed(
    chain: ChainClient,
    version: str,
    pick_height: Callable[[int], int],
    *,
    proposer: Key,
    voters: Sequence[Key],
    attempts: int = ATTEMPTS,
    before: Callable[[int], None] | None = None,
    refused: Callable[[int], None] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> tuple[ProposalOutcome, int]:
    """Propose `version` at pick_height(extra blocks) until a proposal passed in time; (its outcome, its height).
    `before(h)` runs before each proposal (the hop arms its holds: block B may follow the vote at once), `refused(h)`
    after a refused one. Any other failure, or the last attempt's refusal, is raised as it came."""
    lag = 0  # blocks a refused proposal lost (included late, or the chain moved on while the caller got ready)
    for attempt in range(attempts):
        picked_at = chain.height()
        h = pick_height(2 * attempt + lag)
        progress(f"propose partial upgrade {version} at height {h}")
        if before is not None:
            before(h)
        try:
            return chain.propose_partial_upgrade(version, h, proposer=proposer, voters=list(voters)), h
        except (UpgradeTooSoon, UpgradePassedTooLate, TxError, ProposalNotPassed) as e:
            if refused is not None:
                refused(h)
            if (isinstance(e, (TxError, ProposalNotPassed)) and not vote_too_late(e)) or attempt == attempts - 1:
                raise
            lag = max(lag, getattr(e, "late_by_blocks", 0), chain.height() - picked_at)
            progress(f"proposal for height {h} too late ({type(e).__name__}); proposing again")
    raise AssertionError("unreachable: the last attempt returns or raises")
