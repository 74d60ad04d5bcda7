"""The bank module on simnet: coins as the SDK decodes and validates them, balances, sends with the SDK's events,
burns, and the total supply. Amounts are exact integers up to 256 bits, like `math.Int`.

An amount is decoded as `math.Int` decodes it (`gotext.parse_big_int`: Go's big.Int text, so `1_0` is 10,
`0x10` is 16 and `010` is 8); text that does not decode, or is beyond 256 bits, makes the tx undecodable (sdk 2,
at CheckTx). An empty amount decodes to a nil Int (`None` here): a fee with one is refused by the tx's
ValidateBasic (sdk 13), and a message coin with one makes the message server panic (undefined 111222), as in
the SDK.

`coins_problem` is `sdk.Coins.Validate()`; the message servers refuse invalid coins with sdk 10 and the coins'
text only (`Wrap(ErrInvalidCoins, coins.String())`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from harness.model.simnet.errors import AbciError, go_panic
from harness.model.simnet.gotext import GoError, parse_big_int
from harness.model.simnet.store import Event, Store

DENOM_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9/:._-]{2,127}")
NIL_DEREF = "runtime error: invalid memory address or nil pointer dereference"
Coins = list[tuple[str, int | None]]  # (denom, amount) in the order given; None is a nil amount


def parse_amount(text: str) -> int | None:
    """A coin amount as `math.Int` unmarshals it (None for an empty one); AbciError sdk 2 when it does not decode."""
    if text == "":
        return None
    try:
        return parse_big_int(text)
    except GoError as e:
        raise AbciError("sdk", 2, str(e)) from None


def parse_coins(pb_coins: Iterable[object]) -> Coins:
    return [(c.denom, parse_amount(c.amount)) for c in pb_coins]  # type: ignore[attr-defined]


def coin_str(denom: str, amount: int | None) -> str:
    """sdk.Coin.String(): amount then denom; a nil amount prints '<nil>'."""
    return f"{'<nil>' if amount is None else amount}{denom}"


def coins_str(coins: Coins | dict[str, int]) -> str:
    """sdk.Coins.String(): '5ngonka,7stake' (a dict is printed sorted by denom)."""
    items: Coins = sorted(coins.items()) if isinstance(coins, dict) else coins  # type: ignore[assignment]
    return ",".join(coin_str(denom, amount) for denom, amount in items)


def is_zero(coins: Coins) -> bool:
    """sdk.Coins.IsZero(): no coins, or every amount zero (a nil amount panics, as in Go)."""
    if any(amount is None for _, amount in coins):
        raise go_panic(NIL_DEREF)
    return all(amount == 0 for _, amount in coins)


def coins_problem(coins: Coins) -> str | None:
    """What sdk.Coins.Validate() says about these coins (None when valid; empty is valid), checked in its order:
    the first coin's denom and amount, then each next coin's denom, order, uniqueness and amount. A nil amount
    panics (go_panic), as IsPositive does on a nil Int."""
    for i, (denom, amount) in enumerate(coins):
        if not DENOM_RE.fullmatch(denom):
            return f"invalid denom: {denom}"
        if i:
            prev = coins[i - 1][0]
            if denom < prev:
                return f"denomination {denom} is not sorted"
            if denom == prev:
                return f"duplicate denomination {denom}"
        if amount is None:
            raise go_panic(NIL_DEREF)
        if amount <= 0:  # the SDK prints the whole first coin, but only the denom of a later one
            return f"coin {coin_str(denom, amount) if i == 0 else denom} amount is not positive"
    return None


def check_coins(coins: Coins, *, allow_empty: bool = False) -> dict[str, int]:
    """Valid coins (IsValid; all positive and at least one unless `allow_empty`) as a dict; otherwise sdk 10 as
    the bank and gov message servers refuse them: `Wrap(ErrInvalidCoins, coins.String())`."""
    if coins_problem(coins) is not None or (not coins and not allow_empty):
        raise AbciError("sdk", 10, coins_str(coins))
    return {denom: amount for denom, amount in coins if amount is not None}


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
