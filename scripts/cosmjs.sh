#!/usr/bin/env bash
# Install the pinned CosmJS client that tests/model/simnet/test_simnet_cosmjs.py runs against simnet: `npm ci` from
# tests/model/simnet/cosmjs/package-lock.json into its node_modules/. Idempotent (stamp keyed by the lockfile).
# Exit 3 when node or npm is missing, 1 when the install fails (log in .harness/cosmjs-npm.log).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/tests/model/simnet/cosmjs"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "cosmjs: node and npm are required for the CosmJS test (Debian: apt-get install nodejs npm)" >&2; exit 3
fi
stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  mkdir -p "$root/.harness"
  if ! npm ci --no-audit --no-fund --ignore-scripts > "$root/.harness/cosmjs-npm.log" 2>&1; then
    cat "$root/.harness/cosmjs-npm.log" >&2; echo "cosmjs: npm ci failed (log above, also in .harness/cosmjs-npm.log)" >&2; exit 1
  fi
  touch "$stamp"
fi
