"""The prefix audit: did every request after each switch use the new version prefix? Pure functions, no I/O.

records = records_from_journal(journal_json, mock_id="node1")          # GET /__admin/requests body
timeline = SwitchTimeline([Switch("v0.3.8", 0), Switch("v0.3.9", t_switch_ms, height=42)])
report = audit(records, timeline, contract_for("reference"))             # or SwitchContract(grace_ms=..., stop_old=...)
report.verdict, report.first_offender, report.to_text(), report.to_json()
render_png(report, timeline, "audit.png")                                # lazy matplotlib import
"""

from harness.audit.contracts import SwitchContract, contract_for
from harness.audit.png import render_png  # matplotlib itself is imported only when a picture is drawn
from harness.audit.records import RequestRecord, port_class_of, record_from_url, records_from_journal, strip_version
from harness.audit.render import report_dict, report_json, report_text
from harness.audit.results import AuditReport, Offender, StopCheck, SwitchSeen
from harness.audit.timeline import Switch, SwitchTimeline, chain_switch
from harness.audit.verdict import audit
from harness.audit.words import VERDICTS

__all__ = [
    "VERDICTS",
    "AuditReport",
    "Offender",
    "RequestRecord",
    "StopCheck",
    "Switch",
    "SwitchContract",
    "SwitchSeen",
    "SwitchTimeline",
    "audit",
    "chain_switch",
    "contract_for",
    "port_class_of",
    "record_from_url",
    "records_from_journal",
    "render_png",
    "report_dict",
    "report_json",
    "report_text",
    "strip_version",
]
