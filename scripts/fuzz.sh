#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz and runs each for a bounded time on a copy of its seed corpus
# (tests/fuzz/corpus/<target>). Fails on any crash, leak, timeout or sanitizer
# report; the reproducer is left in build-fuzz/artifacts/.
#   scripts/fuzz.sh [seconds per target, default 60]   (FUZZ_JOBS: build jobs, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=build-fuzz
cc=${CC_FUZZ:-clang-14}
cxx=${CXX_FUZZ:-clang++-14}
command -v "$cxx" >/dev/null || { cc=clang; cxx=clang++; }
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DLMBATCH_FUZZ=ON -DLMBATCH_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target fuzz_problem_file fuzz_expression

# allocator_may_return_null: a corrupt file can declare a huge metadata block, and HDF5
# (uninstrumented) handles a failed malloc as an error; operator new still reports
# an out-of-memory crash, so lmbatch's own allocations stay checked.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
mkdir -p "$build/artifacts"
status=0
for target in problem_file expression; do
  corpus="$build/corpus/$target"
  rm -rf "$corpus" && mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  echo "== fuzz_$target: ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$target" "$corpus" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$build/artifacts/${target}-" 2>"$build/fuzz_$target.log"; then
    status=1
    tail -n 60 "$build/fuzz_$target.log"
    echo "FAIL: fuzz_$target (reproducer: $build/artifacts/${target}-*)"
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' \
      "$build/fuzz_$target.log" || true
  fi
done
exit $status
