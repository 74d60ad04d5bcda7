"""The `embedded` backend (the default): the model chain and API node(s) and the MLNode mocks as local processes.

    testnet.py      EmbeddedTestnet: one chain, 1..N participants, a chaos proxy each
    participant.py  one participant: its MLNode mocks, its API node, its proxy
"""

from harness.backends.embedded.testnet import EmbeddedTestnet

__all__ = ["EmbeddedTestnet"]
