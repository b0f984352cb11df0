#!/usr/bin/env bash
# Sanitizer runs (issue 6):
#   asan: the whole test suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#         (build-asan); any report fails the test that triggers it.
#   tsan: the parallel tests (batch engine, CLI, resume) built with ThreadSanitizer
#         (build-tsan); suppressions, one reason each, in tests/tsan.supp.
#   scripts/sanitizers.sh [asan|tsan|all]   (default all; SAN_JOBS: build jobs, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
jobs=${SAN_JOBS:-2}
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

run_asan() {
  local flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
  cmake -S . -B build-asan "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DLMBATCH_BUILD_BENCH=OFF >/dev/null
  # Test discovery runs the test executables, so the sanitizer options apply from here on.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  cmake --build build-asan -j"$jobs"
  ctest --test-dir build-asan --output-on-failure -j"$jobs" ${ASAN_CTEST_EXCLUDE:+-E "$ASAN_CTEST_EXCLUDE"}
}

run_tsan() {
  local flags="-fsanitize=thread -fno-omit-frame-pointer"
  cmake -S . -B build-tsan "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DLMBATCH_BUILD_BENCH=OFF >/dev/null
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"
  cmake --build build-tsan -j"$jobs" --target lmbatch lmbatch_batch_tests lmbatch_cli_tests lmbatch_resume_tests
  # The test executables directly (ctest names tests by test case, not by executable).
  local t
  for t in batch/lmbatch_batch_tests app/lmbatch_cli_tests app/lmbatch_resume_tests; do
    echo "== tsan: $t"
    build-tsan/tests/$t
  done
}

case "$what" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
  *) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;;
esac
