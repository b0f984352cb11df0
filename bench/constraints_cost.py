"""The cost of constraints that never bind on workload 1 (gaussian+constant, m = 128, n = 4,
noise 0.02, amplitudes 1-2; bench/README.md): lmbatch.fit on one thread, without constraints and
with bounds (or a fixed mask holding nothing) that never bind, interleaved, the median CPU time
of each over the repetitions. Also checks that the results are the same bits.

    PYTHONPATH=build/python /usr/bin/python3 bench/constraints_cost.py [--problems N] [--reps R]
"""
import argparse
import statistics
import time

import numpy as np

import lmbatch


def workload1(problems, seed=1):
    rng = np.random.default_rng(seed)
    m = 128
    x = np.arange(m, dtype=np.float64)
    a = rng.uniform(1, 2, problems)
    c = rng.uniform(0.3 * m, 0.7 * m, problems)
    s = rng.uniform(0.03 * m, 0.08 * m, problems)
    b = rng.uniform(0, 0.2, problems)
    y = (a[:, None] * np.exp(-(x - c[:, None]) ** 2 / (2 * s[:, None] ** 2)) + b[:, None]
         + rng.normal(0, 0.02, (problems, m)))
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    x, y = workload1(args.problems)
    variants = {
        "none": {},
        "bounds that never bind": {"bounds": "amplitude=0:,sigma=0:1e3,center=-1e3:1e3"},
        "fixed mask holding nothing": {"fixed": np.zeros(4)},
    }
    times = {k: [] for k in variants}
    results = {}
    for _ in range(args.reps):
        for name, kw in variants.items():
            t = time.process_time()
            results[name] = lmbatch.fit(y, "gaussian+constant", x=x, threads=1, **kw)
            times[name].append(time.process_time() - t)
    base = statistics.median(times["none"])
    for name in variants:
        med = statistics.median(times[name])
        same = all(np.array_equal(getattr(results[name], f), getattr(results["none"], f),
                                  equal_nan=True) for f in ("x", "cov_x", "nfev", "ier"))
        print(f"{name:28s} {args.problems / med:9.0f} fits/s  {100 * (med / base - 1):+5.1f} %  "
              f"same bits: {same}  (median of {args.reps}, CPU {med:.3f} s)")


if __name__ == "__main__":
    main()
