#!/usr/bin/env bash
# The one command that reproduces bench/README.md's figures:
#
#   bench/run.sh [--quick | --full] [--no-build] [--out DIR]
#
# Builds lmbatch and lmbatch_bench (Release, in build-bench/, never build/), generates the
# four workloads (build-bench/bench-data/), runs the scipy baseline (bench/scipy_loop.py, when
# /usr/bin/python3 has scipy and h5py) and the harness, and writes latest.md and latest.json
# to bench/results/ (--quick: to build-bench/bench-results-quick/, leaving the committed
# figures alone).
#
#   default  20000 problems (gaussian*3+linear: 1000), scipy on the first 2000, 2 repetitions
#   --quick  2000 problems (gaussian*3+linear: 200), scipy on the first 200, 1 repetition
#   --full   20000 problems everywhere, scipy on the first 2000, 3 repetitions (long: about
#            an hour of CPU on two cores)
#
# Environment: LMBATCH_BENCH_BUILD (build directory), PYTHON (default /usr/bin/python3),
# JOBS (parallel compile jobs, default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${LMBATCH_BENCH_BUILD:-$root/build-bench}
python=${PYTHON:-/usr/bin/python3}
jobs=${JOBS:-2}
mode=default
build_first=1
out=""
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --no-build) build_first=0 ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

case $mode in
  quick)   problems=2000;  w3=200;   scipy=200;  reps=1 ;;
  default) problems=20000; w3=1000;  scipy=2000; reps=2 ;;
  full)    problems=20000; w3=20000; scipy=2000; reps=3 ;;
esac
if [[ -z $out ]]; then
  if [[ $mode == quick ]]; then out=$build/bench-results-quick; else out=$root/bench/results; fi
fi
data=$build/bench-data
start=$(date +%s)

if ((build_first)); then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DLMBATCH_BUILD_TESTS=OFF -DLMBATCH_BUILD_BENCH=ON >/dev/null
  fi
  cmake --build "$build" -j "$jobs" --target lmbatch lmbatch_bench
fi
bench=$build/bench/lmbatch_bench
lmbatch=$build/apps/lmbatch

mkdir -p "$data" "$out"
rm -f "$data"/w*.scipy.h5
"$bench" generate --data-dir "$data" --problems "$problems" --problems-w3 "$w3"

if "$python" -c 'import scipy, h5py, numpy' 2>/dev/null; then
  "$python" "$root/bench/scipy_loop.py" "$data" --problems "$scipy"
else
  echo "run.sh: $python lacks scipy/h5py/numpy (python3-scipy, python3-h5py): no scipy baseline" >&2
fi

label="bench/run.sh"
[[ $mode == default ]] || label+=" --$mode"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain -- engine io apps 2>/dev/null) ]]; then
  commit="$commit + uncommitted changes in engine/io/apps"
fi
"$bench" run --data-dir "$data" --reps "$reps" --lmbatch "$lmbatch" \
  --json "$out/latest.json" --md "$out/latest.md" \
  --label "$label, commit $commit" >/dev/null
# The recorded commands name this checkout's files: keep them relative to the repository, so
# committed figures carry no machine's paths.
sed -i "s|$root/||g" "$out/latest.json" "$out/latest.md"
# bench/README.md keeps the latest committed figures: latest.md between its markers.
readme=$root/bench/README.md
if [[ $out == "$root/bench/results" && -f $readme ]] && grep -q '<!-- latest:begin -->' "$readme"; then
  awk -v f="$out/latest.md" '
    /<!-- latest:begin -->/ { print; while ((getline line < f) > 0) print line; skip = 1; next }
    /<!-- latest:end -->/ { skip = 0 }
    !skip { print }' "$readme" > "$readme.tmp" && mv "$readme.tmp" "$readme"
fi
echo "run.sh: wrote $out/latest.md and $out/latest.json in $(( $(date +%s) - start )) s"
