"""Headless Chromium for tests of the HTML report: Debian's `chromium` driven by its command line (no browser
download, no driver). A test that needs it skips, saying how to install it, when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser")
HOW = "Debian chromium is not installed: run scripts/chromium.sh as root (apt-get install chromium)"


def chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(HOW)


def _run(url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    # its profile, temp and config files in a short folder of its own (a unix socket path has at most 107 bytes), gone after
    own = Path(tempfile.mkdtemp(prefix="chromium-", dir="/tmp"))
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            f"--user-data-dir={own / 'profile'}", "--window-size=1500,1200", "--virtual-time-budget=20000",
            *extra, url]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(own), "HOME": str(own)}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    finally:
        shutil.rmtree(own, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def screenshot(page: Path, out: Path, tmp: Path, fragment: str = "") -> Path:
    """A PNG of the page as the browser draws it."""
    _run(page.resolve().as_uri() + fragment, tmp, f"--screenshot={out}")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot at {out}"
    return out


def rendered_dom(page: Path, tmp: Path, fragment: str = "") -> str:
    """The DOM after the page's scripts ran (plotly's timeline drawn)."""
    return _run(page.resolve().as_uri() + fragment, tmp, "--dump-dom").stdout
