#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build and test. Only what is missing is
# installed, so a second run costs nothing. Needs root (or sudo) when something is missing.
# --build-only installs just what building the binary takes (the container image's build stage).
set -euo pipefail

# What building the sluice binary needs; the Dockerfile's build stage installs only these
# (`setup.sh --build-only`), so this list is the single place to change them.
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libboost-dev libboost-system-dev
  libprotobuf-dev protobuf-compiler
  libsnappy-dev libcurl4-openssl-dev libssl-dev libabsl-dev libre2-dev libsimdjson-dev
  libyaml-dev  # the positions file in Alloy's YAML (libyaml: what gopkg.in/yaml.v2 ports)
  zlib1g-dev libbz2-dev  # loki.source.file decompression (gz, z; bz2)
  libmaxminddb-dev  # stage.geoip: MaxMind DB lookups
  libsystemd-dev  # loki.source.journal: sd-journal
)
# The rest of a development machine: tests, benchmarks, fuzzers, sanitizers.
DEV_PACKAGES=(
  git
  tzdata  # IANA zones for stage.timestamp's location (absent from minimal images)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  lld  # the test builds link with it: a hundred sanitized test binaries, bfd ld links slowly
  procps python3
  python3-yaml  # PyYAML for tests/charts/chart_test.py
  # Alloy's own YAML library (gopkg.in/yaml.v2) for tests/source/alloy_format_test: the positions
  # file sluice writes must read back in Alloy, and Alloy's in sluice.
  golang-go golang-gopkg-yaml.v2-dev
  libmaxmind-db-writer-perl  # tests/process/geoip_test writes its MaxMind DBs with it
  systemd-journal-remote  # tests/e2e/journal_e2e_test writes journal files offline with it
  util-linux  # setpriv, unshare (end-to-end tests), setsid (test.sh), taskset (bench/run); Essential in Debian
)

case "${1:-}" in
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${DEV_PACKAGES[@]}") ;;
  --build-only) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  *) echo "usage: setup.sh [--build-only]" >&2; exit 2 ;;
esac

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
