"""Helpers shared by tests in more than one folder of tests/ (each folder's own helpers sit in that folder)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository's root
