"""simnet driven by Gonka's own CLI, the real `inferenced` binary (`--node tcp://...`): bank balances and a send
with `--fees 0ngonka` (accepted, nothing deducted), the partial-upgrade proposal through gov with `--from` and a
test keyring, its vote, the proposal, vote, tally and partial-upgrade queries; a bare
`tx inference create-partial-upgrade` is refused by the chain's authority check.

Runs only when HARNESS_GONKA_BIN names a directory holding an `inferenced` built from a gonka checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, gov_module_address
from harness.chain.tx import decode_tx
from harness.model.simnet import Genesis, Simnet
from harness.model.simnet.gov import ST_PASSED
from harness.util.wait import wait_until

GONKA_BIN = os.environ.get("HARNESS_GONKA_BIN", "")
INFERENCED = Path(GONKA_BIN) / "inferenced" if GONKA_BIN else None
pytestmark = pytest.mark.skipif(
    INFERENCED is None or not os.access(INFERENCED, os.X_OK),
    reason="set HARNESS_GONKA_BIN to a directory holding an inferenced binary built from a gonka checkout",
)
DEV, USER = Key.from_mnemonic(DEV_MNEMONIC), Key.from_mnemonic(DEV_USER_MNEMONIC)


class Cli:
    """`inferenced` with its own HOME (the test keyring lives there: autocli tx commands read the default home)."""

    def __init__(self, home: Path, node: str) -> None:
        self.env = {**os.environ, "HOME": str(home)}
        self.node = node

    def run(self, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(INFERENCED), *args]
        done = subprocess.run(argv, input=stdin, env=self.env, capture_output=True, text=True, timeout=60)
        if ok:
            why = "\n".join(
                ln for ln in done.stderr.splitlines() if ln and not ln.startswith((" ", "Usage:", "Flags:", "Global"))
            )
            assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}: {why[-2000:]}"
        return done

    def query(self, *args: str) -> dict:
        return json.loads(self.run("query", *args, "--node", self.node, "-o", "json").stdout)

    def tx(self, *args: str, fees: str = "5000ngonka") -> dict:
        common = ("--from", "dev", "--keyring-backend", "test", "--chain-id", "gonka-testnet", "--node", self.node)
        out = self.run("tx", *args, *common, "--gas", "auto", "--gas-adjustment", "1.5", "--fees", fees, "-y", "-o", "json")
        res = json.loads(out.stdout)
        assert res["code"] == 0, res
        return wait_until(lambda: self._included(res["txhash"]), timeout_s=20, what=f"tx {res['txhash']} in a block")

    def _included(self, txhash: str) -> dict | None:
        done = self.run("query", "tx", txhash, "--node", self.node, "-o", "json", ok=False)
        return json.loads(done.stdout) if done.returncode == 0 else None


def attribute(tx: dict, event_type: str, key: str) -> str:
    return next(a["value"] for e in tx["events"] if e["type"] == event_type for a in e["attributes"] if a["key"] == key)


def send_with_zero_fee(cli: Cli, net: Simnet) -> None:
    """`tx bank send --fees 0ngonka`: accepted, and only the amount leaves the sender. The SDK's client parses
    --fees with ParseCoinsNormalized, which drops zero coins, so the tx carries no fee coins at all."""
    balances = net.node.state.store.balances
    before = balances[DEV.address]["ngonka"], balances[USER.address]["ngonka"]
    sent = cli.tx("bank", "send", "dev", USER.address, "777ngonka", fees="0ngonka")
    assert sent["code"] == 0
    assert attribute(sent, "tx", "fee") == ""
    indexed = net.node.tx_index.get(bytes.fromhex(sent["txhash"]))
    assert indexed is not None
    assert list(decode_tx(indexed.raw).auth_info.fee.amount) == []
    balances = net.node.state.store.balances
    assert (balances[DEV.address]["ngonka"], balances[USER.address]["ngonka"]) == (before[0] - 777, before[1] + 777)


def test_inferenced_cli_against_simnet(tmp_path: Path) -> None:
    with Simnet(Genesis(block_time_s=0.1, voting_period_blocks=80), port=0) as net:
        wait_until(lambda: net.height >= 2, timeout_s=10, what="simnet height >= 2")
        cli = Cli(tmp_path, net.rpc_url.replace("http://", "tcp://"))
        cli.run("keys", "add", "dev", "--recover", "--coin-type", "1200", "--keyring-backend", "test", stdin=DEV_MNEMONIC + "\n")

        balances = cli.query("bank", "balances", DEV.address)["balances"]
        assert balances == [{"denom": "ngonka", "amount": str(net.node.state.store.balances[DEV.address]["ngonka"])}]
        send_with_zero_fee(cli, net)

        assert cli.query("auth", "module-account", "gov")["account"]["value"]["address"] == gov_module_address()
        validators = cli.query("staking", "validators")["validators"]
        assert [(v["tokens"], v["status"]) for v in validators] == [("10000000", 3)]  # bonded: what gov tallies over
        assert cli.query("staking", "pool")["pool"]["bonded_tokens"] == "10000000"
        h = net.height + 500
        proposal = {
            "messages": [
                {
                    "@type": "/inference.inference.MsgCreatePartialUpgrade",
                    "authority": gov_module_address(),
                    "height": str(h),
                    "nodeVersion": "v0.3.9",
                    "apiBinariesJson": "",
                }
            ],
            "metadata": "",
            "deposit": f"{net.genesis.min_deposit}ngonka",
            "title": "Partial upgrade to v0.3.9",
            "summary": f"MLNode v0.3.9 from block {h}",
            "expedited": False,
        }
        (tmp_path / "proposal.json").write_text(json.dumps(proposal))
        submitted = cli.tx("gov", "submit-proposal", str(tmp_path / "proposal.json"))
        pid = attribute(submitted, "submit_proposal", "proposal_id")
        cli.tx("gov", "vote", pid, "yes")
        assert cli.query("gov", "vote", pid, DEV.address)["vote"]["options"] == [{"option": 1, "weight": "1.000000000000000000"}]
        assert cli.query("gov", "tally", pid)["tally"]["yes_count"] == "10000000"

        wait_until(
            lambda: net.node.state.store.proposals[int(pid)].status == ST_PASSED, timeout_s=30, what=f"proposal {pid} passed"
        )
        shown = cli.query("gov", "proposal", pid)["proposal"]
        assert (shown["status"], shown["messages"][0]["value"]["nodeVersion"]) == (ST_PASSED, "v0.3.9")
        listed = cli.query("inference", "list-partial-upgrade")["partialUpgrade"]
        assert [(u["height"], u["node_version"]) for u in listed] == [(str(h), "v0.3.9")]
        assert cli.query("inference", "show-partial-upgrade", str(h))["partialUpgrade"]["node_version"] == "v0.3.9"

        # without gov, the inference module's authority check refuses it (in Simulate, before broadcasting)
        common = ("--from", "dev", "--keyring-backend", "test", "--chain-id", "gonka-testnet", "--node", cli.node)
        bare = cli.run(
            "tx", "inference", "create-partial-upgrade", str(h + 1), "v0.3.10", "", *common, "--gas", "auto", "-y", ok=False
        )
        assert bare.returncode != 0
        assert f"invalid authority; expected {gov_module_address()}, got {DEV.address}" in bare.stderr + bare.stdout
        if "ml-node-version" in cli.run("query", "inference", "--help").stdout:  # PR #228's query
            assert cli.query("inference", "ml-node-version")["mlnode_version"]["current_version"] == "v0.3.8"
