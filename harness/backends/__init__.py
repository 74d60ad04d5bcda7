"""Backends: where a testnet comes from. Every one returns a testnet that keeps the Testnet contract.

    contract.py      the Testnet contract scenarios and the CLI use (Testnet, TestnetInfo, Capability, participants)
    base.py          what every backend's testnet shares (BaseTestnet, TestnetRequest, teardown, journal resets)
    registry.py      one entry per backend; every dispatch on --backend reads it
    factory.py       pytest's testnets: made through the registry, tracked, closed at session end
    embedded/        the model chain and API node as local processes (the default)
    docker/          the same as containers, or the upstream images; images/ builds the local images
    external.py      a testnet somebody else runs, described by an env file
    gonka/           your real inferenced and decentralized-api
    mocks.py         the MLNode mocks of a local testnet (embedded, gonka); participants.py the participant types
"""
