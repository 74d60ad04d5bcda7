"""The `gonka` backend: the user's real Gonka binaries (`--gonka-bin DIR`) as local processes."""

from harness.backends.gonka.binaries import GonkaBinaries
from harness.backends.gonka.genesis import ChainParams
from harness.backends.gonka.testnet import CAPABILITIES, GonkaTestnet

__all__ = ["CAPABILITIES", "ChainParams", "GonkaBinaries", "GonkaTestnet"]
