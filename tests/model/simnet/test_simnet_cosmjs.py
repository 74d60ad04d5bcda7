"""simnet against a standard third-party client nobody here wrote: CosmJS (npm, pinned in tests/model/simnet/cosmjs/), over HTTP
and the websocket. The client sends tokens and a governance proposal (MsgCreatePartialUpgrade) plus its vote with
gas "auto", then tokens again with a zero gas price (`GasPrice.fromString("0ngonka")`: the fee is the coin
`0ngonka`, which a Gonka chain accepts and deducts nothing for), waits for each, subscribes to NewBlock,
NewBlockHeader and Tx; this test then checks on the chain itself that everything it reported happened."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.chain.keys import DEV_MNEMONIC, DEV_USER_MNEMONIC, Key, gov_module_address
from harness.chain.tx import decode_tx
from harness.model.simnet import Genesis, Simnet
from harness.model.simnet.genesis import DEFAULT_BALANCE_NGONKA
from harness.util.wait import wait_until
from tests.support import REPO

ROOT = REPO
CLIENT = Path(__file__).resolve().parent / "cosmjs" / "simnet_client.cjs"
SEND_AMOUNT = 12345
FREE_SEND_AMOUNT = 777  # the zero-fee send's amount (simnet_client.cjs)


@pytest.fixture(scope="module")
def cosmjs() -> Path:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed: the CosmJS client needs Node.js (apt-get install nodejs npm)")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "cosmjs.sh")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"installing CosmJS failed (scripts/cosmjs.sh, exit {done.returncode}):\n{done.stderr}"
    return CLIENT


def test_cosmjs_drives_simnet(cosmjs: Path) -> None:
    sender, recipient = Key.from_mnemonic(DEV_MNEMONIC), Key.from_mnemonic(DEV_USER_MNEMONIC)
    with Simnet(Genesis(block_time_s=0.1, voting_period_blocks=200), port=0) as net:
        wait_until(lambda: net.height >= 2, timeout_s=10, what="simnet height >= 2")
        env = {
            **os.environ,
            "SIMNET_RPC": net.rpc_url,
            "SIMNET_WS": net.rpc_url.replace("http://", "ws://"),  # CosmJS appends /websocket itself
            "SIMNET_MNEMONIC": DEV_MNEMONIC,
            "SIMNET_RECIPIENT": recipient.address,
            "SIMNET_GOV": gov_module_address(),
            "SIMNET_MIN_DEPOSIT": str(net.genesis.min_deposit),
            "SIMNET_UPGRADE_HEIGHT": str(net.height + 10_000),
        }
        done = subprocess.run(["node", str(cosmjs)], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"CosmJS client failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
        out = json.loads(done.stdout)
        store = net.node.state.store

        assert out["chain_id"] == "gonka-testnet"
        assert out["sender"] == sender.address  # same HD path and prefix as the harness's keys
        assert len(out["checks"]) == 13, out["checks"]
        # the send: exact balances on the chain, the fee went to the fee collector
        fee_collector = store.module_address("fee_collector")
        assert store.balances[recipient.address]["ngonka"] == DEFAULT_BALANCE_NGONKA + SEND_AMOUNT + FREE_SEND_AMOUNT
        fees = store.balances[fee_collector]["ngonka"]
        assert int(out["send"]["fee"]) > 0
        assert fees > int(out["send"]["fee"])  # three txs paid fees
        assert int(out["send"]["gas_used"]) <= int(out["send"]["gas_wanted"])  # "auto" = simulated gas x 1.4
        # the zero-gas-price send: the fee coin 0ngonka, accepted, and nothing but the amount left the sender
        free = out["free_send"]
        assert free["fee_coins"] == [{"denom": "ngonka", "amount": "0"}]
        assert free["fee_event"] == "0ngonka"
        assert int(free["before"]) - int(free["after"]) == FREE_SEND_AMOUNT
        assert store.balances[sender.address]["ngonka"] == int(free["after"])
        it = net.node.tx_index.get(bytes.fromhex(free["hash"]))
        assert it is not None
        assert (it.height, it.result.code) == (free["height"], 0)
        assert [(c.denom, c.amount) for c in decode_tx(it.raw).auth_info.fee.amount] == [("ngonka", "0")]
        # the proposal and the vote are on the chain as CosmJS reported them
        p = store.proposals[int(out["proposal"]["id"])]
        assert p.proposer == sender.address
        assert [m.type_url for m in p.messages] == ["/inference.inference.MsgCreatePartialUpgrade"]
        assert p.votes[sender.address] == [(1, 10**18)]  # YES, weight 1
        assert out["proposal"]["status"] == 2  # VOTING_PERIOD, read back through a raw gov v1 query
        for kind in ("send", "proposal", "vote"):
            it = net.node.tx_index.get(bytes.fromhex(out[kind]["hash"]))
            assert it is not None, kind
            assert (it.height, it.result.code) == (out[kind]["height"], 0), kind
        # websocket events arrived and match the chain
        ev = out["events"]
        assert ev["tx_height"] == out["send"]["height"]
        assert ev["tx_code"] == 0
        assert 1 <= ev["new_block_height"] <= net.height
        assert 1 <= ev["new_block_header_height"] <= net.height
