"""simnet's genesis: chain id, block time, validators with their voting power, funded accounts, gov v1 params and
the initial MLNode version.

The default dev genesis has one validator, the account of `harness.chain.keys.DEV_MNEMONIC` (power 10), and
two funded accounts (the validator and `DEV_USER_MNEMONIC`). `Genesis.with_validators(n)` makes n validators
(keys `dev_validator_keys(n)`: the dev mnemonic at indexes 0..n-1). A file (JSON or YAML) may set any field:

    chain_id: gonka-testnet
    block_time_s: 0.2
    voting_period_blocks: 5          # or voting_period_s: 1.0 (exactly one of the two)
    min_deposit: 1000                # ngonka
    initial_mlnode_version: v0.3.8
    validators:                      # each: mnemonic (+ optional index) or pub_key_hex; power
      - {mnemonic: "high rabbit ...", power: 10}
    accounts: {gonka1...: 1000000000}
    gov: {quorum: "0.334", threshold: "0.5", veto_threshold: "0.334"}   # the SDK's defaults
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, address_from_pubkey, validate_address
from harness.errors import ConfigError
from harness.model.simnet.numbers import MAX_UINT256, parse_dec
from harness.validate import as_int, as_number
from harness.versions import check_version

DEFAULT_BALANCE_NGONKA = 1_000_000_000_000
POWER_REDUCTION = 1_000_000  # tokens per unit of consensus power (the SDK's DefaultPowerReduction)
MAX_VALIDATORS = 100
BOND_DENOM = "ngonka"


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

    @property
    def tokens(self) -> int:
        """Bonded tokens (ngonka): what its votes weigh in a gov tally."""
        return self.power * POWER_REDUCTION

    @classmethod
    def from_mnemonic(cls, mnemonic: str, *, power: int = 10, index: int = 0, name: str = "validator") -> Validator:
        return cls(Key.from_mnemonic(mnemonic, index=index, name=name).public_key_bytes, power, name)


def dev_validator_keys(n: int) -> list[Key]:
    """The signing keys of `Genesis.with_validators(n)`: the dev mnemonic at indexes 0..n-1."""
    as_int(n, "validator count", lo=1, hi=MAX_VALIDATORS)
    return [Key.from_mnemonic(DEV_MNEMONIC, index=i, name=f"validator-{i}") for i in range(n)]


def _default_validators() -> list[Validator]:
    return [Validator.from_mnemonic(DEV_MNEMONIC, power=10, name="validator-0")]


def _default_accounts() -> dict[str, int]:
    return {
        Key.from_mnemonic(DEV_MNEMONIC).address: DEFAULT_BALANCE_NGONKA,
        Key.from_mnemonic(DEV_USER_MNEMONIC).address: DEFAULT_BALANCE_NGONKA,
    }


@dataclass(frozen=True)
class GovParams:
    """gov v1 tally and deposit params (decimals as strings, as the SDK stores them); defaults are the SDK's."""

    quorum: str = "0.334"
    threshold: str = "0.5"
    veto_threshold: str = "0.334"
    expedited_threshold: str = "0.667"
    min_initial_deposit_ratio: str = "0"
    min_deposit_ratio: str = "0.01"
    burn_vote_quorum: bool = False
    burn_vote_veto: bool = True
    burn_proposal_deposit_prevote: bool = False
    max_deposit_period_s: float = 172800.0

    def __post_init__(self) -> None:
        for name, lo_open in (("quorum", False), ("threshold", True), ("veto_threshold", True), ("expedited_threshold", True)):
            dec = parse_dec(getattr(self, name), f"genesis gov.{name}")
            if dec > 10**18 or (lo_open and dec <= 0) or dec < 0:
                raise ConfigError(f"genesis gov.{name}: {getattr(self, name)!r} must be in {'(0' if lo_open else '[0'}, 1]")
        for name in ("min_initial_deposit_ratio", "min_deposit_ratio"):
            if not 0 <= parse_dec(getattr(self, name), f"genesis gov.{name}") <= 10**18:
                raise ConfigError(f"genesis gov.{name}: {getattr(self, name)!r} must be in [0, 1]")
        for name in ("burn_vote_quorum", "burn_vote_veto", "burn_proposal_deposit_prevote"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"genesis gov.{name}: {getattr(self, name)!r} must be true or false")
        as_number(self.max_deposit_period_s, "genesis gov.max_deposit_period_s", lo=1e-3, hi=10 * 365 * 86400)

    def dec(self, name: str) -> int:
        """The param as an 18-decimal fixed-point integer (LegacyDec)."""
        return parse_dec(getattr(self, name), name)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> GovParams:
        if isinstance(data, GovParams):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"{source} gov: expected a mapping of gov params, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ConfigError(f"{source} gov: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
        return cls(**data)


@dataclass
class Genesis:
    chain_id: str = "gonka-testnet"
    block_time_s: float = 0.2
    # Around an upgrade height H (a partial upgrade stored for it): H comes at least `pre_upgrade_hold_s` after H-1,
    # and H+1 at least `upgrade_hold_s` after H (0: the usual block time). A test chain's way of giving "switched at
    # H-1", "at H" and "at H+1" distinct times on a loaded machine.
    upgrade_hold_s: float = 0.0
    pre_upgrade_hold_s: float = 0.0
    voting_period_blocks: int | None = 5
    voting_period_s: float | None = None
    min_deposit: int = 1000
    initial_mlnode_version: str = "v0.3.8"
    validators: list[Validator] = field(default_factory=_default_validators)
    accounts: dict[str, int] = field(default_factory=_default_accounts)
    epoch_length: int = 100
    moniker: str = "simnet"
    gov: GovParams = field(default_factory=GovParams)
    strict_node_versions: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.chain_id, str) or not self.chain_id.strip() or len(self.chain_id) > 50:
            raise ConfigError(f"genesis chain_id: {self.chain_id!r} must be a non-empty string of at most 50 characters")
        as_number(self.block_time_s, "genesis block_time_s", lo=0, hi=60)
        as_number(self.upgrade_hold_s, "genesis upgrade_hold_s", lo=0, hi=60)
        as_number(self.pre_upgrade_hold_s, "genesis pre_upgrade_hold_s", lo=0, hi=60)
        if self.voting_period_s is not None:
            self.voting_period_blocks = None  # seconds win over the default block count
            as_number(self.voting_period_s, "genesis voting_period_s", lo=1e-3, hi=365 * 86400)
        else:
            as_int(self.voting_period_blocks, "genesis voting_period_blocks", lo=1, hi=10**6)
        as_int(self.min_deposit, "genesis min_deposit (ngonka)", lo=1, hi=MAX_UINT256)
        as_int(self.epoch_length, "genesis epoch_length", lo=1, hi=10**9)
        self.initial_mlnode_version = check_version(self.initial_mlnode_version, field="genesis initial_mlnode_version")
        if not isinstance(self.strict_node_versions, bool):
            raise ConfigError(f"genesis strict_node_versions: {self.strict_node_versions!r} must be true or false")
        self.gov = GovParams.from_dict(self.gov, "genesis")
        self._check_validators()
        for addr, bal in self.accounts.items():
            validate_address(addr, field=f"genesis accounts[{addr!r}]")
            as_int(bal, f"genesis accounts[{addr!r}] balance (ngonka)", lo=0, hi=MAX_UINT256)
        # Every validator votes with its account, so it must exist on chain.
        for v in self.validators:
            self.accounts.setdefault(v.address, 0)

    def _check_validators(self) -> None:
        if not self.validators:
            raise ConfigError("genesis validators: at least one validator is needed to produce blocks")
        if len(self.validators) > MAX_VALIDATORS:
            raise ConfigError(f"genesis validators: {len(self.validators)} given, simnet runs at most {MAX_VALIDATORS}")
        seen: set[bytes] = set()
        for v in self.validators:
            as_int(v.power, f"genesis validator {v.name} power", lo=1, hi=2**62 // POWER_REDUCTION)
            if v.pub_key in seen:
                raise ConfigError(f"genesis validator {v.name}: the same key is given twice; every validator needs its own key")
            seen.add(v.pub_key)

    @classmethod
    def with_validators(cls, n: int, *, powers: list[int] | None = None, **kwargs: Any) -> Genesis:
        """n validators, keys `dev_validator_keys(n)`, each funded; powers default to 10 each."""
        keys = dev_validator_keys(n)
        powers = powers if powers is not None else [10] * n
        if len(powers) != n:
            raise ConfigError(f"Genesis.with_validators: {n} validators but {len(powers)} powers given")
        validators = [Validator(k.public_key_bytes, p, k.name) for k, p in zip(keys, powers, strict=True)]
        accounts = {**_default_accounts(), **{k.address: DEFAULT_BALANCE_NGONKA for k in keys}}
        return cls(validators=validators, accounts={**accounts, **kwargs.pop("accounts", {})}, **kwargs)

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
            if not isinstance(kwargs["validators"], list | None):
                raise ConfigError(f"{source} validators: expected a list, got {kwargs['validators']!r}")
            kwargs["validators"] = [_validator(v, i, source) for i, v in enumerate(kwargs["validators"] or [])]
        if "accounts" in kwargs:
            if not isinstance(kwargs["accounts"], dict):
                raise ConfigError(f"{source} accounts: expected a mapping address -> balance, got {kwargs['accounts']!r}")
            kwargs["accounts"] = {str(k): v for k, v in kwargs["accounts"].items()}
        if "gov" in kwargs:
            kwargs["gov"] = GovParams.from_dict(kwargs["gov"], source)
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
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            raise ConfigError(f"genesis file {p}: cannot read it ({why}); pass an existing JSON or YAML file") from None
        try:
            data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, RecursionError, yaml.YAMLError) as e:
            raise ConfigError(f"genesis file {p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {e}") from None
        return cls.from_dict(data if data is not None else {}, source=f"genesis file {p}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "block_time_s": self.block_time_s,
            "upgrade_hold_s": self.upgrade_hold_s,
            "pre_upgrade_hold_s": self.pre_upgrade_hold_s,
            "voting_period_blocks": self.voting_period_blocks,
            "voting_period_s": self.voting_period_s,
            "min_deposit": self.min_deposit,
            "initial_mlnode_version": self.initial_mlnode_version,
            "validators": [{"pub_key_hex": v.pub_key.hex(), "power": v.power, "name": v.name} for v in self.validators],
            "accounts": dict(self.accounts),
            "epoch_length": self.epoch_length,
            "moniker": self.moniker,
            "gov": {f.name: getattr(self.gov, f.name) for f in fields(GovParams)},
            "strict_node_versions": self.strict_node_versions,
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
    as_int(power, f"{where} power", lo=1, hi=2**62 // POWER_REDUCTION)
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ConfigError(f"{where} name: {name!r} must be a string of 1-64 characters")
    if ("mnemonic" in spec) == ("pub_key_hex" in spec):
        raise ConfigError(f"{where}: give exactly one of mnemonic or pub_key_hex")
    if "mnemonic" in spec:
        if not isinstance(spec["mnemonic"], str):
            raise ConfigError(f"{where} mnemonic: expected a string of BIP-39 words")
        index = spec.get("index", 0)
        as_int(index, f"{where} index", lo=0, hi=2**31 - 1)
        return Validator.from_mnemonic(spec["mnemonic"], power=power, index=index, name=name)
    try:
        pub = bytes.fromhex(spec["pub_key_hex"])
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: pub_key_hex is not hex") from None
    if len(pub) != 33 or pub[0] not in (2, 3):
        raise ConfigError(f"{where}: pub_key_hex must be a 33-byte compressed secp256k1 key, got {len(pub)} bytes")
    return Validator(pub, power, name)
