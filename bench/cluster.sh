#!/usr/bin/env bash
# The figures of docs/scaling.md: one input fitted by a single process, by
# mpirun with 1 and 2 ranks and by two --part shards + merge; the result
# datasets of every run compared bit for bit with the single run's (h5diff).
#
#   bench/cluster.sh [--shape H,W] [--samples m] [--build DIR] [--repeat k]
#
# Needs an MPI build of lmbatch (default build-mpi/: cmake -S . -B build-mpi
# -DLMBATCH_MPI=ON && cmake --build build-mpi --target lmbatch), mpirun and
# h5diff. Writes a Markdown table to stdout; the data lives in a temporary
# directory. Every variant uses the machine's 2 cores in all: threads x ranks = 2.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-mpi
shape=256,256
samples=128
repeat=3
while (($#)); do
  case "$1" in
    --shape) shape=$2; shift ;;
    --samples) samples=$2; shift ;;
    --build) build=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
exe=$build/apps/lmbatch
[[ -x $exe ]] || { echo "no $exe: build the MPI variant first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=gaussian+linear
# --bind-to none: mpirun binds few ranks to one core each by default, which
# would make a rank's threads share one core.
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
common=(--model "$model" --overwrite --quiet --progress-interval 1000)

"$exe" generate "$work/in.h5" --model "$model" --shape "$shape" --samples "$samples" --overwrite -q
problems=$(( ${shape/,/*} ))

# Best of $repeat wall times (seconds) of a command.
best() {
  local b="" t s e
  for ((i = 0; i < repeat; ++i)); do
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [[ -z $b ]] || (($(echo "$t < $b" | bc -l))); then b=$t; fi
  done
  echo "$b"
}

same() {  # every result dataset bit-identical to the single run's
  local d
  for d in x cov_x stderr cost nfev njev ier m_valid; do
    h5diff -q "$work/single.h5" "$1" "/$d" "/$d" >/dev/null 2>&1 || { echo "no (/$d)"; return; }
  done
  echo yes
}

split_run() {
  "$exe" fit "$work/in.h5" -o "$work/p0.h5" "${common[@]}" --threads 1 --part 0/2 &
  "$exe" fit "$work/in.h5" -o "$work/p1.h5" "${common[@]}" --threads 1 --part 1/2
  wait
  "$exe" merge "$work/p0.h5" "$work/p1.h5" -o "$work/split.h5" --overwrite -q
}

t_single=$(best "$exe" fit "$work/in.h5" -o "$work/single.h5" "${common[@]}" --threads 2)
t_r1=$(best "${mpi[@]}" -n 1 "$exe" fit "$work/in.h5" -o "$work/r1.h5" "${common[@]}" --threads 2)
t_r2=$(best "${mpi[@]}" -n 2 "$exe" fit "$work/in.h5" -o "$work/r2.h5" "${common[@]}" --threads 1)
t_split=$(best split_run)

in_bytes=$(stat -c %s "$work/in.h5")
out_bytes=$(stat -c %s "$work/single.h5")
# The run's own time (the output's `seconds` attribute: no process start-up).
run_seconds() { h5dump -a /seconds "$1" | awk '/\(0\)/ {print $2}'; }
row() { printf '| %s | %.2f | %s | %.0f | %.2f | %s |\n' "$1" "$2" "$3" "$(echo "$problems / $2" | bc -l)" \
  "$(echo "$2 / $t_single" | bc -l)" "$4"; }
echo "$problems problems ($shape) of $samples samples, model $model; best of $repeat"
echo
echo "| run | wall s | fit s (no start-up) | fits/s (wall) | wall / single | datasets bit-identical |"
echo "|---|---:|---:|---:|---:|---|"
row "single process, 2 threads" "$t_single" "$(run_seconds "$work/single.h5")" "(reference)"
row "mpirun -n 1, 2 threads" "$t_r1" "$(run_seconds "$work/r1.h5")" "$(same "$work/r1.h5")"
row "mpirun -n 2, 1 thread each" "$t_r2" "$(run_seconds "$work/r2.h5")" "$(same "$work/r2.h5")"
row "--part 0/2 + 1/2 (1 thread each) + merge" "$t_split" "-" "$(same "$work/split.h5")"
echo
printf 'input %.1f MB (%.0f B per fit), output %.1f MB (%.0f B per fit, gzip level 1)\n' \
  "$(echo "$in_bytes / 1000000" | bc -l)" "$(echo "$in_bytes / $problems" | bc -l)" \
  "$(echo "$out_bytes / 1000000" | bc -l)" "$(echo "$out_bytes / $problems" | bc -l)"
