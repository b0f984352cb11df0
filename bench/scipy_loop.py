#!/usr/bin/python3
"""scipy.optimize.leastsq in a Python loop: the user's baseline for lmbatch_bench.

Reads the problems `lmbatch_bench generate` wrote (DATA_DIR/wK.h5: /y, /x, /x0), fits the
first PROBLEMS of each with scipy.optimize.leastsq twice, with Dfun (analytic Jacobian,
col_deriv=1) and without (forward differences), scipy's defaults otherwise (ftol = xtol =
1.49012e-8, gtol = 0, default maxfev, full_output=1), and writes DATA_DIR/wK.scipy.h5:

    /analytic/{ier, nfev, njev, x}, /forward/{ier, nfev, njev, x}
    attributes seconds (wall) and cpu_seconds (time.process_time) per group

`lmbatch_bench run` reads it back to report scipy's fits/s and, per problem, whether every
peer found the same ier (and nfev) and how far its x is from scipy's.

The models are the C++ ones (engine/models/*.cpp and bench/evaluator.cpp) in numpy,
elementwise in the same operation order (terms summed into zeros in specification order,
r = y - f, Jacobian -df/dp), so that with the same exp the residuals are bit-identical and
the MINPACK ports must take the same decisions as scipy. numpy's AVX-512 exp differs from
glibc's in the last bit, so its AVX-512 dispatch is switched off before numpy is imported
(NPY_DISABLE_CPU_FEATURES); the script then checks np.exp against math.exp (glibc's, which
std::exp calls) on the data's own arguments and records the outcome as
`bit_identical_residuals`. Pass --native-numpy to keep numpy's fastest dispatch instead.

Run: /usr/bin/python3 bench/scipy_loop.py DATA_DIR [--problems 2000] [--workloads 1,2,3,4]
"""
import argparse
import math
import os
import platform
import sys
import time
import warnings

AVX512_DISPATCH = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("--problems", type=int, default=2000, help="first N problems of each workload")
    ap.add_argument("--workloads", default="1,2,3,4")
    ap.add_argument("--native-numpy", action="store_true",
                    help="keep numpy's AVX-512 exp (faster, not bit-identical to glibc)")
    return ap.parse_args()


ARGS = parse_args()
if not ARGS.native_numpy and "NPY_DISABLE_CPU_FEATURES" not in os.environ:
    os.environ["NPY_DISABLE_CPU_FEATURES"] = AVX512_DISPATCH
warnings.filterwarnings("ignore", message=".*NPY_DISABLE_CPU_FEATURES.*")
warnings.filterwarnings("ignore", message=".*cannot disable CPU features.*")

try:
    import h5py
    import numpy as np
    import scipy
    from scipy.optimize import leastsq
except ImportError as e:  # the harness reports scipy as missing
    print(f"scipy_loop.py: {e}: scipy baseline skipped", file=sys.stderr)
    sys.exit(3)


# ---- models: value and the columns of df/dp, as the C++ computes them ----

def gaussian(p, x):
    amplitude, center, sigma = p
    u = (x - center) / sigma
    return amplitude * np.exp(-0.5 * (u * u))


def gaussian_cols(p, x):
    amplitude, center, sigma = p
    u = (x - center) / sigma
    e = np.exp(-0.5 * (u * u))
    slope = ((amplitude * e) * u) / sigma
    return [e, slope, slope * u]


def exponential(p, x):
    amplitude, tau = p
    return amplitude * np.exp(-(x / tau))


def exponential_cols(p, x):
    amplitude, tau = p
    u = x / tau
    e = np.exp(-u)
    return [e, ((amplitude * e) * u) / tau]


def constant(p, x):
    return p[0]


def constant_cols(p, x):
    return [np.ones_like(x)]


def linear(p, x):
    return p[0] + p[1] * x


def linear_cols(p, x):
    return [np.ones_like(x), x.copy()]


TERMS = {
    "gaussian": (3, gaussian, gaussian_cols),
    "exponential": (2, exponential, exponential_cols),
    "constant": (1, constant, constant_cols),
    "linear": (2, linear, linear_cols),
}


def parse(spec):
    uses, offset = [], 0
    for part in spec.split("+"):
        name, _, repeat = part.partition("*")
        for _ in range(int(repeat) if repeat else 1):
            size = TERMS[name][0]
            uses.append((name, offset, offset + size))
            offset += size
    return uses, offset


def catalogue_model(spec, x):
    uses, n = parse(spec)

    def value(p):
        f = np.zeros_like(x)
        for name, a, b in uses:
            f += TERMS[name][1](p[a:b], x)
        return f

    def jac_rows(p):  # n x m: rows are the parameters (col_deriv=1), of the residual y - f
        rows = []
        for name, a, b in uses:
            rows.extend(TERMS[name][2](p[a:b], x))
        return -np.array(rows)

    return value, jac_rows, n


def gauss2d_model(side):
    i = np.arange(side * side)
    px = (i % side).astype(float)
    py = (i // side).astype(float)

    def value(p):
        amplitude, x0, y0, sigma, offset = p
        two_s2 = 2.0 * (sigma * sigma)
        dx = px - x0
        dy = py - y0
        argx = (dx * dx) / two_s2
        argy = (dy * dy) / two_s2
        e = np.exp(-argx - argy)
        return amplitude * e + offset

    def jac_rows(p):
        amplitude, x0, y0, sigma, _ = p
        s2 = sigma * sigma
        two_s2 = 2.0 * s2
        s3 = s2 * sigma
        dx = px - x0
        dy = py - y0
        argx = (dx * dx) / two_s2
        argy = (dy * dy) / two_s2
        e = np.exp(-argx - argy)
        ae = amplitude * e
        return np.array([-e, -((ae * dx) / s2), -((ae * dy) / s2),
                         -((ae * (dx * dx + dy * dy)) / s3), -np.ones_like(e)])

    return value, jac_rows, 5


def exp_matches_glibc(args):
    """np.exp == math.exp (glibc) on these arguments, bit for bit."""
    ours = np.exp(args)
    ref = np.array([math.exp(v) for v in args])
    return bool(np.array_equal(ours, ref))


def run_workload(path, out_path, count):
    with h5py.File(path, "r") as f:
        model = f.attrs["model"]
        if isinstance(model, bytes):
            model = model.decode()
        side = int(f.attrs.get("side", 0))
        y = f["y"][:count]
        x0 = f["x0"][:count]
        x = f["x"][:]
    count = y.shape[0]
    if model == "gauss2d":
        value, jac_rows, n = gauss2d_model(side)
    else:
        value, jac_rows, n = catalogue_model(model, x)

    # exp's arguments at the starting points, for the bit-identity check.
    sample = []
    for k in range(min(count, 50)):
        p = x0[k]
        if model == "gauss2d":
            i = np.arange(side * side)
            dx, dy = (i % side) - p[1], (i // side) - p[2]
            two_s2 = 2.0 * (p[3] * p[3])
            sample.append(-((dx * dx) / two_s2) - ((dy * dy) / two_s2))
        else:
            for name, a, b in parse(model)[0]:
                if name == "gaussian":
                    u = (x - p[a + 1]) / p[a + 2]
                    sample.append(-0.5 * (u * u))
                elif name == "exponential":
                    sample.append(-(x / p[a + 1]))
    identical = exp_matches_glibc(np.concatenate(sample)) if sample else True

    results = {}
    for group, analytic in (("analytic", True), ("forward", False)):
        ier = np.zeros(count, dtype=np.int32)
        nfev = np.zeros(count, dtype=np.int32)
        njev = np.zeros(count, dtype=np.int32)
        xs = np.zeros((count, n))
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for k in range(count):
            yk = y[k]

            def func(p, yk=yk):
                return yk - value(p)

            if analytic:
                sol, _, info, _, code = leastsq(func, x0[k], Dfun=jac_rows, col_deriv=1,
                                                full_output=1)
                njev[k] = info["njev"]
            else:
                sol, _, info, _, code = leastsq(func, x0[k], full_output=1)
            xs[k] = sol
            ier[k] = code
            nfev[k] = info["nfev"]
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        results[group] = (ier, nfev, njev, xs, wall, cpu)
        print(f"  {os.path.basename(path)} scipy leastsq {group}: {count} problems, "
              f"wall {wall:.2f} s, cpu {cpu:.2f} s ({count / cpu:.0f} fits/s per core), "
              f"mean nfev {nfev.mean():.2f}", file=sys.stderr)

    with h5py.File(out_path, "w") as out:
        out.attrs["scipy_version"] = scipy.__version__
        out.attrs["numpy_version"] = np.__version__
        out.attrs["python_version"] = platform.python_version()
        out.attrs["bit_identical_residuals"] = "yes" if identical else "no"
        out.attrs["numpy_cpu_features_disabled"] = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
        for group, (ier, nfev, njev, xs, wall, cpu) in results.items():
            g = out.create_group(group)
            g["ier"], g["nfev"], g["njev"], g["x"] = ier, nfev, njev, xs
            g.attrs["seconds"] = wall
            g.attrs["cpu_seconds"] = cpu
            g.attrs["count"] = count
            g.attrs["note"] = ("residuals bit-identical to the C++ evaluator" if identical else
                               "np.exp differs from glibc's exp: ier/nfev may differ")


def main():
    for wid in [int(v) for v in ARGS.workloads.split(",") if v]:
        path = os.path.join(ARGS.data_dir, f"w{wid}.h5")
        if not os.path.exists(path):
            print(f"scipy_loop.py: no {path}", file=sys.stderr)
            continue
        run_workload(path, os.path.join(ARGS.data_dir, f"w{wid}.scipy.h5"), ARGS.problems)


if __name__ == "__main__":
    main()
