"""The harness's keyring: which signing key `harness upgrade --from NAME` means.

File: ~/.harness/keys.json (or $HARNESS_KEYRING, or `--keyring FILE`), a JSON object name -> mnemonic:

    {
      "alice": "word1 word2 ... word24",
      "val2":  {"mnemonic": "word1 ... word24", "index": 1}
    }

`index` is the BIP-44 address index on m/44'/1200'/0'/0/<index> (default 0). Built in, always present:
`dev` = the dev genesis validator (harness.chain.keys.DEV_MNEMONIC; a public TEST key, never for value).
`--from env:VARNAME` reads the mnemonic from an environment variable instead of the file.
`harness keys add NAME --mnemonic-env VAR` writes an entry (the file is created with mode 0600).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from harness.chain.keys import DEV_MNEMONIC, Key
from harness.errors import ConfigError

BUILTIN: dict[str, str] = {"dev": DEV_MNEMONIC}
ENV_PREFIX = "env:"


def default_path() -> Path:
    env = os.environ.get("HARNESS_KEYRING")
    return Path(env).expanduser() if env else Path.home() / ".harness" / "keys.json"


@dataclass(frozen=True)
class KeyEntry:
    name: str
    mnemonic: str = field(repr=False)
    index: int = 0
    builtin: bool = False


@dataclass
class Keyring:
    path: Path
    entries: dict[str, KeyEntry]

    @classmethod
    def load(cls, path: Path | str | None = None) -> Keyring:
        """Read the file (a missing file is an empty keyring); ConfigError naming the entry that is malformed."""
        p = Path(path).expanduser() if path else default_path()
        entries = {n: KeyEntry(n, m, builtin=True) for n, m in BUILTIN.items()}
        try:
            text = p.read_text()
        except FileNotFoundError:
            return cls(p, entries)
        except OSError as e:
            raise ConfigError(f"keyring {p}: cannot read it ({e.strerror}); check the path or pass --keyring FILE") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"keyring {p}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"keyring {p}: expected a JSON object name -> mnemonic, got {type(doc).__name__}")
        for name, value in doc.items():
            entries[name] = _entry(p, name, value)
        return cls(p, entries)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def key(self, ref: str) -> Key:
        """`NAME` from the keyring or `env:VARNAME`; ConfigError listing the known names when unknown."""
        if ref.startswith(ENV_PREFIX):
            var = ref[len(ENV_PREFIX) :]
            if not var:
                raise ConfigError("--from env:VARNAME: the variable name is empty; e.g. --from env:GONKA_MNEMONIC")
            return Key.from_env(var, name=ref)
        entry = self.entries.get(ref)
        if entry is None:
            raise ConfigError(
                f"--from {ref!r}: unknown key name; known names: {', '.join(self.names())} (keyring {self.path}). "
                f"Add one with `harness keys add {ref} --mnemonic-env VAR`, or use --from env:VARNAME"
            )
        return Key.from_mnemonic(entry.mnemonic, index=entry.index, name=ref)

    def add(self, name: str, mnemonic: str, *, index: int = 0) -> KeyEntry:
        if not name or name.startswith(ENV_PREFIX) or name in BUILTIN:
            raise ConfigError(
                f"key name {name!r}: must be non-empty, not start with 'env:' and not be a built-in ({', '.join(BUILTIN)})"
            )
        Key.from_mnemonic(mnemonic, index=index, name=name)  # validate before writing
        entry = KeyEntry(name, " ".join(mnemonic.split()), index)
        self.entries[name] = entry
        self.save()
        return entry

    def save(self) -> None:
        doc = {
            e.name: (e.mnemonic if e.index == 0 else {"mnemonic": e.mnemonic, "index": e.index})
            for e in self.entries.values()
            if not e.builtin
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, self.path)


def _entry(path: Path, name: str, value: object) -> KeyEntry:
    if not name or name.startswith(ENV_PREFIX):
        raise ConfigError(f"keyring {path}: key name {name!r} must be non-empty and not start with 'env:'")
    if isinstance(value, str):
        return KeyEntry(name, value)
    if isinstance(value, dict) and isinstance(value.get("mnemonic"), str):
        index = value.get("index", 0)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ConfigError(f"keyring {path}: {name}.index must be an integer >= 0, got {index!r}")
        unknown = set(value) - {"mnemonic", "index"}
        if unknown:
            raise ConfigError(f"keyring {path}: {name} has unknown fields {sorted(unknown)}; allowed: mnemonic, index")
        return KeyEntry(name, value["mnemonic"], index)
    raise ConfigError(f'keyring {path}: {name} must be a mnemonic string or {{"mnemonic": ..., "index": n}}, got {value!r}')
