"""Mechanics every backend shares: the reference API node's config file, the wait for the MLNodes to reach
INFERENCE, resetting the mock journals, a teardown that runs every step even when one fails, and starting parts side by
side."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.backends.participants import MLNodeEndpoint
from harness.util.wait import wait_until

if TYPE_CHECKING:
    from harness.drive.api import ApiClient


def now_ms() -> int:
    return int(time.time() * 1000)


def write_reference_api_config(
    cfg_dir: Path,
    *,
    chain_url: str,
    start_version: str,
    profile: str,
    intervals: dict[str, float],
    api: dict[str, object],
    profile_overrides: dict[str, Any] | None = None,
) -> Path:
    """config.yaml for `harness apinode` (upstream key names); state and ready files live next to it."""
    cfg_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "chain_node": {"url": chain_url},
        "current_node_version": start_version,
        "last_used_version": start_version,
        "nodes": [],
        "api": api,
        "intervals": intervals,
        "profile": profile,
        "profile_overrides": dict(profile_overrides or {}),
        "state_file": str(cfg_dir / "state.yaml"),
        "ready_file": str(cfg_dir / "ready.json"),
    }
    path = cfg_dir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def config_lists_nodes(config_path: Path, mlnodes: Iterable[MLNodeEndpoint]) -> None:
    """Put the MLNodes into the reference API node's config file (`nodes`), as an operator's config lists them: an API
    node starting without state (its first start) then knows them before it syncs and acts on the chain's version."""
    config = yaml.safe_load(config_path.read_text())
    config["nodes"] = [n.registration() for n in mlnodes]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def wait_nodes_inference(api: ApiClient, node_ids: Iterable[str], *, timeout_s: float) -> None:
    """Wait until GET /admin/v1/nodes shows every given node with current_status INFERENCE."""
    ids = set(node_ids)
    seen: dict[str, str] = {}

    def all_inference() -> bool:
        states = {n["node"]["id"]: n["state"]["current_status"] for n in api.nodes()}
        seen.clear()
        seen.update(states)
        return all(states.get(i) == "INFERENCE" for i in ids)

    wait_until(
        all_inference,
        timeout_s=timeout_s,
        what=f"MLNodes {sorted(ids)} INFERENCE in GET /admin/v1/nodes",
        evidence=lambda: json.dumps(api.nodes(), indent=1)[:2000],
        hint="check the API node log and the WireMock journal for the reconcile calls",
        progress=lambda: ", ".join(f"{i} {seen.get(i, '?')}" for i in sorted(ids)),
    )


def reset_journals(mlnodes: list[MLNodeEndpoint], *, scenarios: bool) -> None:
    """Clear every mock journal; with `scenarios`, also reset the mocks' per-version state machines."""
    from harness.mlnode import Journal

    for node in mlnodes:
        for url in node.journals.values():
            Journal(url).reset(scenarios=scenarios)


def teardown(label: str, steps: Iterable[Callable[[], object]]) -> None:
    """Run every step even if an earlier one fails; failures are printed (teardown must not hide the test's error)."""
    for step in steps:
        try:
            step()
        except Exception as e:
            print(f"{label} teardown: {getattr(step, '__name__', step)} failed: {type(e).__name__}: {e}")


def side_by_side(calls: Iterable[Callable[[], object]]) -> None:
    """Run the calls concurrently (e.g. every participant's start); wait for all, then raise the first failure in the
    order given, so the caller's teardown stops whatever did start."""
    from concurrent.futures import ThreadPoolExecutor

    calls = list(calls)
    if len(calls) <= 1:
        for call in calls:
            call()
        return
    with ThreadPoolExecutor(len(calls), thread_name_prefix="side-by-side") as pool:
        for f in [pool.submit(c) for c in calls]:
            f.result()
