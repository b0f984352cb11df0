#!/usr/bin/python3
"""Poisson maximum likelihood against least squares on counts, and what it costs.

Quality: bi-exponential decays (tau 2.5 and 12 bins, 128 bins) and 2-D gaussian spots (11 x 11
pixels, sigma 1.3) with Poisson counts at low and high intensity, fitted from the truth with
`loss="linear"` (unweighted), `linear` with sigma = sqrt(max(y, 1)) (Neyman's chi-square, the
usual weighting), and `loss="poisson"`. Reports, per parameter of interest, the bias (median of
(fit - truth) / truth, or of fit - truth for positions) and the spread (half the 16-84 %
interval) over the converged problems.

Speed: workload-1- and 2-shaped problems (gaussian+constant m=128, exponential*2+constant
m=256) as counts, written to HDF5 and fitted by `lmbatch fit --threads 1` with --loss linear
and poisson; best of --repeats CPU times. (huber's cost is measured on the Gaussian-noise
workloads, where its f_scale = 1 is the noise scale; on counts the residuals are ~sqrt(y).)

    PYTHONPATH=build/python /usr/bin/python3 bench/poisson_quality.py [--lmbatch build/apps/lmbatch]
"""
import argparse
import os
import resource
import subprocess
import tempfile

import h5py
import numpy as np

import lmbatch

T = np.arange(128, dtype=float)
SIDE = 11
GRID = np.stack(np.meshgrid(np.arange(SIDE, dtype=float), np.arange(SIDE, dtype=float),
                            indexing="ij"), axis=-1).reshape(-1, 2)
SPOT = "expr(a, u, v, s, b): a*exp(-((x1-u)^2 + (x2-v)^2)/(2*s^2)) + b"


def decays(rng, count, peak):
    truth = np.tile([0.6 * peak, 2.5, 0.4 * peak, 12.0, 0.02 * peak + 0.2], (count, 1))
    f = truth[:, [0]] * np.exp(-T / truth[:, [1]]) + truth[:, [2]] * np.exp(-T / truth[:, [3]])
    return truth, rng.poisson(f + truth[:, [4]]).astype(float)


def spots(rng, count, photons):
    s = 1.3
    u, v = rng.uniform(4.5, 5.5, count), rng.uniform(4.5, 5.5, count)
    truth = np.column_stack([np.full(count, photons / (2 * np.pi * s * s)), u, v,
                             np.full(count, s), np.full(count, 1.0)])
    d2 = (GRID[None, :, 0] - u[:, None]) ** 2 + (GRID[None, :, 1] - v[:, None]) ** 2
    f = truth[:, [0]] * np.exp(-d2 / (2 * s * s)) + 1.0
    return truth, rng.poisson(f).astype(float)


def fits(y, model, x, truth):
    out = {}
    out["linear"] = lmbatch.fit(y, model, x=x, x0=truth)
    out["linear, sigma=sqrt(y)"] = lmbatch.fit(y, model, x=x, x0=truth,
                                               sigma=np.sqrt(np.maximum(y, 1.0)))
    out["poisson"] = lmbatch.fit(y, model, x=x, x0=truth, loss="poisson")
    return out


def summary(results, truth, columns, relative):
    rows = []
    for name, r in results.items():
        ok = np.isin(r.ier, [1, 2, 3, 4])
        cells = []
        for j in columns:
            err = r.x[ok, j] - truth[ok, j]
            if relative:
                err = err / truth[ok, j]
            lo, med, hi = np.percentile(err, [16, 50, 84])
            cells.append(f"{med:+.4f} / {(hi - lo) / 2:.4f}")
        rows.append(f"| {name} | {ok.mean():.1%} | " + " | ".join(cells) + " |")
    return rows


def quality(rng, count):
    print("## Bias / spread (median / half the 16-84 % interval), fits from the truth\n")
    for peak in (15, 300):
        truth, y = decays(rng, count, peak)
        # Swap the decays into lifetime order (a fit may return them either way).
        res = fits(y, "exponential*2+constant", T, truth)
        for r in res.values():
            swap = r.x[:, 3] < r.x[:, 1]
            r.x[swap] = r.x[swap][:, [2, 3, 0, 1, 4]]
        print(f"Bi-exponential decays, {count} problems, peak {peak} counts/bin "
              "(tau1 = 2.5, tau2 = 12, relative errors):\n")
        print("| fit | converged | tau1 | tau2 |\n|---|---:|---:|---:|")
        print("\n".join(summary(res, truth, [1, 3], True)) + "\n")
    for photons in (100, 1000):
        truth, y = spots(rng, count, photons)
        res = fits(y, SPOT, GRID, truth)
        print(f"2-D gaussian spots, {count} problems, {photons} photons, background 1/pixel "
              "(position errors in pixels; amplitude relative):\n")
        print("| fit | converged | u | v | amplitude |\n|---|---:|---:|---:|---:|")
        rows = summary(res, truth, [1, 2], False)
        amp = summary(res, truth, [0], True)
        print("\n".join(r + a.split("|")[3] + "|" for r, a in zip(rows, amp)) + "\n")


def cpu_time(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def speed(rng, exe, count, repeats):
    print(f"## Speed: `lmbatch fit --threads 1`, {count} problems, best of {repeats} CPU times\n")
    print("| workload (counts) | linear | poisson |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        x = np.arange(128, dtype=float)
        a = rng.uniform(50, 500, count)
        c = rng.uniform(40, 88, count)
        s = rng.uniform(4, 10, count)
        b = rng.uniform(2, 10, count)
        f1 = a[:, None] * np.exp(-0.5 * ((x - c[:, None]) / s[:, None]) ** 2) + b[:, None]
        x0_1 = np.column_stack([a, c, s, b]) * rng.uniform(0.9, 1.1, (count, 4))
        t = np.arange(256, dtype=float)
        tr = np.column_stack([rng.uniform(100, 400, count), rng.uniform(5, 15, count),
                              rng.uniform(30, 100, count), rng.uniform(40, 80, count),
                              rng.uniform(1, 5, count)])
        f2 = (tr[:, [0]] * np.exp(-t / tr[:, [1]]) + tr[:, [2]] * np.exp(-t / tr[:, [3]])
              + tr[:, [4]])
        x0_2 = tr * rng.uniform(0.85, 1.15, tr.shape)
        for name, model, f, x0 in (("1: gaussian+constant, m=128", "gaussian+constant", f1, x0_1),
                                   ("2: exponential*2+constant, m=256",
                                    "exponential*2+constant", f2, x0_2)):
            path = os.path.join(tmp, "in.h5")
            with h5py.File(path, "w") as h:
                h["y"] = rng.poisson(f).astype(float)
                h["x0"] = x0
            cells = []
            base = None
            for loss in ("linear", "poisson"):
                out = os.path.join(tmp, f"{loss}.h5")
                cmd = [exe, "fit", path, "-o", out, "--model", model, "--threads", "1",
                       "--loss", loss, "--overwrite"]
                best = min(cpu_time(cmd) for _ in range(repeats))
                base = base or best
                cells.append(f"{count / best / 1000:.2f}k fits/s (CPU time {best / base - 1:+.0%})")
            print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lmbatch", default="build/apps/lmbatch")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--speed-count", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(20261206)
    quality(rng, args.count)
    speed(rng, args.lmbatch, args.speed_count, args.repeats)


if __name__ == "__main__":
    main()
