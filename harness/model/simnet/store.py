"""simnet's application store: what the modules write and queries read (accounts, balances and supply, gov
proposals, partial upgrades, the MLNode version). A `Store` is a plain value: `ChainState` copies it per height
for queries and per transaction so that a failed transaction leaves no trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.model.simnet.gov import Proposal
    from harness.proto import PartialUpgrade


@dataclass
class Event:
    type: str
    attributes: list[tuple[str, str]]


@dataclass
class Account:
    address: str
    number: int
    sequence: int = 0
    pub_key: bytes | None = None
    module_name: str = ""
    permissions: tuple[str, ...] = ()


@dataclass
class Store:
    """What queries read: copied per height so a query at height h sees the state committed at h."""

    accounts: dict[str, Account]
    balances: dict[str, dict[str, int]]  # address -> denom -> amount (no zero entries)
    supply: dict[str, int]
    proposals: dict[int, Proposal]
    upgrades: dict[int, PartialUpgrade]
    mlnode_version: str
    next_proposal_id: int = 1
    next_account_number: int = 0
    height: int = 0
    unordered_nonces: dict[str, int] = field(default_factory=dict)  # "<signer>/<timeout ns>" -> timeout ns

    def copy(self) -> Store:
        """An independent copy (what a tx or a height may change is copied; protobuf values are never mutated
        in place, so they are shared)."""
        return replace(
            self,
            accounts={a: replace(acc) for a, acc in self.accounts.items()},
            balances={a: dict(b) for a, b in self.balances.items()},
            supply=dict(self.supply),
            proposals={i: p.copy() for i, p in self.proposals.items()},
            upgrades=dict(self.upgrades),
            unordered_nonces=dict(self.unordered_nonces),
        )

    def account(self, address: str) -> Account:
        """The account at `address`, created (next account number) when absent, as the SDK does on receipt."""
        acc = self.accounts.get(address)
        if acc is None:
            acc = Account(address, self.next_account_number)
            self.next_account_number += 1
            self.accounts[address] = acc
        return acc

    def module_address(self, name: str) -> str | None:
        for acc in self.accounts.values():
            if acc.module_name == name:
                return acc.address
        return None
