#!/usr/bin/env bash
# Regenerate harness/proto/gen from harness/proto/src. The one documented command:
#   bash harness/proto/regenerate.sh
# grpcio-tools is pinned to <=1.71 (protobuf 5 gencode): cosmpy 0.12.2 needs protobuf < 6.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-../../.venv/bin/python}"
"$PY" -m pip install -q 'grpcio-tools<=1.71' >/dev/null
rm -rf gen && mkdir -p gen/inference/inference
"$PY" -m grpc_tools.protoc -Isrc -Isrc/third_party --python_out=gen --pyi_out=gen src/inference/inference/partial_upgrade.proto
touch gen/__init__.py gen/inference/__init__.py gen/inference/inference/__init__.py
echo "regenerated: $(ls gen/inference/inference)"
