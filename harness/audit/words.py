"""The verdict words an audit gives one request, in the order reports list them. A leaf module: results.py (the
report) and report.py (its renderings) both read it, and neither imports the other back."""

from __future__ import annotations

VERDICTS = ("ok", "late", "stale", "early", "unversioned", "unknown_version")
