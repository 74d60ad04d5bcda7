"""simnet's genesis: chain id, block time, governance periods, MLNode version, validators and funded accounts.

The default dev genesis has one validator, the account of `harness.chain.keys.DEV_MNEMONIC` (power 10),
and two funded accounts (the validator and `DEV_USER_MNEMONIC`). A file (JSON or YAML) may set any field:

    chain_id: gonka-testnet
    block_time_s: 0.2
    voting_period_blocks: 5          # or voting_period_s: 1.0 (exactly one of the two)
    min_deposit: 1000                # ngonka
    initial_mlnode_version: v0.3.8
    validators:                      # each: mnemonic (+ optional index) or pub_key_hex; power
      - {mnemonic: "high rabbit ...", power: 10}
    accounts: {gonka1...: 1000000000}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, address_from_pubkey, validate_address
from harness.errors import ConfigError
from harness.versions import check_version

DEFAULT_BALANCE_NGONKA = 1_000_000_000_000


@dataclass(frozen=True)
class Validator:
    """A validator: its account key (the same secp256k1 key votes and signs blocks here) and its power."""

    pub_key: bytes
    power: int = 10
    name: str = "validator"

    @property
    def address(self) -> str:
        """The validator's `gonka1...` account address (it votes with this account)."""
        return address_from_pubkey(self.pub_key)

    @classmethod
    def from_mnemonic(cls, mnemonic: str, *, power: int = 10, index: int = 0, name: str = "validator") -> Validator:
        return cls(Key.from_mnemonic(mnemonic, index=index, name=name).public_key_bytes, power, name)


def _default_validators() -> list[Validator]:
    return [Validator.from_mnemonic(DEV_MNEMONIC, power=10, name="validator-0")]


def _default_accounts() -> dict[str, int]:
    return {
        Key.from_mnemonic(DEV_MNEMONIC).address: DEFAULT_BALANCE_NGONKA,
        Key.from_mnemonic(DEV_USER_MNEMONIC).address: DEFAULT_BALANCE_NGONKA,
    }


@dataclass
class Genesis:
    chain_id: str = "gonka-testnet"
    block_time_s: float = 0.2
    voting_period_blocks: int | None = 5
    voting_period_s: float | None = None
    min_deposit: int = 1000
    initial_mlnode_version: str = "v0.3.8"
    validators: list[Validator] = field(default_factory=_default_validators)
    accounts: dict[str, int] = field(default_factory=_default_accounts)
    epoch_length: int = 100
    moniker: str = "simnet"

    def __post_init__(self) -> None:
        if not isinstance(self.chain_id, str) or not self.chain_id.strip() or len(self.chain_id) > 50:
            raise ConfigError(f"genesis chain_id: {self.chain_id!r} must be a non-empty string of at most 50 characters")
        if not isinstance(self.block_time_s, int | float) or self.block_time_s < 0 or self.block_time_s > 60:
            raise ConfigError(f"genesis block_time_s: {self.block_time_s!r} must be a number of seconds in [0, 60]")
        if self.voting_period_s is not None:
            self.voting_period_blocks = None  # seconds win over the default block count
            if not isinstance(self.voting_period_s, int | float) or self.voting_period_s <= 0:
                raise ConfigError(f"genesis voting_period_s: {self.voting_period_s!r} must be a positive number of seconds")
        elif not isinstance(self.voting_period_blocks, int) or self.voting_period_blocks < 1:
            raise ConfigError(f"genesis voting_period_blocks: {self.voting_period_blocks!r} must be an integer >= 1")
        if not isinstance(self.min_deposit, int) or self.min_deposit < 1:
            raise ConfigError(f"genesis min_deposit: {self.min_deposit!r} must be an integer >= 1 (ngonka)")
        self.initial_mlnode_version = check_version(self.initial_mlnode_version, field="genesis initial_mlnode_version")
        if not self.validators:
            raise ConfigError("genesis validators: at least one validator is needed to produce blocks")
        for v in self.validators:
            if not isinstance(v.power, int) or v.power < 1:
                raise ConfigError(f"genesis validator {v.name}: power {v.power!r} must be an integer >= 1")
        for addr, bal in self.accounts.items():
            validate_address(addr, field=f"genesis accounts[{addr!r}]")
            if not isinstance(bal, int) or bal < 0:
                raise ConfigError(f"genesis accounts[{addr!r}]: balance {bal!r} must be an integer >= 0 (ngonka)")
        # Every validator votes with its account, so it must exist on chain.
        for v in self.validators:
            self.accounts.setdefault(v.address, 0)

    @property
    def total_power(self) -> int:
        return sum(v.power for v in self.validators)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "genesis") -> Genesis:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of genesis fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(f"{source}: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
        kwargs = dict(data)
        if "validators" in kwargs:
            kwargs["validators"] = [_validator(v, i, source) for i, v in enumerate(kwargs["validators"] or [])]
        if "accounts" in kwargs:
            if not isinstance(kwargs["accounts"], dict):
                raise ConfigError(f"{source} accounts: expected a mapping address -> balance, got {kwargs['accounts']!r}")
            kwargs["accounts"] = dict(kwargs["accounts"])
        if "voting_period_s" in kwargs and "voting_period_blocks" not in kwargs:
            kwargs["voting_period_blocks"] = None
        if kwargs.get("voting_period_s") is not None and kwargs.get("voting_period_blocks") is not None:
            raise ConfigError(f"{source}: set voting_period_blocks or voting_period_s, not both")
        try:
            return cls(**kwargs)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> Genesis:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise ConfigError(f"genesis file {p}: cannot read it ({e.strerror}); pass an existing JSON or YAML file") from None
        try:
            data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as e:
            raise ConfigError(f"genesis file {p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {e}") from None
        return cls.from_dict(data if data is not None else {}, source=f"genesis file {p}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "block_time_s": self.block_time_s,
            "voting_period_blocks": self.voting_period_blocks,
            "voting_period_s": self.voting_period_s,
            "min_deposit": self.min_deposit,
            "initial_mlnode_version": self.initial_mlnode_version,
            "validators": [{"pub_key_hex": v.pub_key.hex(), "power": v.power, "name": v.name} for v in self.validators],
            "accounts": dict(self.accounts),
            "epoch_length": self.epoch_length,
            "moniker": self.moniker,
        }

    def write(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2))
        return p


def _validator(spec: Any, i: int, source: str) -> Validator:
    where = f"{source} validators[{i}]"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping with mnemonic or pub_key_hex, and power; got {spec!r}")
    allowed = {"mnemonic", "index", "pub_key_hex", "power", "name"}
    for key in spec:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {', '.join(sorted(allowed))}")
    power, name = spec.get("power", 10), spec.get("name", f"validator-{i}")
    if ("mnemonic" in spec) == ("pub_key_hex" in spec):
        raise ConfigError(f"{where}: give exactly one of mnemonic or pub_key_hex")
    if "mnemonic" in spec:
        return Validator.from_mnemonic(spec["mnemonic"], power=power, index=int(spec.get("index", 0)), name=name)
    try:
        pub = bytes.fromhex(spec["pub_key_hex"])
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: pub_key_hex is not hex") from None
    if len(pub) != 33 or pub[0] not in (2, 3):
        raise ConfigError(f"{where}: pub_key_hex must be a 33-byte compressed secp256k1 key, got {len(pub)} bytes")
    return Validator(pub, power, name)
