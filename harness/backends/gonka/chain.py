"""A real single-validator `inferenced` chain, initialised as upstream's genesis init does, on 127.0.0.1.

    chain = GonkaChain(bins, workdir / "chain", ChainParams(), public_url="http://127.0.0.1:9000")
    with chain:                                   # init (keys, genesis accounts, gentx, collect, overrides) + start
        chain.rpc_url                             # http://127.0.0.1:PORT, height >= 1
        chain.keys["genesis"]                     # the validator (also the API node's signer), a harness Key

Steps (each is an `inferenced` command in the run's private /root namespace, `--home <workdir>/home`):
`init`; keys `genesis` (validator and the participant's account), `genesis_warm` (ML operational address) and
`requester` (the account that pays for chat requests); genesis accounts; `genesis gentx` with the participant's
public URL and ML operational address where the binary supports them; `collect-gentxs`; `patch-genesis` where the
binary has it; the test parameters of `genesis.ChainParams`; `genesis validate`. Every listener is moved to an
allocated port on 127.0.0.1 and the block time is set by `timeout_commit`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Self

from harness.backends.gonka.binaries import GonkaBinaries
from harness.backends.gonka.genesis import MODEL_BASIC, MODEL_FULL, ChainParams, apply_overrides, native_denom
from harness.chain.keys import COIN_TYPE, Key
from harness.cometbft import RpcClient
from harness.errors import StartupError
from harness.util.ports import free_port
from harness.util.process import ManagedProcess
from harness.util.service import StartStop

KEYRING = ("--keyring-backend", "test")
GENESIS_FUNDS = 2_000_000_000_000_000_000
REQUESTER_FUNDS = 1_000_000_000_000_000
SELF_DELEGATION = 1_000_000


class GonkaChain(StartStop):
    def __init__(self, bins: GonkaBinaries, workdir: Path, params: ChainParams, *, public_url: str, log_dir: Path) -> None:
        self.bins = bins
        self.workdir = Path(workdir)
        self.home = self.workdir / "home"
        self.root = self.workdir / "root"  # the private /root of every command of this chain
        self.log_dir = Path(log_dir)
        self.params = params
        self.public_url = public_url
        self.ports = {name: free_port() for name in ("rpc", "p2p", "abci", "grpc", "api")}
        self.keys: dict[str, Key] = {}
        self.addresses: dict[str, str] = {}
        self.mnemonics: dict[str, str] = {}  # test keys of this throw-away chain (`harness up` writes them to a keyring)
        self.denom = os.environ.get("HARNESS_GONKA_DENOM", "")
        self.skipped_overrides: list[str] = []
        self.proc: ManagedProcess | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['rpc']}"

    # -- commands ----------------------------------------------------------------------------------------------------
    def run(self, *args: str, stdin: str | None = None, timeout_s: float = 120) -> str:
        """One `inferenced` command against this home; StartupError with its output when it fails."""
        argv = self.bins.argv("inferenced", *args, "--home", str(self.home), root=self.root)
        try:
            r = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=self.workdir,
                env={**os.environ, **self.bins.env()},
            )
        except subprocess.TimeoutExpired:
            raise StartupError(f"inferenced {' '.join(args)}: no answer in {timeout_s:.0f}s") from None
        if r.returncode != 0:
            raise StartupError(f"inferenced {' '.join(args)} exited {r.returncode}:\n{(r.stdout + r.stderr).strip()[-2000:]}")
        return r.stdout + r.stderr

    def help_of(self, *args: str) -> str:
        argv = self.bins.argv("inferenced", *args, "--help", root=self.root)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **self.bins.env()})
        return r.stdout + r.stderr

    # -- init ----------------------------------------------------------------------------------------------------------
    def init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        p = self.params
        self.run("init", "harness-node", "--chain-id", p.chain_id)
        genesis_path = self.home / "config" / "genesis.json"
        self.denom = self.denom or native_denom(json.loads(genesis_path.read_text()))
        # again with the chain's own coin as staking, mint and gov denom (what `--default-denom` sets)
        self.run("init", "harness-node", "--chain-id", p.chain_id, "--default-denom", self.denom, "--overwrite")
        for name in ("genesis", "genesis_warm", "requester"):
            # Gonka's coin type, as the harness derives keys from a mnemonic (some revisions default to 118)
            out = self.run("keys", "add", name, *KEYRING, "--coin-type", str(COIN_TYPE), "--output", "json")
            created = json.loads(out[out.index("{") :])
            self.addresses[name] = created["address"]
            self.mnemonics[name] = created["mnemonic"]
            key = Key.from_mnemonic(created["mnemonic"], name=name)
            if key.address != created["address"]:
                raise StartupError(f"key {name}: inferenced made {created['address']}, the harness derives {key.address}")
            self.keys[name] = key
        self.run("genesis", "add-genesis-account", "genesis", f"{GENESIS_FUNDS}{self.denom}", *KEYRING)
        self.run("genesis", "add-genesis-account", "requester", f"{REQUESTER_FUNDS}{self.denom}", *KEYRING)
        gentx = ["genesis", "gentx", "genesis", f"{SELF_DELEGATION}{self.denom}", "--chain-id", p.chain_id, *KEYRING]
        gentx += ["--moniker", "harness-node"]
        if "--url" in self.help_of("genesis", "gentx"):  # participants registered at genesis (newer revisions)
            gentx += ["--url", self.public_url, "--ml-operational-address", self.addresses["genesis_warm"]]
        self.run(*gentx)
        self.run("genesis", "collect-gentxs")
        if "patch-genesis" in self.help_of("genesis"):
            self.run("genesis", "patch-genesis")
        self._apply_params(genesis_path)
        self.configure_node()

    def _apply_params(self, genesis_path: Path) -> None:
        """Test parameters; the full model entry, or the basic one for revisions whose Model has fewer fields."""
        base = json.loads(genesis_path.read_text())
        for model in (MODEL_FULL, MODEL_BASIC):
            genesis = json.loads(json.dumps(base))
            self.skipped_overrides = apply_overrides(genesis, self.params.overrides(self.denom), model=model)
            genesis_path.write_text(json.dumps(genesis, indent=1))
            try:
                self.run("genesis", "validate")
                return
            except StartupError as e:
                if model is MODEL_BASIC or "unknown field" not in str(e):
                    raise

    def configure_node(self) -> None:
        """Every listener on this chain's allocated 127.0.0.1 ports, the block time, zero gas prices."""
        c, a = self.home / "config" / "config.toml", self.home / "config" / "app.toml"
        lo = "127.0.0.1"
        set_toml(c, "", "proxy_app", f"tcp://{lo}:{self.ports['abci']}")
        set_toml(c, "rpc", "laddr", f"tcp://{lo}:{self.ports['rpc']}")
        set_toml(c, "rpc", "pprof_laddr", "")
        set_toml(c, "p2p", "laddr", f"tcp://{lo}:{self.ports['p2p']}")
        set_toml(c, "p2p", "seeds", "")
        set_toml(c, "consensus", "timeout_commit", f"{self.params.timeout_commit_s * 1000:.0f}ms")
        set_toml(a, "", "minimum-gas-prices", f"0{self.denom}")
        set_toml(a, "api", "address", f"tcp://{lo}:{self.ports['api']}")
        set_toml(a, "grpc", "address", f"{lo}:{self.ports['grpc']}")
        client = self.home / "config" / "client.toml"
        set_toml(client, "", "chain-id", self.params.chain_id)
        set_toml(client, "", "keyring-backend", "test")
        set_toml(client, "", "node", f"tcp://{lo}:{self.ports['rpc']}")

    def adopt_keys(self, mnemonics: dict[str, str]) -> None:
        """The keys of a home made earlier (a snapshot's): the harness's Key objects from their mnemonics."""
        for name, mnemonic in mnemonics.items():
            key = Key.from_mnemonic(mnemonic, name=name)
            self.keys[name], self.mnemonics[name], self.addresses[name] = key, mnemonic, key.address

    # -- run -------------------------------------------------------------------------------------------------------------
    def start(self) -> Self:
        if not (self.home / "config" / "genesis.json").exists():
            self.init()
        self.proc = ManagedProcess(
            self.bins.argv("inferenced", "start", "--home", str(self.home), root=self.root),
            name="inferenced",
            log_path=self.log_dir / "inferenced.log",
            env=self.bins.env(),
            cwd=self.workdir,
            stop_timeout_s=10,
        )
        self.proc.start()

        rpc = RpcClient(self.rpc_url, timeout_s=2)
        try:
            self.proc.wait_ready(
                lambda: rpc.height() >= 1,
                timeout_s=60,
                what=f"the first block on the real chain's RPC {self.rpc_url}",
                hint="see the inferenced log; a genesis the binary refuses is reported there",
            )
        finally:
            rpc.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def account_pubkey(self, name: str = "genesis") -> str:
        """base64 of the compressed secp256k1 public key, as `keys show NAME --pubkey` prints it."""
        out = self.run("keys", "show", name, "--pubkey", *KEYRING)
        key = json.loads(out[out.index("{") :])["key"]
        if not isinstance(key, str):
            raise StartupError(f"`inferenced keys show {name} --pubkey`: its key is not a string: {out[-500:]}")
        return key


def set_toml(path: Path, section: str, key: str, value: str) -> None:
    """Set `key = "value"` in `[section]` ("" = top level) of a TOML file, keeping everything else as it is; a key
    the file lacks is added to its section."""
    lines = path.read_text().splitlines()
    current = ""
    start = end = None
    for i, line in enumerate(lines):
        m = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if m:
            if current == section and start is not None and end is None:
                end = i
            current = m.group(1).strip()
            if current == section:
                start = i + 1
            continue
        if current == section and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            lines[i] = f'{key} = "{value}"'
            path.write_text("\n".join(lines) + "\n")
            return
    if section == "":
        insert_at = next((i for i, line in enumerate(lines) if line.strip().startswith("[")), len(lines))
    else:
        insert_at = end if end is not None else len(lines)
        if start is None:
            lines.append(f"[{section}]")
            insert_at = len(lines)
        while start is not None and insert_at > start and not lines[insert_at - 1].strip():
            insert_at -= 1  # right after the section's last line, before the blank line that ends it
    lines.insert(insert_at, f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
