"""simnet's application state: the store (accounts, balances, gov proposals, partial upgrades), its copies per
height for queries, checkpoints for atomic transactions, and EndBlock (gov tally, then the inference module's
partial-upgrade rule).

All mutation happens on the server's event loop (or directly in unit tests); no locks. Error codes and texts
are the SDK's (`errors.py`).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from harness.chain.keys import module_address
from harness.model.simnet.bank import Bank
from harness.model.simnet.errors import AbciError
from harness.model.simnet.genesis import BOND_DENOM, Genesis
from harness.model.simnet.gov import (  # noqa: F401  (re-exported for callers of the state module)
    ST_DEPOSIT,
    ST_FAILED,
    ST_PASSED,
    ST_REJECTED,
    ST_VOTING,
    VOTE_ABSTAIN,
    VOTE_NO,
    VOTE_VETO,
    VOTE_YES,
    Gov,
    MsgExecutor,
    Proposal,
)
from harness.model.simnet.store import Account, Event, Store
from harness.proto import PartialUpgrade

SNAPSHOTS_KEPT = 1000
# module accounts at genesis: name -> permissions (the gov account is where deposits wait)
MODULE_ACCOUNTS = {
    "fee_collector": (),
    "gov": ("burner",),
    "bonded_tokens_pool": ("burner", "staking"),
    "not_bonded_tokens_pool": ("burner", "staking"),
}


class ChainState:
    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.gov_address = module_address("gov")
        self.store = Store({}, {}, {}, {}, {}, genesis.initial_mlnode_version)
        self.bank = Bank(lambda: self.store)
        self.gov = Gov(self)
        for addr, bal in genesis.accounts.items():
            self.store.account(addr)
            if bal:
                self.bank.mint(addr, {BOND_DENOM: bal})
        for name, perms in MODULE_ACCOUNTS.items():
            acc = self.store.account(module_address(name))
            acc.module_name, acc.permissions = name, perms
        self.bank.mint(module_address("bonded_tokens_pool"), {BOND_DENOM: sum(v.tokens for v in genesis.validators)})
        self._snapshots: OrderedDict[int, Store] = OrderedDict()
        self._dirty = True

    # -- queries -------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.store.height

    def view(self, height: int = 0) -> Store:
        """The store as committed at `height` (0 = latest). AbciError 26/18 as the SDK for future/pruned heights."""
        latest = self.store.height
        if height == 0 or height == latest:
            return self._snapshots[latest] if latest in self._snapshots else self.store
        if height < 0:
            raise AbciError("sdk", 18, "cannot query with height < 0; please provide a valid height")
        if height > latest:
            raise AbciError("sdk", 26, "cannot query with height in the future; please provide a valid height")
        snap = self._snapshots.get(height)
        if snap is None:
            raise AbciError(
                "sdk", 18, f"failed to load state at height {height}; version does not exist (latest height: {latest})"
            )
        return snap

    def commit(self, height: int) -> None:
        self.store.height = height
        if self._dirty or not self._snapshots:
            self._snapshots[height] = self.store.copy()
            self._dirty = False
        else:
            last = next(reversed(self._snapshots.values()))
            self._snapshots[height] = last if last.height == height else _rehight(last, height)
        while len(self._snapshots) > SNAPSHOTS_KEPT:
            self._snapshots.popitem(last=False)

    def mark_dirty(self) -> None:
        self._dirty = True

    # -- atomicity -----------------------------------------------------------------------
    def checkpoint(self) -> Store:
        """A copy to restore() when what follows fails (the SDK's cache context)."""
        self.mark_dirty()
        return self.store.copy()

    def restore(self, saved: Store) -> None:
        self.store = saved
        self.mark_dirty()

    # -- accounts ------------------------------------------------------------------------
    def account(self, address: str) -> Account | None:
        return self.store.accounts.get(address)

    def validator_tokens(self) -> dict[str, int]:
        return {v.address: v.tokens for v in self.genesis.validators}

    # -- EndBlock ------------------------------------------------------------------------
    def end_block(self, height: int, time_ns: int, execute: MsgExecutor | None = None) -> list[Event]:
        """Gov (deposit periods, tallies, passed proposals' messages), then the partial-upgrade rule."""

        def refuse(*_: object) -> list[Event]:
            raise AbciError("sdk", 6, "no message executor")

        events = self.gov.end_block(height, time_ns, execute or refuse)
        if events:
            self.mark_dirty()
        self.apply_partial_upgrades(height)
        return events

    def apply_partial_upgrades(self, height: int) -> None:
        """Upstream [PR228]: height == h and node_version set -> MLNodeVersion; height < h -> delete the entry."""
        for h, up in list(self.store.upgrades.items()):
            if h == height and up.node_version:
                self.store.mlnode_version = up.node_version
                self.mark_dirty()
            elif h < height:
                del self.store.upgrades[h]
                self.mark_dirty()

    def set_partial_upgrade(self, height: int, node_version: str, api_binaries_json: str) -> PartialUpgrade:
        up = PartialUpgrade(
            height=height,
            node_version=node_version,
            api_binaries_json=api_binaries_json,
            name=f"PartialUpgrade at height {height} for node version {node_version}",
        )
        self.store.upgrades[height] = up  # keyed by height: a new entry overwrites an old one
        self.mark_dirty()
        return up


def _rehight(store: Store, height: int) -> Store:
    s = copy.copy(store)
    s.height = height
    return s
