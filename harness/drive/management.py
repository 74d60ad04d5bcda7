"""Management traffic across a hop, a mixin of UpgradeRunner (hop.py): admin disable/enable of an MLNode and a PoC
cycle through a participant's API node (the model), or the chain's own PoC phases (a real chain), each recorded as a
window in which refused chats are the hop's own doing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.backends.contract import Capability
from harness.drive.epochs import ChainEpochs
from harness.drive.traffic import ExcusedWindow
from harness.util.wait import wait_until


class ManagementTraffic:
    """Forces management traffic on the testnet `tn` and records its windows in `windows` (set by UpgradeRunner)."""

    tn: Any
    windows: list[ExcusedWindow]
    epochs: ChainEpochs | None
    progress: Callable[[str], None]

    def kick_management(self, node_id: str, participant: str | None = None) -> None:
        """Force management traffic: admin disable then enable (through the participant's API node; default the
        first), waiting for the reconcile to finish. Chats refused meanwhile are the hop's own doing: the span is
        recorded as the window "admin disable <node>" of that participant."""
        part = self.tn.participant(participant)
        api = part.api
        start = self.tn.now_ms()
        try:
            api.disable(node_id)
            wait_until(lambda: _status(api, node_id) == "STOPPED", timeout_s=15, what=f"{node_id} STOPPED after disable")
            api.enable(node_id)
            wait_until(lambda: _status(api, node_id) == "INFERENCE", timeout_s=15, what=f"{node_id} INFERENCE after enable")
        finally:
            self.windows.append(ExcusedWindow(f"admin disable {node_id}", start, self.tn.now_ms(), self._tag(part.id)))

    def poc_phase(self, participant: str | None = None) -> None:
        """Force PoC traffic (stop, pow/init/generate, pow/init/validate, pow/validate, inference/up) on one
        participant's API node (default the first) and wait for the MLNodes' generated-batch webhook and the return to
        INFERENCE. Reference API node only."""
        part = self.tn.participant(participant)
        api = part.api
        start = self.tn.now_ms()
        try:
            before = len(api.poc_batches()["generated"])
            api.poc_cycle()
            wait_until(
                lambda: len(api.poc_batches()["generated"]) > before,
                timeout_s=20,
                what="a PoC generated batch posted back by the MLNode mock",
                evidence=lambda: str(api.debug_state()),
            )
            wait_until(lambda: api.debug_state().get("poc_phase") == "IDLE", timeout_s=20, what="PoC cycle finished")
            for node in part.mlnodes:
                wait_until(lambda n=node.id: _status(api, n) == "INFERENCE", timeout_s=20, what=f"{node.id} INFERENCE after PoC")
        finally:
            where = f" on {part.id}" if self._tag(part.id) else ""
            self.windows.append(ExcusedWindow(f"PoC cycle{where}", start, self.tn.now_ms(), self._tag(part.id)))

    def _tag(self, participant_id: str) -> str:
        """The participant a window or chat belongs to: "" on a testnet of one participant (reports unchanged)."""
        return participant_id if len(self.tn.participants) > 1 else ""

    def _management(self, poc: bool, kick: bool) -> None:
        """Management traffic on every participant, the participants side by side: admin disable/enable of each of its
        MLNodes, then a PoC cycle."""

        def one(part) -> None:
            if kick:
                for node in part.mlnodes:
                    self.kick_management(node.id, part.id)
            if poc:
                self.poc_phase(part.id)

        parts = self.tn.participants
        if len(parts) == 1:
            one(parts[0])
            return
        with ThreadPoolExecutor(len(parts), thread_name_prefix="hop-management") as pool:
            for f in [pool.submit(one, p) for p in parts]:
                f.result()  # the first failure (in participant order) is raised

    def chain_poc_windows(self, start_ms: int, end_ms: int) -> list[ExcusedWindow]:
        """The chain's PoC phases that overlap [start_ms, end_ms], named, from one block before the phase starts (the
        API node prepares it then) to the block after it ends: a real node with one MLNode serves no chat in them."""
        assert self.epochs is not None
        blocks = self.tn.timeline.blocks()
        if not blocks:
            return []
        times = {b.height: b.block_time_ms for b in blocks}
        inside = [b.height for b in blocks if start_ms <= b.block_time_ms <= end_ms] or [blocks[-1].height]
        out = []
        for w in self.epochs.windows_between(min(inside) - 1, max(inside) + 1):
            lo = times.get(w.start - 1) or times.get(w.start)
            hi = times.get(w.end + 1) or end_ms
            if lo is not None and lo <= end_ms and hi >= start_ms:
                out.append(ExcusedWindow(w.name(), lo, hi))
        return out

    def chain_poc_after(self, height: int) -> None:
        """Wait until the chain's first PoC phase after `height` is over and the API node serves again: that phase
        is a real node's management traffic (state, stop, PoC, inference/up)."""
        assert self.epochs is not None
        w = self.epochs.next_window_after(height)
        self.progress(f"waiting for the chain's PoC phase at blocks {w.start}-{w.end} (management traffic)")
        self.tn.rpc.wait_for_height(w.end + 1)

    def drive_management(self) -> None:
        """Management traffic now, by what the backend offers: admin disable/enable of every MLNode and a PoC cycle on
        every participant (the model), else the chain's next PoC phase (a real chain)."""
        kick = Capability.ADMIN_RECONCILE in self.tn.capabilities
        poc = Capability.POC_ON_DEMAND in self.tn.capabilities
        if kick or poc:
            self._management(poc, kick)
        elif self.epochs is not None:  # its PoC phases are windows in which the node refuses chats, as the hop's own
            start = self.tn.now_ms()
            self.chain_poc_after(self.tn.rpc.height())
            self.windows += self.chain_poc_windows(start, self.tn.now_ms())

    def wait_quiet(self) -> None:
        """On a chain with PoC phases, until a height outside them (a real node with one MLNode answers no chat inside
        one); at once elsewhere."""
        if self.epochs is not None:
            self.tn.rpc.wait_for_height(self.epochs.quiet_height(self.tn.rpc.height()))


def _status(api: Any, node_id: str) -> str | None:
    """The MLNode's current status as the API node lists it (None when it lists no such node)."""
    for n in api.nodes():
        if n["node"]["id"] == node_id:
            return n["state"]["current_status"]
    return None
