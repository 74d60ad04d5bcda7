"""Chain connection pool: EOF on one slot, all slots dead, healing, deadlines; against real sockets."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.errors import ChainError
from harness.model.apinode.chainpool import ChainPool, NoHealthyConnections
from tests.model.apinode.apinode_support import RawRpcServer


async def until(pred, *, timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


def test_eof_on_one_slot_calls_succeed_through_others():
    async def body():
        bad, good = await RawRpcServer().start(), await RawRpcServer().start()
        bad.modes = {"status": "eof"}  # health answers, real calls get EOF: the failure shows only mid-call
        pool = ChainPool([bad.url, good.url, good.url], size=3, healing=True, health_interval_s=30, call_timeout_s=2)
        await pool.start()
        try:
            assert pool.snapshot()["healthy"] == 3
            heights = [await pool.latest_height() for _ in range(9)]
            assert heights == [5] * 9
            snap = pool.snapshot()
            assert snap["failures"] >= 1, snap  # slot 0 was tried and failed with EOF
            assert ("status", "eof") in bad.log
            assert "EOF" in snap["slots"][0]["last_error"]
            assert sum(m == "status" for m, _ in good.log) == 9
        finally:
            await pool.close()
            await bad.close()
            await good.close()

    asyncio.run(body())


def test_dead_slot_skipped_by_health_check_and_start_degrades():
    async def body():
        bad, good = await RawRpcServer().start(), await RawRpcServer().start()
        bad.default = "eof"
        pool = ChainPool([bad.url, good.url, good.url], size=3, healing=False, health_interval_s=30, call_timeout_s=2)
        await pool.start()  # graceful degradation: starts with 2/3
        try:
            snap = pool.snapshot()
            assert (snap["size"], snap["healthy"]) == (3, 2)
            for _ in range(6):
                assert await pool.latest_height() == 5
            assert not any(m == "status" for m, _ in bad.log)  # get_client never handed out the dead slot
        finally:
            await pool.close()
            await bad.close()
            await good.close()

    asyncio.run(body())


def test_all_dead_fails_fast_then_healer_restores_n():
    async def body():
        srv = await RawRpcServer().start()
        # a call timeout far above any load-induced delay: failing fast is then told apart from timing out
        pool = ChainPool(srv.url, size=3, healing=True, health_interval_s=0.1, call_timeout_s=30, ping_timeout_s=0.3)
        await pool.start()
        try:
            assert pool.snapshot()["healthy"] == 3
            srv.default = "eof"
            await until(lambda: pool.snapshot()["healthy"] == 0, timeout_s=5, what="all slots unhealthy")
            t0 = time.monotonic()
            with pytest.raises(NoHealthyConnections) as e:
                await pool.call("status")
            assert time.monotonic() - t0 < 10, "it waited for the call timeout instead of failing at once"
            assert "no healthy chain connections available (0/3 healthy; last errors:" in str(e.value)
            srv.default = "ok"
            await until(lambda: pool.snapshot()["healthy"] == 3, timeout_s=5, what="healer back to 3 healthy slots")
            snap = pool.snapshot()
            assert snap["replaced"] >= 3
            assert all(s["generation"] >= 1 for s in snap["slots"])
            assert await pool.latest_height() == 5
        finally:
            await pool.close()
            await srv.close()

    asyncio.run(body())


def test_no_call_hangs_past_its_deadline():
    async def body():
        srv = await RawRpcServer().start()
        srv.modes = {"status": "hang"}
        pool = ChainPool(srv.url, size=2, healing=False, health_interval_s=30, call_timeout_s=0.5)
        await pool.start()
        try:
            t0 = time.monotonic()
            results = await asyncio.gather(*(pool.call("status") for _ in range(5)), return_exceptions=True)
            elapsed = time.monotonic() - t0
            assert all(isinstance(r, ChainError) for r in results), results
            # every call returned (no hang) with the deadline's error; a bound far below the test timeout, not a speed test
            assert elapsed < 10, f"calls took {elapsed:.2f} s with a 0.5 s deadline"
            assert "timeout" in str(results[0]) or "deadline" in str(results[0])
        finally:
            await pool.close()
            await srv.close()

    asyncio.run(body())


def test_round_robin_spreads_calls():
    async def body():
        srv = await RawRpcServer().start()
        pool = ChainPool(srv.url, size=3, healing=False, health_interval_s=30)
        await pool.start()
        try:
            for _ in range(9):
                await pool.call("status")
            assert [s["calls"] for s in pool.snapshot()["slots"]] == [3, 3, 3]
        finally:
            await pool.close()
            await srv.close()

    asyncio.run(body())
