"""Tests of harness/model/simnet: state, JSON-RPC surface, transactions and their refusals, fees, validators, the CLI
process, and third-party clients (CosmJS in cosmjs/, Gonka's `inferenced`)."""
