"""Issue 17's quality measure for the starting-value options (docs/starting-values.md).

Makes two 60 x 60 cubes of gaussian*2+linear spectra (256 channels, Poisson counts, truth known):
"species" (the same two bands in every pixel, centers +-2 channels, intensities and mixing vary)
and "moving" (the first band anywhere in 60..140, the second 20..90 channels above it). Fits each
with `lmbatch fit` under each option set, one thread, and prints the share of pixels whose cost is
within 1e-6 (relative) of the cost a fit started at the truth reaches, and the CPU time.

    /usr/bin/python3 bench/starting_values.py build/apps/lmbatch [SIDE]
"""
import os
import resource
import subprocess
import sys
import tempfile

import h5py
import numpy as np

LMBATCH = sys.argv[1] if len(sys.argv) > 1 else "build/apps/lmbatch"
SIDE = int(sys.argv[2]) if len(sys.argv) > 2 else 60
M = 256
MODEL = "gaussian*2+linear"
RUNS = [("default", []), ("--starts 4", ["--starts", "4"]), ("--x0-from mean", ["--x0-from", "mean"]),
        ("--x0-from median", ["--x0-from", "median"]),
        ("--refine neighbours", ["--refine", "neighbours"]),
        ("--x0-from mean --refine neighbours", ["--x0-from", "mean", "--refine", "neighbours"])]


def cube(path, kind):
    rng = np.random.default_rng(5 if kind == "species" else 17)
    shape = (SIDE, SIDE)
    x = np.arange(M, dtype=float)
    if kind == "species":
        a1 = rng.uniform(20, 120, shape)
        c1, s1 = 100 + rng.uniform(-2, 2, shape), 8 + rng.uniform(-1, 1, shape)
        a2 = a1 * rng.uniform(0.1, 1.0, shape)
        c2, s2 = 128 + rng.uniform(-2, 2, shape), 10 + rng.uniform(-1, 1, shape)
    else:
        a1, c1, s1 = rng.uniform(80, 200, shape), rng.uniform(60, 140, shape), rng.uniform(6, 14, shape)
        a2 = a1 * rng.uniform(0.2, 1.0, shape)
        c2, s2 = c1 + rng.uniform(20, 90, shape), rng.uniform(6, 14, shape)
    b0, b1 = rng.uniform(10, 30, shape), rng.uniform(-0.03, 0.03, shape)

    def g(a, c, s):
        return a[..., None] * np.exp(-(x - c[..., None]) ** 2 / (2 * s[..., None] ** 2))

    lam = g(a1, c1, s1) + g(a2, c2, s2) + b0[..., None] + b1[..., None] * x
    with h5py.File(path, "w") as f:
        f["y"] = rng.poisson(np.maximum(lam, 0)).astype(float)
        f["x"] = x
        f["truth"] = np.stack([a1, c1, s1, a2, c2, s2, b0, b1], axis=-1)


def fit(src, out, extra):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([LMBATCH, "fit", src, "-o", out, "-m", MODEL, "--threads", "1", "--quiet",
                    "--overwrite"] + extra, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with h5py.File(out, "r") as f:
        return f["cost"][()].ravel(), (after.ru_utime - before.ru_utime
                                       + after.ru_stime - before.ru_stime)


with tempfile.TemporaryDirectory() as tmp:
    print("| cube | options | share at the from-truth optimum | CPU s (1 thread) |")
    print("|---|---|---:|---:|")
    for kind in ("species", "moving"):
        src = os.path.join(tmp, kind + ".h5")
        cube(src, kind)
        best, _ = fit(src, os.path.join(tmp, "truth.h5"), ["--x0", "/truth"])
        for name, extra in RUNS:
            cost, cpu = fit(src, os.path.join(tmp, "out.h5"), extra)
            share = np.mean(cost <= best * (1 + 1e-6))
            print(f"| {kind} | {name} | {100 * share:.2f} % | {cpu:.1f} |", flush=True)
