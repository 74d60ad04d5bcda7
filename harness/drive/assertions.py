"""What a clean hop is, in one place: scenarios assert it (`assert_hop_clean`), `harness demo` prints it
(`hop_problems`). Each problem explains itself (audit table, failed requests, what was expected)."""

from __future__ import annotations


def hop_problems(hop, testnet) -> list[str]:
    """Everything wrong with a hop, empty when it is clean: the prefix audit (every request's prefix, each node's
    switch, the old-version stop the contract demands), the old version stopped on every node (an upgrade to the
    version already current: that version never stopped for it), no user chat failed
    across the switch outside the windows the hop itself opened (by name), the hop's chat traffic running across the
    switch (traffic_gaps), and the chat after the switch answered by
    the new version (on every participant of a network)."""
    problems: list[str] = []
    audit = hop.audit
    if audit.verdict != "pass":
        problems.append(f"prefix audit failed for {hop.from_version} -> {hop.to_version}:\n{audit.to_text()}")
    if hop.same_version:  # no switch: the version already current must not be stopped for it
        if hop.same_version_stops:
            stops = ", ".join(f"{r.method} {r.url} on {r.node_key} at {r.logged_ms} ms" for r in hop.same_version_stops[:5])
            problems.append(
                f"the upgrade to {hop.to_version}, the version already current, stopped it "
                f"({len(hop.same_version_stops)} stop(s) from block {hop.switch_height} on, outside the hop's windows): {stops}"
            )
    elif audit.contract.stop_old:
        unstopped = [n.id for p in testnet.participants for n in p.mlnodes if hop.old_stops.get(n.id, 0) < 1]
        if unstopped:
            problems.append(f"no POST /{hop.from_version}/api/v1/stop after the switch on {unstopped}: {hop.old_stops}")
    failed = hop.user_failures
    if failed:
        problems.append(
            f"{len(failed)} user chats failed across {hop.from_version} -> {hop.to_version} (switch at {hop.switch_ms} ms) "
            f"outside the hop's own windows {[w.name for w in hop.windows]}:\n" + "\n".join(f.describe() for f in failed[:10])
        )
    problems += traffic_gaps(hop)
    chats = hop.chats_after if len(hop.chats_after) > 1 else {"": hop.chat_after}  # a network: one per participant
    for participant, chat in chats.items():
        on = f" on {participant}" if participant else ""
        if chat is None:
            problems.append(f"no chat was sent after the switch{on}")
        elif not chat.ok:
            problems.append(f"chat after the switch{on} failed: {chat}")
        elif hop.to_version not in chat.content:
            problems.append(f"chat after the switch{on} answered {chat.content!r}, expected the {hop.to_version} MLNode")
    return problems


def traffic_gaps(hop) -> list[str]:
    """The hop's chat traffic (per participant) must have been running across the switch: a chat started before the
    switch block's time and one ending after it; otherwise "no user chat failed" says nothing about the switch."""
    out = []
    for participant, span in getattr(hop, "traffic_spans", {}).items():
        on = f" to {participant}" if participant else ""
        if span is None:
            out.append(f"the hop's chat traffic{on} sent no chat: nothing shows what users saw across the switch")
        elif not span[0] < hop.switch_ms <= span[1]:
            out.append(
                f"the hop's chat traffic{on} ran from {span[0]} to {span[1]} ms, not across the switch at {hop.switch_ms} ms "
                "(it stops by itself after its max_requests or max_duration_s): nothing shows what users saw across it"
            )
    return out


def assert_hop_clean(hop, testnet) -> None:
    """Fail with every problem `hop_problems` finds."""
    __tracebackhide__ = True
    problems = hop_problems(hop, testnet)
    assert not problems, "\n\n".join(problems)


def assert_down_before_the_switch(records, node_ids, *, since_ms: int, down_ms: int, old: str, new: str) -> None:
    """Set-up check of a scenario that takes an API node down before the upgrade height: none of its MLNodes
    (`node_ids`) heard the switch (a request on `new`, or the stop of `old`) between `since_ms` (just before the
    upgrade was scheduled: a node's own start stops and brings up its version, which is no switch) and `down_ms`,
    when it went down. Otherwise it was stopped too late (the harness stalled between the proposal's passing and the
    stop) and the scenario no longer tests a node that was down across the height."""
    __tracebackhide__ = True
    mine = set(node_ids)
    heard = [
        f"{r.method} {r.url} at {r.logged_ms} ms"
        for r in records
        if r.node_key in mine and since_ms <= r.logged_ms <= down_ms
        and (r.version_seen == new or (r.method == "POST" and r.path == f"/{old}/api/v1/stop"))
    ]  # fmt: skip
    assert not heard, (
        f"set-up: the API node switched after the upgrade was scheduled at {since_ms} ms and before it was taken down "
        f"at {down_ms} ms ({heard[:3]}); it was stopped too late after the proposal passed (a stalled machine): give "
        "it more spare blocks (UpgradeRunner.schedule)"
    )


def assert_chain_agrees(testnet, version: str) -> None:
    """The chain's MLNodeVersion is `version`, on a chain that keeps one (upstream main keeps none: nothing to check)."""
    __tracebackhide__ = True
    if testnet.chain.tracks_mlnode_version():
        seen = testnet.chain.mlnode_version()
        assert seen == version, f"the chain's MLNodeVersion is {seen}, expected {version}"
