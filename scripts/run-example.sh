#!/usr/bin/env bash
# Installs what is missing, builds sluice (Release) and tails the example pod logs under
# config/example/pods, printing entries to stdout as JSON lines (no Loki needed).
# It keeps tailing like the agent does on a node: append a line to one of the files to see it
# arrive, Ctrl-C to stop. SLUICE_DEMO_SECONDS=N stops it after N seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF \
  -DSLUICE_BENCH=OFF >/dev/null
cmake --build build-release --target sluice

# A fresh positions directory each run, so the example prints its entries every time.
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
echo "sluice: tailing config/example/pods (Ctrl-C to stop)" >&2
if [ -n "${SLUICE_DEMO_SECONDS:-}" ]; then
  timeout -s TERM "$SLUICE_DEMO_SECONDS" ./build-release/sluice tail config/example/pods \
    --storage.path "$state" || [ $? -eq 124 ]
else
  ./build-release/sluice tail config/example/pods --storage.path "$state"
fi
