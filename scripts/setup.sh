#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build and test. Only what is missing is
# installed, so a second run costs nothing. Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-system-dev
  libprotobuf-dev protobuf-compiler
  libsnappy-dev libcurl4-openssl-dev libssl-dev libabsl-dev libre2-dev libsimdjson-dev
  tzdata  # IANA zones for stage.timestamp's location (absent from minimal images)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  procps python3
  python3-yaml  # PyYAML for tests/charts/chart_test.py
  util-linux  # setpriv, unshare (end-to-end tests), taskset (bench/run); Essential in Debian
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
