"""Scenarios: runbooks over the harness fixtures (testnet, upgrade, chain, api, mlnodes); mechanics are in harness/."""
