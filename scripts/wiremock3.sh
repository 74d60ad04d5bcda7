#!/usr/bin/env bash
# Fetch the WireMock 3.9.1 standalone jar from the npm registry (package `wiremock`, which ships it) into
# .harness/wiremock3/, so the mock mappings are also tested on WireMock 3.x (the docker image's major version).
# Prints the jar's path. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.harness/wiremock3
jar="$dest/wiremock-standalone-3.9.1.jar"
if [ ! -f "$jar" ]; then
  command -v npm >/dev/null || { echo "wiremock3: npm is required to fetch the WireMock 3 jar (apt-get install npm)" >&2; exit 3; }
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent wiremock@3.9.1 >/dev/null && tar xzf wiremock-3.9.1.tgz)
  mkdir -p "$dest"
  cp "$tmp"/package/build/wiremock-standalone-3.9.1.jar "$jar"
  rm -rf "$tmp"
fi
realpath "$jar"
