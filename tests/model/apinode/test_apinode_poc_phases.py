"""The model API node's PoC cycle (the harness's on-demand management traffic): one phase per block, but a phase is
left only once every enabled node reached it, so a reconcile that had not run yet when the next block came cannot
skip `pow/init/generate` (seen on a loaded machine: the hop then waited in vain for the generated batch)."""

from __future__ import annotations

import asyncio

from harness.model.apinode.broker import PHASE_WAIT_BLOCKS, Broker
from harness.model.apinode.config import NodeConfig


def broker_with(*ids: str) -> Broker:
    b = Broker(current_version=lambda: "v0.3.8", status_poll_s=1, reconcile_s=1, poc_every_blocks=0,
               callback_url=lambda: "http://127.0.0.1:1")  # fmt: skip
    for i in ids:
        b.register(NodeConfig(id=i, host="127.0.0.1", poc_port=1, inference_port=1))
    return b


def reach(b: Broker, node: str, poc: str) -> None:
    """What the reconcile records once the node runs PoC phase `poc`."""
    st = b.nodes[node].state
    st.current_status, st.poc_current_status = "POC", poc


def test_a_phase_waits_for_its_nodes_then_moves_on_one_block_at_a_time():
    async def run() -> None:
        b = broker_with("n1", "n2")
        b.request_poc_cycle()
        await b.on_block(10, "AA")
        assert b.poc_phase == "GENERATING"
        await b.on_block(11, "AB")  # no node generating yet: the reconcile has not run
        await b.on_block(12, "AC")
        assert b.poc_phase == "GENERATING"
        reach(b, "n1", "GENERATING")
        await b.on_block(13, "AD")
        assert b.poc_phase == "GENERATING"  # n2 still not there
        reach(b, "n2", "GENERATING")
        await b.on_block(14, "AE")
        assert b.poc_phase == "VALIDATING"
        assert {e.state.poc_intended_status for e in b.nodes.values()} == {"VALIDATING"}
        await b.on_block(15, "AF")
        assert b.poc_phase == "VALIDATING"  # neither node validating yet

    asyncio.run(run())


def test_a_failed_or_disabled_node_does_not_hold_the_phase_and_a_stuck_one_only_for_a_while():
    async def run() -> None:
        b = broker_with("n1", "n2", "n3")
        b.request_poc_cycle()
        await b.on_block(10, "AA")
        reach(b, "n1", "GENERATING")
        b.nodes["n2"].state.current_status = "FAILED"
        b.nodes["n3"].state.enabled = False
        await b.on_block(11, "AB")
        assert b.poc_phase == "VALIDATING"
        # n1 never gets to VALIDATING: the phase waits PHASE_WAIT_BLOCKS blocks, then moves on
        for h in range(12, 12 + PHASE_WAIT_BLOCKS):
            await b.on_block(h, "AC")
        assert b.poc_phase == "VALIDATING"
        b.spawn = lambda coro: coro.close()  # validate_batches would call the (absent) MLNodes
        await b.on_block(12 + PHASE_WAIT_BLOCKS, "AD")
        assert b.poc_phase == "VALIDATE_BATCHES"

    asyncio.run(run())
