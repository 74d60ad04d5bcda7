"""Fault proxy for the API node's chain connection: faults, targets, history, control API, checkers."""

from harness.chaos.checkers import (
    ChaosReport,
    failed_calls,
    hung_calls,
    last_fault_ms,
    longest_failure_streak,
    pool_back_to_n,
    time_to_heal_ms,
)
from harness.chaos.control import ChaosControl
from harness.chaos.faults import (
    FAILED_OUTCOMES,
    FAULTS,
    Blackhole,
    CloseIdle,
    Eof,
    Fault,
    FaultSpec,
    Latency,
    Outcome,
    Refuse,
    Reset,
    Stage,
    WsDrop,
    make_fault,
)
from harness.chaos.history import Decision, ProxiedRequest, as_records
from harness.chaos.process import ChaosProxyProcess
from harness.chaos.proxy import ChaosProxy
from harness.chaos.targets import FaultWindowSpec, Target

__all__ = [
    "FAILED_OUTCOMES",
    "FAULTS",
    "Blackhole",
    "ChaosControl",
    "ChaosProxy",
    "ChaosProxyProcess",
    "ChaosReport",
    "CloseIdle",
    "Decision",
    "Eof",
    "Fault",
    "FaultSpec",
    "FaultWindowSpec",
    "Latency",
    "Outcome",
    "ProxiedRequest",
    "Refuse",
    "Reset",
    "Stage",
    "Target",
    "WsDrop",
    "as_records",
    "failed_calls",
    "hung_calls",
    "last_fault_ms",
    "longest_failure_streak",
    "make_fault",
    "pool_back_to_n",
    "time_to_heal_ms",
]
