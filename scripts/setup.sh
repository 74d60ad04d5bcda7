#!/usr/bin/env bash
# Idempotent set-up: Python venv with the harness installed, Java check, nginx (for the side-by-side topology).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: Python >= 3.11 is required (found $("$PY" --version 2>&1)); install python3.11 or set PYTHON=" >&2; exit 2
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  mkdir -p .harness
  if ! .venv/bin/python -m pip install -q -e '.[test]' > .harness/pip-install.log 2>&1; then
    cat .harness/pip-install.log >&2; echo "setup: pip install failed (log above, also in .harness/pip-install.log)" >&2; exit 1
  fi
  rm -f .venv/.installed-*; touch "$stamp"
fi
# Java 11+ runs the WireMock jar bundled with the `wiremock` package.
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "setup: Java 11+ is required for WireMock; install it (Debian: apt-get install openjdk-17-jre-headless)" >&2; exit 2
  fi
fi
# nginx serves the side-by-side topology (one WireMock per MLNode version behind path routing).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nginx >/dev/null
  else
    echo "setup: nginx not found; side-by-side tests will fail with a hint (Debian: apt-get install nginx)" >&2
  fi
fi
# Node.js runs CosmJS, the standard Cosmos client tests/model/simnet/test_simnet_cosmjs.py drives simnet with (pinned, npm ci).
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "setup: npm not found; the CosmJS test of simnet will be skipped (Debian: apt-get install nodejs npm)" >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  bash scripts/cosmjs.sh || echo "setup: installing CosmJS failed; tests/model/simnet/test_simnet_cosmjs.py will report it" >&2
fi
