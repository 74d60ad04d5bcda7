"""Test parameters for a real single-validator Gonka chain, applied to the binary's own default genesis.

Upstream's test net shortens governance and epochs with a genesis override file; these are the same kind of
values, sized for a harness run (a voting period of a few seconds, an epoch of 60 half-second blocks). An override
is applied only where the binary's default genesis has the key, so one table serves revisions whose genesis differs
(a key the binary does not know would make `genesis validate` fail); what was left out is returned so the caller
can log it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

MODEL_ID = "Qwen/Qwen2.5-7B-Instruct"
# The model the MLNode mocks serve, with the fields newer revisions require; older ones know only the first three.
MODEL_BASIC = {"proposed_by": "genesis", "id": MODEL_ID, "units_of_compute_per_token": "100"}
MODEL_FULL = {
    **MODEL_BASIC,
    "hf_repo": MODEL_ID,
    "hf_commit": "a09a35458c702b33eeacc393d103063234e8bc28",
    "model_args": ["--quantization", "fp8"],
    "v_ram": "24",
    "throughput_per_nonce": "10000",
    "validation_threshold": {"value": "85", "exponent": -2},
}


@dataclass(frozen=True)
class ChainParams:
    """What the harness sets on a real chain. Block time is CometBFT's timeout_commit (config.toml, not genesis)."""

    chain_id: str = "gonka-harness"
    timeout_commit_s: float = 0.5
    voting_period_s: float = 4.0
    # PoC phases in blocks. A participant whose PoC batch or validation misses its window loses its weight, and a
    # single-validator chain without an active participant never gets one back: the windows leave room for a
    # loaded machine (upstream's test values, 4/1/1/4 blocks, are sized for 5 s blocks).
    # 60 blocks: besides the PoC phases (23 blocks, and 3 to reconcile) an epoch leaves 34 blocks in which an upgrade's
    # holds fit whole (block B held 3 s after B-1, B+1 up to 10 s: 26 blocks); a node whose holds ran into a PoC phase
    # processed its start 13 s late, missed the phase and lost its weight (seen with 40)
    epoch_length: int = 60
    poc_stage: int = 8
    poc_exchange: int = 4
    poc_validation_delay: int = 2
    poc_validation: int = 8
    set_new_validators_delay: int = 1
    start_version: str = "v0.3.8"

    def overrides(self, denom: str) -> dict[str, Any]:
        return {
            "app_state": {
                "bank": {"denom_metadata": [denom_metadata(denom)]},
                "gov": {
                    "params": {
                        "min_deposit": [{"denom": denom, "amount": "1000"}],
                        "expedited_min_deposit": [{"denom": denom, "amount": "2000"}],
                        "voting_period": f"{self.voting_period_s:g}s",
                        "expedited_voting_period": f"{self.voting_period_s / 2:g}s",
                    }
                },
                "inference": {
                    "params": {
                        "epoch_params": {
                            "epoch_length": str(self.epoch_length),
                            "poc_stage_duration": str(self.poc_stage),
                            "poc_exchange_duration": str(self.poc_exchange),
                            "poc_validation_delay": str(self.poc_validation_delay),
                            "poc_validation_duration": str(self.poc_validation),
                            "set_new_validators_delay": str(self.set_new_validators_delay),
                        },
                        "validation_params": {"expiration_blocks": "10"},
                    },
                    "mlnode_version": {"current_version": self.start_version},
                },
            }
        }


def denom_metadata(denom: str) -> dict[str, Any]:
    """Bank metadata for the chain's coin (the inference module refuses to start without it): nX, uX, mX, X."""
    display = denom[1:] if denom.startswith("n") else denom
    units = [(denom, 0), (f"u{display}", 3), (f"m{display}", 6), (display, 9)]
    return {
        "description": f"{display}, the chain's coin",
        "base": denom,
        "display": display,
        "name": display,
        "symbol": display.upper(),
        "denom_units": [{"denom": d, "exponent": e, "aliases": []} for d, e in units],
    }


def apply_overrides(genesis: dict[str, Any], overrides: dict[str, Any], *, model: dict[str, Any]) -> list[str]:
    """Merge `overrides` into `genesis` where the key exists; put `model` in the inference model list. Returns the
    dotted paths of overrides the binary's genesis has no key for (left out)."""
    skipped: list[str] = []
    _merge_existing(genesis, overrides, "", skipped)
    inference = genesis.get("app_state", {}).get("inference")
    if isinstance(inference, dict) and "model_list" in inference:
        inference["model_list"] = [copy.deepcopy(model)]
    else:
        skipped.append("app_state.inference.model_list")
    return skipped


def _merge_existing(target: dict[str, Any], source: dict[str, Any], path: str, skipped: list[str]) -> None:
    for key, value in source.items():
        where = f"{path}.{key}" if path else key
        if key not in target:
            skipped.append(where)
        elif isinstance(value, dict) and isinstance(target[key], dict):
            _merge_existing(target[key], value, where, skipped)
        else:
            target[key] = copy.deepcopy(value)


def native_denom(genesis: dict[str, Any]) -> str:
    """The chain's base coin, from the inference module's supply denom ("ngonka"; older revisions name the display
    unit, "icoin", whose base is "nicoin"). HARNESS_GONKA_DENOM overrides it (see GonkaChain)."""
    supply = str(genesis.get("app_state", {}).get("inference", {}).get("genesis_only_params", {}).get("supply_denom", ""))
    if not supply:
        return "ngonka"
    return supply if supply.startswith("n") else f"n{supply}"
