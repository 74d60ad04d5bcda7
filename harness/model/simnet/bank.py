"""The bank module on simnet: coins as the SDK parses and validates them, balances, sends with the SDK's events,
burns, and the total supply. Amounts are exact integers up to 256 bits, like `math.Int`.

Where an amount is refused:
- not an integer (`'x'`, `'1_0'`, `' 2'`) or beyond 256 bits: the tx does not decode (sdk 2, at CheckTx), as
  `math.Int` unmarshalling fails in the SDK's tx decoder;
- negative, zero, badly named or unsorted coins: sdk 10 invalid coins, from the message handler (SDK v0.53 checks
  them in the msg server, so at DeliverTx and in Simulate), or sdk 13 for a fee (tx ValidateBasic, CheckTx).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from harness.model.simnet.errors import AbciError
from harness.model.simnet.numbers import MAX_UINT256
from harness.model.simnet.store import Event, Store

DENOM_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9/:._-]{2,127}")
_AMOUNT_RE = re.compile(r"[+-]?[0-9]+")
Coins = list[tuple[str, int]]  # (denom, amount) in the order given


def parse_amount(text: str, where: str) -> int:
    """A `math.Int` from its string form; AbciError sdk 2 (the tx does not decode) otherwise."""
    if text == "":
        return 0
    if not _AMOUNT_RE.fullmatch(text) or len(text) > 90:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise AbciError("sdk", 2, f"{where}: math/big: cannot unmarshal {shown!r} into a *big.Int")
    value = int(text)
    if abs(value) > MAX_UINT256:
        raise AbciError("sdk", 2, f"{where}: integer out of range (more than 256 bits)")
    return value


def parse_coins(pb_coins: Iterable[object], where: str) -> Coins:
    return [(c.denom, parse_amount(c.amount, f"{where} {c.denom}")) for c in pb_coins]  # type: ignore[attr-defined]


def coins_str(coins: Coins | dict[str, int]) -> str:
    """sdk.Coins.String(): '5ngonka,7stake'."""
    items = sorted(coins.items()) if isinstance(coins, dict) else coins
    return ",".join(f"{amount}{denom}" for denom, amount in items)


def coins_problem(coins: Coins) -> str | None:
    """What sdk.Coins.Validate() says about these coins, or None when they are valid (empty is valid)."""
    prev = ""
    for i, (denom, amount) in enumerate(coins):
        if not DENOM_RE.fullmatch(denom):
            return f"invalid denom: {denom}"
        if amount <= 0:
            return f"coin {amount}{denom} amount is not positive"
        if i and denom == prev:
            return f"duplicate denomination {denom}"
        if i and denom < prev:
            return f"denomination {denom} is not sorted"
        prev = denom
    return None


def check_coins(coins: Coins, *, codespace: str = "sdk", code: int = 10) -> dict[str, int]:
    """Valid, all-positive coins as a dict; AbciError (sdk 10 invalid coins by default) naming them otherwise."""
    problem = coins_problem(coins)
    if problem:
        raise AbciError(codespace, code, f"{coins_str(coins)}: {problem}")
    return dict(coins)


class Bank:
    """Balances live in `state.store` (read at call time: the store is swapped per tx and per height)."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    def balance(self, address: str, denom: str) -> int:
        return self._store().balances.get(address, {}).get(denom, 0)

    def all_balances(self, address: str) -> Coins:
        return sorted(self._store().balances.get(address, {}).items())

    def _sub(self, address: str, coins: dict[str, int]) -> None:
        bal = self._store().balances.get(address, {})
        for denom, amount in sorted(coins.items()):
            have = bal.get(denom, 0)
            if have < amount:
                raise AbciError("sdk", 5, f"spendable balance {have}{denom} is smaller than {amount}{denom}")
        for denom, amount in coins.items():
            bal[denom] -= amount
            if not bal[denom]:
                del bal[denom]

    def _add(self, address: str, coins: dict[str, int]) -> None:
        store = self._store()
        store.account(address)
        bal = store.balances.setdefault(address, {})
        for denom, amount in coins.items():
            bal[denom] = bal.get(denom, 0) + amount

    def send(self, sender: str, recipient: str, coins: dict[str, int]) -> list[Event]:
        """Move coins; AbciError sdk 5 insufficient funds when the sender lacks any of them. Returns the SDK's events."""
        if not coins:
            return []
        self._sub(sender, coins)
        self._add(recipient, coins)
        amount = coins_str(coins)
        return [
            Event("coin_spent", [("spender", sender), ("amount", amount)]),
            Event("coin_received", [("receiver", recipient), ("amount", amount)]),
            Event("transfer", [("recipient", recipient), ("sender", sender), ("amount", amount)]),
            Event("message", [("sender", sender)]),
        ]

    def burn(self, holder: str, coins: dict[str, int]) -> list[Event]:
        if not coins:
            return []
        self._sub(holder, coins)
        supply = self._store().supply
        for denom, amount in coins.items():
            supply[denom] -= amount
        amount = coins_str(coins)
        return [
            Event("coin_spent", [("spender", holder), ("amount", amount)]),
            Event("burn", [("burner", holder), ("amount", amount)]),
        ]

    def mint(self, holder: str, coins: dict[str, int]) -> None:
        """Genesis only: credit coins and count them in the supply."""
        self._add(holder, coins)
        supply = self._store().supply
        for denom, amount in coins.items():
            supply[denom] = supply.get(denom, 0) + amount
