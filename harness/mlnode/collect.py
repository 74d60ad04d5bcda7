"""Journals -> audit records, for any Testnet: one WireMock journal per entry of MLNodeEndpoint.journals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.audit import records_from_journal
from harness.mlnode.journal import Journal

if TYPE_CHECKING:
    from harness.backends.participants import MLNodeEndpoint


def collect_journals(mlnodes: list[MLNodeEndpoint], since_ms: int | None = None) -> dict[str, dict]:
    """{mock_id: raw GET /__admin/requests body} for every journal of every node (from since_ms on, if given)."""

    out: dict[str, dict] = {}
    for node in mlnodes:
        for key, url in node.journals.items():
            journal = Journal(url)
            try:
                out[f"{node.id}/{key}"] = {"requests": journal.requests(since_ms)}
            finally:
                journal.close()
    return out


def collect_records(mlnodes: list[MLNodeEndpoint], since_ms: int | None = None) -> list:

    records: list = []
    journals = collect_journals(mlnodes, since_ms)
    for node in mlnodes:
        for key in node.journals:
            served_by = None if key.startswith("*") else key
            records.extend(
                records_from_journal(
                    journals[f"{node.id}/{key}"], mock_id=f"{node.id}/{key}", node_id=node.id, served_by_version=served_by
                )
            )
    return records
