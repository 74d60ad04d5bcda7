"""simnet: the embedded chain. CometBFT 0.38 JSON-RPC and /websocket on 127.0.0.1, real signed Cosmos txs,
gov v1 proposals/deposits/votes, and the inference module's partial-upgrade EndBlock logic."""

from harness.model.simnet.genesis import Genesis, Validator
from harness.model.simnet.server import Simnet, SimnetProcess

__all__ = ["Genesis", "Simnet", "SimnetProcess", "Validator"]
