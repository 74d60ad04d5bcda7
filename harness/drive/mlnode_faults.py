"""MLNode faults around the switch, and their judgement (harness/mlnode/faults.py makes the WireMock stubs).

    window = MLNodeFaultWindow(testnet, [MLNodeFault("reset", "v0.3.8")], first_block=-1, end_block=2)
    hop = runner.hop("v0.3.9", on_scheduled=window.open)    # installed at block H-1, removed at block H+2
    window.close()
    outcome = judge_faults(hop, testnet, window, recovery_ms=...)
    assert not outcome.problems, "\n".join(outcome.problems)

The judgement, on top of a clean hop (hop_problems, with the fault's span as a window of its own in which user chats
may fail): the fault hit requests (else it proved nothing); a retry of a user chat went to the version expected when
it was sent (the prefix audit judges every attempt; `retried` lists them); no request reached a version after the
node's own stop of it (beyond the contract's in-flight allowance); every user chat that failed in the fault's span
failed with a clear error (a 5xx whose JSON `error` names the MLNode or why none was available).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace

from harness.drive.assertions import hop_problems
from harness.drive.traffic import ExcusedWindow
from harness.mlnode.faults import MLNodeFault
from harness.mlnode.journal import Journal
from harness.util.wait import wait_until


class MLNodeFaultWindow:
    """Faults on every MLNode of every participant from block H + first_block to block H + end_block, each counted
    when the block reached every API node (where a proxy times it; else when the chain made it), driven by one
    bounded thread started by open(H)."""

    def __init__(self, testnet, faults: list[MLNodeFault], *, first_block: int = -1, end_block: int = 2) -> None:
        if end_block <= first_block:
            raise ValueError(f"MLNodeFaultWindow: end_block {end_block} must come after first_block {first_block}")
        self.tn, self.faults = testnet, list(faults)
        self.first_block, self.end_block = first_block, end_block
        self.height: int | None = None
        self.installed_ms: int | None = None
        self.removed_ms: int | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._installed: list[tuple[str, str]] = []  # (admin url, stub id)

    def describe(self) -> str:
        return (
            f"MLNode fault ({'; '.join(f.describe() for f in self.faults)}) blocks H{self.first_block:+d}..H{self.end_block:+d}"
        )

    def open(self, height: int) -> None:
        self.height = height
        self._thread = threading.Thread(target=self._run, name="mlnode-fault-window", daemon=True)
        self._thread.start()

    def _reached(self, h: int) -> bool:
        """Block h made by the chain and delivered to every API node whose chain connection a proxy times (its holds
        delay blocks around H, so the chain's own height runs ahead of what the nodes have seen)."""
        if self.tn.rpc.height() < h:
            return False
        return all(p.chain_proxy is None or p.chain_proxy.deliveries(h) for p in self.tn.participants)

    def _wait_height(self, h: int) -> None:
        bt = self.tn.info.block_time_s
        wait_until(lambda: self._reached(h), timeout_s=30 + 10 * bt * max(1, h - self.tn.rpc.height()),
                   interval_s=0.02, what=f"block {h} at every API node, for the MLNode fault window")  # fmt: skip

    def _run(self) -> None:
        assert self.height is not None
        try:
            self._wait_height(self.height + self.first_block)
            self._install()
            self._wait_height(self.height + self.end_block)
        except BaseException as e:  # reported by close()
            self.error = e
        finally:
            self._remove()

    def _targets(self):
        for node in self.tn.all_mlnodes():
            for key, url in node.journals.items():
                for f in self.faults:
                    if key == "*":
                        yield url, f, False
                    elif key == f.version:  # side-by-side: that version's own WireMock
                        yield url, f, True

    def _install(self) -> None:
        for url, f, own in self._targets():
            Journal(url).add_mappings(f.stubs(own_wiremock=own))
            self._installed.append((url, f.stub_id(own_wiremock=own)))
        self.installed_ms = self.tn.now_ms()

    def _remove(self) -> None:
        installed, self._installed = self._installed, []
        for url, stub_id in installed:
            Journal(url).remove_mapping(stub_id)
        if installed:
            self.removed_ms = self.tn.now_ms()

    def close(self) -> None:
        """Wait for the window to end (it ends by itself at block H + end_block), make sure nothing stays installed,
        and raise what went wrong in it."""
        if self._thread is not None:
            self._thread.join(60)
        self._remove()
        if self.error is not None:
            raise self.error
        if self.installed_ms is None:
            raise AssertionError(f"{self.describe()}: never installed (open(H) was not called, or H was never reached)")

    def as_window(self, recovery_ms: int) -> ExcusedWindow:
        """The span users may see failures in: while installed, and `recovery_ms` after (the node's own recovery)."""
        if self.installed_ms is None or self.removed_ms is None:
            raise AssertionError(f"{self.describe()}: it has not run (open(H), then close())")
        return ExcusedWindow(self.describe(), self.installed_ms, self.removed_ms + recovery_ms)


@dataclass
class FaultOutcome:
    problems: list[str]
    faulted: int  # requests the fault answered (reset, 5xx, timeout)
    retried: dict[str, list[str]] = field(default_factory=dict)  # user prompt -> the versions its attempts used


def judge_faults(hop, testnet, window: MLNodeFaultWindow, *, recovery_ms: int) -> FaultOutcome:
    span = window.as_window(recovery_ms)
    problems = hop_problems(replace(hop, windows=[*hop.windows, span]), testnet)
    entries = [e for n in testnet.all_mlnodes() for url in n.journals.values() for e in _journal(url)]
    faulted = sum(1 for e in entries if str((e.get("stubMapping") or {}).get("name", "")).startswith("fault "))
    if not faulted:
        problems.append(f"{window.describe()}: the fault answered no request, so it proved nothing")
    retried = _retries(entries)
    problems += _after_stop(hop)
    for f in hop.chat_failures:
        if span.overlaps(f) and not _clear(f.result.status, f.result.body):
            problems.append(f"a user chat failed without a clear error in {span.name}: {f.describe()}")
    return FaultOutcome(problems, faulted, retried)


def _journal(url: str) -> list[dict]:
    j = Journal(url)
    try:
        return j.requests()
    finally:
        j.close()


def _retries(entries: list[dict]) -> dict[str, list[str]]:
    """{user prompt: the version prefix of each attempt} for prompts the API node sent more than once."""
    attempts: dict[str, list[tuple[int, str]]] = {}
    for e in entries:
        req = e.get("request") or {}
        url = str(req.get("url", ""))
        if not url.endswith("/v1/chat/completions"):
            continue
        try:
            prompt = json.dumps(json.loads(req.get("body") or "{}").get("messages"))
        except ValueError:
            continue
        attempts.setdefault(prompt, []).append((int(req.get("loggedDate", 0)), url.split("/")[1]))
    return {p: [v for _, v in sorted(a)] for p, a in attempts.items() if len(a) > 1}


def _after_stop(hop) -> list[str]:
    """Requests to the old version logged after the node's own stop of it, beyond the in-flight allowance."""
    allowance = hop.audit.contract.inflight_ms
    out = []
    for o in hop.orders:
        if o.stop_ms is None:
            continue
        late = [r for r in hop.audit.records if r.node_key == o.node and r.version_seen == o.old_version
                and r.logged_ms > o.stop_ms + allowance and not r.path.endswith("/api/v1/stop")]  # fmt: skip
        if late:
            out.append(f"{o.node}: {len(late)} request(s) to {o.old_version} after its stop at {o.stop_ms} ms, first "
                       f"{late[0].method} {late[0].url} at {late[0].logged_ms} ms")  # fmt: skip
    return out


def _clear(status: int, body: str) -> bool:
    """A 5xx from the API node whose JSON error says which MLNode failed, or why none could serve."""
    if not 500 <= status <= 599:
        return False
    try:
        error = str(json.loads(body).get("error", ""))
    except (ValueError, AttributeError):
        return False
    return "MLNode" in error
