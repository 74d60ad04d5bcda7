"""Assertions scenarios share; each failure message explains itself (audit table, counts, what was expected)."""

from __future__ import annotations


def assert_hop_clean(hop, testnet, *, exact_stop: bool = True) -> None:
    """Audit passed, the old version got exactly one stop per node, and the chat answer came from the new version.

    `exact_stop=False` for profiles whose cached worker clients may still reconcile (stop + inference/up) through
    the old prefix inside the grace window (pr228): the audit's stop rule then demands one stop and no repeat
    after the grace window."""
    __tracebackhide__ = True
    assert hop.audit.verdict == "pass", f"prefix audit failed for {hop.from_version} -> {hop.to_version}:\n{hop.audit.to_text()}"
    for c in ("stale", "early", "unversioned", "unknown_version"):
        assert hop.audit.counts.get(c, 0) == 0, f"{c} requests: {hop.audit.counts}"
    for node in testnet.mlnodes:
        if not exact_stop:
            assert hop.old_stops.get(node.id, 0) >= 1, f"{node.id}: no POST /{hop.from_version}/api/v1/stop: {hop.old_stops}"
            continue
        assert hop.old_stops.get(node.id, 0) == 1, (
            f"{node.id}: expected exactly one POST /{hop.from_version}/api/v1/stop after the switch, got {hop.old_stops}"
        )
    assert hop.chat_after is not None, "no chat was sent after the switch"
    assert hop.chat_after.ok, f"chat after the switch failed: {hop.chat_after}"
    assert hop.to_version in hop.chat_after.content, (
        f"chat after the switch answered {hop.chat_after.content!r}, expected the {hop.to_version} MLNode"
    )
