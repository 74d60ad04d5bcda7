"""Embedded reference API node: behaves like Gonka's decentralized-api where MLNode upgrades are concerned.

from harness.model.apinode import ApiNode, ApiNodeConfig, ApiNodeProcess, PROFILES
"""

from harness.model.apinode.config import ApiNodeConfig, NodeConfig
from harness.model.apinode.node import ApiNode, ApiNodeProcess
from harness.model.apinode.profiles import PROFILES, Profile, resolve_profile

__all__ = ["PROFILES", "ApiNode", "ApiNodeConfig", "ApiNodeProcess", "NodeConfig", "Profile", "resolve_profile"]
