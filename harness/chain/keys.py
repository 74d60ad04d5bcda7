"""Keys for a `gonka` chain: secp256k1 from a BIP-39 mnemonic on path m/44'/1200'/0'/0/<index>.

cosmpy's path parser rejects components of more than three digits (1200), so the path is derived
index by index with `derive_master_key` / `derive_child_key_from_index`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import bech32
from cosmpy.crypto.address import Address
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.mnemonic import derive_child_key_from_index, derive_master_key, derive_seed_from_mnemonic

from harness.errors import ConfigError

BECH32_PREFIX = "gonka"
COIN_TYPE = 1200
DENOM = "ngonka"
HARDENED = 0x80000000

# The dev genesis's only validator. A fixed TEST mnemonic: anyone can sign with it, never use it for value.
DEV_MNEMONIC = (
    "high rabbit head treat gain jump buddy left maze ride expire reward pear swamp "
    "fall text blue spell little quit stand flush loud clay"
)
# A second funded, non-validator account (for tests that need a non-voting signer).
DEV_USER_MNEMONIC = (
    "usage actress heavy dolphin clock mirror race bike potato betray eight target real inch "
    "chuckle expose slab judge word tilt travel alcohol produce that"
)


@dataclass(frozen=True)
class Key:
    """A signing key with its `gonka1...` address."""

    private_key: PrivateKey = field(repr=False)
    name: str = "key"

    @classmethod
    def from_mnemonic(cls, mnemonic: str, *, index: int = 0, name: str = "key") -> Key:
        words = " ".join(mnemonic.split())
        if len(words.split()) not in (12, 15, 18, 21, 24):
            raise ConfigError(f"mnemonic for key {name!r}: expected 12-24 BIP-39 words, got {len(words.split())}")
        try:
            seed = derive_seed_from_mnemonic(words)
        except Exception as e:
            raise ConfigError(f"mnemonic for key {name!r} is not a valid BIP-39 phrase: {e}") from None
        priv, chain = derive_master_key(seed)
        for i in (44 | HARDENED, COIN_TYPE | HARDENED, 0 | HARDENED, 0, index):
            priv, chain = derive_child_key_from_index(priv, chain, i)
        return cls(PrivateKey(priv), name)

    @classmethod
    def from_hex(cls, hex_key: str, *, name: str = "key") -> Key:
        try:
            raw = bytes.fromhex(hex_key.strip())
        except ValueError:
            raise ConfigError(f"private key for {name!r} is not hex") from None
        if len(raw) != 32:
            raise ConfigError(f"private key for {name!r}: expected 32 bytes of hex, got {len(raw)}")
        return cls(PrivateKey(raw), name)

    @classmethod
    def from_env(cls, var: str, *, name: str | None = None) -> Key:
        value = os.environ.get(var)
        if not value:
            raise ConfigError(f"environment variable {var} is not set; export it with a 24-word mnemonic")
        return cls.from_mnemonic(value, name=name or var)

    @property
    def public_key_bytes(self) -> bytes:
        """Compressed secp256k1 public key (33 bytes)."""
        return self.private_key.public_key.public_key_bytes

    @property
    def address(self) -> str:
        return str(Address(self.private_key.public_key, prefix=BECH32_PREFIX))

    def sign(self, message: bytes) -> bytes:
        """64-byte r||s signature over sha256(message), as Cosmos SIGN_MODE_DIRECT expects."""
        return self.private_key.sign(message, deterministic=True, canonicalise=True)


def address_from_pubkey(pubkey: bytes, prefix: str = BECH32_PREFIX) -> str:
    """bech32(ripemd160(sha256(compressed pubkey)))."""
    h = hashlib.new("ripemd160", hashlib.sha256(pubkey).digest()).digest()
    return bech32.bech32_encode(prefix, bech32.convertbits(h, 8, 5))


def module_address(module: str, prefix: str = BECH32_PREFIX) -> str:
    """Module account address: bech32 of sha256(module)[:20] (gov -> gonka10d07y265g...)."""
    h = hashlib.sha256(module.encode()).digest()[:20]
    return bech32.bech32_encode(prefix, bech32.convertbits(h, 8, 5))


def gov_module_address(prefix: str = BECH32_PREFIX) -> str:
    return module_address("gov", prefix)


def validate_address(addr: str, prefix: str = BECH32_PREFIX, *, field: str = "address") -> bytes:
    """Decode a bech32 address and return its 20 raw bytes; ConfigError if malformed or wrong prefix."""
    hrp, data = bech32.bech32_decode(addr)
    if hrp is None or data is None:
        raise ConfigError(f"{field}: {addr!r} is not a valid bech32 address")
    if hrp != prefix:
        raise ConfigError(f"{field}: {addr!r} has prefix {hrp!r}, expected {prefix!r}")
    raw = bech32.convertbits(data, 5, 8, False)
    return bytes(raw or b"")
