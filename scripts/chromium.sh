#!/usr/bin/env bash
# Headless Chromium for the HTML report's browser test (tests/report/test_html_report.py): Debian's `chromium` package,
# installed with apt-get when running as root and it is missing. Prints the browser's path; exit 3 when it cannot be
# had (the test then skips, saying so). Idempotent.
set -euo pipefail
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then command -v "$b"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 || true
  if command -v chromium >/dev/null 2>&1; then command -v chromium; exit 0; fi
fi
echo "chromium: not installed (Debian: apt-get install chromium, as root)" >&2
exit 3
