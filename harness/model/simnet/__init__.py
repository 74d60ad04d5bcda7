"""simnet: the embedded chain. CometBFT 0.38 JSON-RPC and /websocket on 127.0.0.1, real signed Cosmos txs with
SDK v0.53 ante checks, fees and gas; bank, gov v1 (tally over bonded tokens of one or more validators), read-only
staking queries, and the inference module's partial upgrades. The README's "The embedded chain" section lists
what it serves and refuses."""

from harness.model.simnet.genesis import Genesis, Validator
from harness.model.simnet.server import Simnet, SimnetProcess

__all__ = ["Genesis", "Simnet", "SimnetProcess", "Validator"]
