"""The chain's epochs and PoC phases, from its own parameters: what makes a real API node call its MLNodes.

A Gonka chain starts a PoC phase every `epoch_length` blocks. In it the API node stops its MLNodes' inference and
runs PoC on them (state, stop, pow/init/generate, pow/status, pow/init/validate, pow/validate), then brings them back
(state, stop, inference/up) once the new epoch group is set. A real node with one MLNode answers no chat while that
runs: such failures belong to the chain's PoC window and are named so, never hidden in a blanket tolerance.

    epochs = ChainEpochs.from_chain(testnet.chain)
    epochs.window_at(123)          # PocWindow(start=120, end=145) or None
    epochs.next_window_after(123)  # the first PoC phase starting after height 123
    epochs.quiet_height(130)       # the first height >= 130 that is not in (or right before) a PoC phase
    epochs.quiet_height(130, room=8)   # ... and neither are the 8 blocks after it
    epochs.inside_poc(130)         # the first height >= 130 a third of the way into a PoC phase
"""

from __future__ import annotations

from dataclasses import dataclass

# Blocks after the new epoch group is set until the API node has reconciled its MLNodes back to inference.
RECONCILE_BLOCKS = 3
# Blocks before a PoC phase in which a switch is not placed (the API node prepares the phase one block early).
LEAD_BLOCKS = 2


@dataclass(frozen=True)
class PocWindow:
    """Heights [start, end] in which the chain's PoC phase keeps the API node's MLNodes away from inference."""

    epoch_start: int
    start: int
    end: int

    def __contains__(self, height: int) -> bool:
        return self.start <= height <= self.end

    def name(self) -> str:
        return f"chain PoC phase starting at block {self.start} (blocks {self.start}-{self.end})"


@dataclass(frozen=True)
class ChainEpochs:
    epoch_length: int
    epoch_shift: int
    poc_blocks: int  # from PoC start to the new epoch group: stage + exchange + validation delay + validation + set

    @classmethod
    def from_chain(cls, chain) -> ChainEpochs:
        p = chain.epoch_params()
        if p.epoch_length <= 0:
            raise ValueError(f"the chain's epoch_length is {p.epoch_length}; it runs no PoC epochs")
        phases = (
            p.poc_stage_duration
            + p.poc_exchange_duration
            + p.poc_validation_delay
            + p.poc_validation_duration
            + p.set_new_validators_delay
        )
        return cls(epoch_length=p.epoch_length, epoch_shift=p.epoch_shift, poc_blocks=phases)

    def poc_start_at_or_after(self, height: int) -> int:
        first = self.epoch_length - self.epoch_shift
        if height <= first:
            return first
        k = -(-(height - first) // self.epoch_length)
        return first + k * self.epoch_length

    def window(self, poc_start: int) -> PocWindow:
        return PocWindow(poc_start, poc_start, poc_start + self.poc_blocks + RECONCILE_BLOCKS)

    def window_at(self, height: int) -> PocWindow | None:
        """The PoC window `height` lies in, if any."""
        start = self.poc_start_at_or_after(height - self.poc_blocks - RECONCILE_BLOCKS)
        w = self.window(start)
        return w if height in w else None

    def next_window_after(self, height: int) -> PocWindow:
        return self.window(self.poc_start_at_or_after(height + 1))

    def quiet_height(self, height: int, *, room: int = 0) -> int:
        """The first height >= `height` such that it and the `room` blocks after it lie outside every PoC window and
        not in the LEAD_BLOCKS before one."""
        room = min(room, self.epoch_length - self.poc_blocks - RECONCILE_BLOCKS - LEAD_BLOCKS - 2)  # what an epoch has
        h = height
        while True:
            w = next(filter(None, (self.window_at(x) for x in range(h, h + room + LEAD_BLOCKS + 1))), None)
            if w is None:
                return h
            h = w.end + 1

    def inside_poc(self, height: int) -> int:
        """The first height >= `height` that lies a third of the way into a PoC phase (its MLNodes run PoC then):
        where an upgrade height inside a PoC phase is put."""
        into = max(1, self.poc_blocks // 3)
        return self.poc_start_at_or_after(height - into) + into

    def windows_between(self, lo: int, hi: int) -> list[PocWindow]:
        out, start = [], self.poc_start_at_or_after(max(lo - self.poc_blocks - RECONCILE_BLOCKS, 0))
        while start <= hi:
            out.append(self.window(start))
            start += self.epoch_length
        return out
