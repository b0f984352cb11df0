"""Speed of lmbatch.fit against a scipy.optimize.leastsq loop on the same problems.

    PYTHONPATH=build/python /usr/bin/python3 python/bench/fit_vs_scipy.py [--count 2000] [--samples 100]

Problems: `count` gaussian+constant spectra of `samples` points (noise 0.05), every solver
started from the same x0 (the truth perturbed by 20 %). Each timing is the best of `--repeat`
runs, in CPU time of the process (all its threads), which a busy shared machine disturbs less
than wall-clock time; the all-cores column is wall-clock time, which is what threads buy.
Prints a Markdown table (docs/python.md quotes it) and checks that the solutions agree.
"""
import argparse
import os
import platform
import time

import numpy as np
import scipy
from scipy.optimize import leastsq as scipy_leastsq

import lmbatch


def model(p, x):
    return p[0] * np.exp(-(x - p[1]) ** 2 / (2 * p[2] ** 2)) + p[3]


def resid(p, x, y):
    return y - model(p, x)


def jac(p, x, y):
    d = x - p[1]
    e = np.exp(-d * d / (2 * p[2] ** 2))
    return -np.column_stack([e, p[0] * e * d / p[2] ** 2, p[0] * e * d * d / p[2] ** 3,
                             np.ones_like(x)])


def problems(count, m, seed=1):
    rng = np.random.default_rng(seed)
    x = np.linspace(-5, 5, m)
    truth = np.column_stack([rng.uniform(1, 5, count), rng.uniform(-2, 2, count),
                             rng.uniform(0.5, 1.5, count), rng.uniform(-1, 1, count)])
    y = np.array([model(p, x) for p in truth]) + rng.normal(0, 0.05, (count, m))
    x0 = truth * np.array([0.8, 1.0, 1.2, 0.8]) + np.array([0.0, 0.2, 0.0, 0.0])
    return x, y, x0


def best_of(repeat, fn, wall=False):
    clock = time.perf_counter if wall else time.process_time
    best, result = float("inf"), None
    for _ in range(repeat):
        t = clock()
        result = fn()
        best = min(best, clock() - t)
    return best, result


def scipy_loop(solver, x, y, x0, analytic):
    kw = {"Dfun": jac} if analytic else {}
    out = np.empty_like(x0)
    for i in range(len(y)):
        out[i] = solver(resid, x0[i], args=(x, y[i]), **kw)[0]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    x, y, x0 = problems(a.count, a.samples)
    cores = os.cpu_count()
    rows = []
    for analytic in (True, False):
        label = "analytic Jacobian (Dfun / lmder)" if analytic else "forward differences (lmdif)"
        jacobian = "analytic" if analytic else "forward"
        t_scipy, xs = best_of(a.repeat, lambda: scipy_loop(scipy_leastsq, x, y, x0, analytic))
        t_ours_loop, xl = best_of(a.repeat, lambda: scipy_loop(lmbatch.leastsq, x, y, x0,
                                                               analytic))
        t1, r1 = best_of(a.repeat, lambda: lmbatch.fit(y, "gaussian+constant", x=x, x0=x0,
                                                       jacobian=jacobian, threads=1))
        tn, rn = best_of(a.repeat, lambda: lmbatch.fit(y, "gaussian+constant", x=x, x0=x0,
                                                       jacobian=jacobian), wall=True)
        assert np.array_equal(xl, xs), "lmbatch.leastsq must reproduce scipy"
        agree = np.max(np.abs(r1.x - xs) / np.abs(xs))
        rows.append((label, t_scipy, t_ours_loop, t1, tn, rn.threads, agree))

    print(f"{a.count} gaussian+constant problems of {a.samples} samples; best of {a.repeat}; "
          f"{platform.machine()}, {cores} cores, load average {os.getloadavg()[0]:.1f}; scipy "
          f"{scipy.__version__}, numpy {np.__version__}, Python {platform.python_version()}\n")
    print("| Jacobian | scipy loop (CPU) | lmbatch.leastsq loop (CPU) | lmbatch.fit, 1 thread "
          "(CPU) | speed-up, 1 thread | lmbatch.fit, all cores (wall) | max rel. diff of x |")
    print("|---|---|---|---|---|---|---|")
    for label, ts, tl, t1, tn, threads, agree in rows:
        print(f"| {label} | {ts:.3f} s | {tl:.3f} s | {t1:.4f} s | {ts / t1:.1f}x | "
              f"{tn:.4f} s ({threads} threads) | {agree:.1e} |")
    print()
    for label, ts, tl, t1, tn, threads, agree in rows:
        print(f"{label}: scipy {a.count / ts:.0f} fits/s, lmbatch.fit {a.count / t1:.0f} fits/s "
              f"on 1 thread (CPU time), {a.count / tn:.0f} fits/s on {threads} threads (wall)")


if __name__ == "__main__":
    main()
