#!/usr/bin/env bash
# Sanitizer runs (issue 6; CI runs both, .ci/run):
#   asan: the whole test suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#         (build-asan); any report fails the test that triggers it. The ctest run has
#         the sanitizer options below exported (lmbatch child processes inherit them).
#         Leak suppressions, third-party libraries only, one reason each: tests/lsan.supp.
#   tsan: the parallel tests (batch engine, CLI, resume, expressions on several threads)
#         built with ThreadSanitizer (build-tsan); suppressions, one reason each, in
#         tests/tsan.supp.
#   scripts/sanitizers.sh [asan|tsan|all]   (default all; SAN_JOBS: build jobs, default 2;
#   ASAN_CTEST_EXCLUDE: a ctest -E regex of tests to leave out of the asan run, none by
#   default: the whole suite runs)
# Both builds are -O1 -g1 (line tables): about half the compile time of RelWithDebInfo,
# with full file:line stacks in reports.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
jobs=${SAN_JOBS:-2}
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
opt="-O1 -g1 -DNDEBUG"

# Catch's test discovery runs each test executable at build time; one that died there
# (a sanitizer report at start-up, say) would add no tests and pass by omission.
check_discovery() {
  local build=$1 f bad=0 n=0
  while IFS= read -r f; do
    n=$((n + 1))
    grep -q '^add_test' "$f" || { echo "no tests discovered: $f" >&2; bad=1; }
  done < <(find "$build/tests" -name '*_tests-*.cmake')
  ((n > 0)) || { echo "no test discovery files under $build/tests" >&2; bad=1; }
  return $bad
}

run_asan() {
  local flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
  cmake -S . -B build-asan "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="$opt" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DLMBATCH_BUILD_BENCH=OFF >/dev/null
  # Test discovery runs the test executables, so the sanitizer options apply from here on.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
  cmake --build build-asan -j"$jobs"
  check_discovery build-asan
  ctest --test-dir build-asan --output-on-failure --no-tests=error -j"$jobs" \
    ${ASAN_CTEST_EXCLUDE:+-E "$ASAN_CTEST_EXCLUDE"}
}

run_tsan() {
  local flags="-fsanitize=thread -fno-omit-frame-pointer"
  local tests=(batch/lmbatch_batch_tests app/lmbatch_cli_tests app/lmbatch_resume_tests
               expr/lmbatch_expr_tests)
  cmake -S . -B build-tsan "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="$opt" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DLMBATCH_BUILD_BENCH=OFF >/dev/null
  # history_size=7 (the most): the stacks of old accesses stay restorable, which the
  # race_top suppressions need to match the earlier of the two accesses.
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=7:suppressions=$PWD/tests/tsan.supp"
  cmake --build build-tsan -j"$jobs" --target lmbatch "${tests[@]##*/}"
  # The test executables directly, every test case (ctest names tests by test case, not
  # by executable). A TSan report makes the executable, or the lmbatch it runs, fail.
  local t
  for t in "${tests[@]}"; do
    echo "== tsan: $t"
    "build-tsan/tests/$t"
  done
}

case "$what" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
  *) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;;
esac
