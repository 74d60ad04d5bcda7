"""The lifecycle modes of an MLNode mock (what a test asks for; harness/mlnode/README.md "Lifecycle modes" says how
they are built in WireMock). Light: RunOptions, NodeSpec and ParticipantSpec carry it.

    testnet_with(mlnode_lifecycle=MLNodeLifecycle(exclusive=True))              every MLNode of the testnet
    ParticipantSpec(lifecycle=MLNodeLifecycle(slow_start_s=3))                   one participant's MLNodes
    NodeSpec("mlnode-2", lifecycle=MLNodeLifecycle(exclusive=True))             one MLNode
    harness up --mlnode-exclusive --mlnode-slow-start 3
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import ConfigError

MAX_SLOW_START_S = 600.0


@dataclass(frozen=True)
class MLNodeLifecycle:
    """How an MLNode mock treats its versions (harness/mlnode/README.md, "Lifecycle modes"). The default: every version
    independent and ready.

    exclusive: one version at a time, as on one GPU: `inference/up`, `pow/init/*` and `train/start` on a version are
    refused (409) while another version of the same MLNode is in INFERENCE, POW or TRAIN, until that one got its
    `POST /<version>/api/v1/stop`; a version not in INFERENCE answers chats 503 (single topology only).
    slow_start_s: every version but the start one is a container still loading: from its first request on it answers
    every request 503 `{"detail": "loading"}` for this many seconds (0: ready at once)."""

    exclusive: bool = False
    slow_start_s: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.exclusive, bool):
            raise ConfigError(f"mlnode lifecycle exclusive: expected true or false, got {self.exclusive!r}")
        s = self.slow_start_s
        if isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s) or not 0 <= s <= MAX_SLOW_START_S:
            raise ConfigError(f"mlnode lifecycle slow_start_s: expected seconds from 0 to {MAX_SLOW_START_S:g}, got {s!r}")
        object.__setattr__(self, "slow_start_s", float(s))

    @property
    def default(self) -> bool:
        return not self.exclusive and not self.slow_start_s

    def describe(self) -> str:
        modes = (["exclusive"] if self.exclusive else []) + ([f"slow start {self.slow_start_s:g} s"] if self.slow_start_s else [])
        return ", ".join(modes) or "independent versions, ready at once"


def resolve_lifecycle(*choices: MLNodeLifecycle | None) -> MLNodeLifecycle:
    """The first lifecycle given (a node's, its participant's, the run's), else the default."""
    for c in choices:
        if c is not None:
            if not isinstance(c, MLNodeLifecycle):
                raise ConfigError(f"mlnode lifecycle: expected an MLNodeLifecycle, got {c!r}")
            return c
    return MLNodeLifecycle()
