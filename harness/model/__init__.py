"""Our model of Gonka: `simnet` (a chain) and `apinode` (an API node with behaviour profiles).

The model stands in for the system under test where the real binaries are not used: fast, deterministic, with
knobs that reproduce known behaviours. The judge (audit, drive, backends' checks) never imports it; backends start
it as a process (`harness simnet`, `harness apinode`).
"""
