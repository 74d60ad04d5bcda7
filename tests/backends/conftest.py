"""Tests of harness/backends: the embedded testnet and network, the docker backend (options, helpers, images, docker-
compose.yml), the external backend against a testnet `harness up` started, and --keep-env's state file."""
