"""Helpers shared by simnet's tests."""

from __future__ import annotations

from typing import Any


def app_state(sim: Any) -> tuple:
    """What a request must never change: accounts (numbers, sequences), balances, supply, proposals, upgrades."""
    s = sim.node.state.store
    accounts = {a: (acc.number, acc.sequence) for a, acc in s.accounts.items()}
    return accounts, {a: dict(b) for a, b in s.balances.items()}, dict(s.supply), sorted(s.proposals), dict(s.upgrades)
