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
the MINPACK ports must take the same decisions as scipy. The exp must be the C++ one too:

- catalogue models (gaussian, exponential: workloads 1-3) call lmbatch's own exp
  (engine/simd/exp_scalar.hpp), which differs from glibc's in the last bit on about 3e-4 of
  arguments, so they call its numpy port, exp_numpy in tests/support/lmbatch_exp.py (the same
  operations in the same order; python_lmbatch_exp_numpy checks it against the scalar port).
- gauss2d (workload 4, bench/evaluator.cpp) calls std::exp, glibc's: np.exp, with numpy's
  AVX-512 dispatch switched off before numpy is imported (NPY_DISABLE_CPU_FEATURES), since
  numpy's AVX-512 exp differs from glibc's in the last bit.

The script checks the exp it used on the data's own exp arguments (at the starting points and
at scipy's solutions, every problem run, up to 10^6 arguments): exp_numpy against the scalar
port lmbatch_exp.exp (itself checked against the C++ by tests/simd/test_exp.cpp), np.exp
against math.exp (glibc's), bit for bit, and records the outcome as `bit_identical_residuals`
(and the exp as `exp`).

The port costs ~20 us a call against ~0.5-1 us for np.exp (numpy's per-operation overhead), which
would make the loop 2-4x slower than a user's: for workloads 1-3 the seconds and cpu_seconds come
from a second run of each group with np.exp (`timed` says which run; its ier/nfev may differ
from the written ones on a few problems, its work hardly). --time-with-port times the port's run
instead, without the second run. --native-numpy keeps numpy's AVX-512 dispatch (faster
np.exp); it only changes workload 4's exp, whose check then usually fails.

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
    ap.add_argument("--time-with-port", action="store_true",
                    help="report the time of the run with lmbatch's exp (ported, ~20 us a call) "
                    "instead of a second run with np.exp")
    ap.add_argument("--native-numpy", action="store_true",
                    help="keep numpy's AVX-512 exp for gauss2d (faster, not bit-identical to "
                    "glibc's, which bench/evaluator.cpp calls); catalogue models always use "
                    "lmbatch's exp (ported)")
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

# lmbatch's exp: exp (scalar, Python floats) and exp_numpy (vectorised), by path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "support"))
import lmbatch_exp  # noqa: E402

lmexp = lmbatch_exp.exp_numpy


# ---- models: value and the columns of df/dp, as the C++ computes them ----

def gaussian(p, x):
    amplitude, center, sigma = p
    u = (x - center) / sigma
    return amplitude * lmexp(-0.5 * (u * u))


def gaussian_cols(p, x):
    amplitude, center, sigma = p
    u = (x - center) / sigma
    e = lmexp(-0.5 * (u * u))
    slope = ((amplitude * e) * u) / sigma
    return [e, slope, slope * u]


def exponential(p, x):
    amplitude, tau = p
    return amplitude * lmexp(-(x / tau))


def exponential_cols(p, x):
    amplitude, tau = p
    u = x / tau
    e = lmexp(-u)
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


MAX_CHECKED = 1_000_000


def exp_arguments(model, side, x, p):
    """The arguments the model passes to exp at parameters p (one array)."""
    if model == "gauss2d":
        i = np.arange(side * side)
        dx = (i % side).astype(float) - p[1]
        dy = (i // side).astype(float) - p[2]
        two_s2 = 2.0 * (p[3] * p[3])
        return -((dx * dx) / two_s2) - ((dy * dy) / two_s2)
    args = []
    for name, a, b in parse(model)[0]:
        if name == "gaussian":
            u = (x - p[a + 1]) / p[a + 2]
            args.append(-0.5 * (u * u))
        elif name == "exponential":
            args.append(-(x / p[a + 1]))
    return np.concatenate(args) if args else np.zeros(0)


def exp_is_the_cpp_one(model, args):
    """The exp the model used here equals the C++ model's, bit for bit, on these arguments:
    exp_numpy against the scalar port (lmbatch's exp) for catalogue models, np.exp against
    math.exp (glibc's, which std::exp calls) for gauss2d."""
    if args.size > MAX_CHECKED:  # a fixed sample, spread over every problem
        args = args[np.linspace(0, args.size - 1, MAX_CHECKED).astype(np.int64)]
    if model == "gauss2d":
        ours, scalar = np.exp(args), math.exp
    else:
        ours, scalar = lmexp(args), lmbatch_exp.exp
    ref = np.array([scalar(v) for v in args.tolist()])  # Python floats, as the ports expect
    return bool(np.array_equal(ours.view(np.uint64), ref.view(np.uint64)))


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

    def fit_all(analytic):
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
        return ier, nfev, njev, xs, wall, cpu

    global lmexp
    results, timed_with = {}, "the results' run"
    for group, analytic in (("analytic", True), ("forward", False)):
        ier, nfev, njev, xs, wall, cpu = fit_all(analytic)
        if model != "gauss2d" and not ARGS.time_with_port:
            # The time of a user's loop: np.exp (~0.5-1 us a call) instead of the port
            # (~20 us); the results (ier, nfev, x) stay the port's run's.
            lmexp = np.exp
            try:
                wall, cpu = fit_all(analytic)[4:]
            finally:
                lmexp = lmbatch_exp.exp_numpy
            timed_with = "a second run with np.exp"
        results[group] = (ier, nfev, njev, xs, wall, cpu)
        print(f"  {os.path.basename(path)} scipy leastsq {group}: {count} problems, "
              f"wall {wall:.2f} s, cpu {cpu:.2f} s ({count / cpu:.0f} fits/s per core, "
              f"timed: {timed_with}), mean nfev {nfev.mean():.2f}", file=sys.stderr)

    # exp's arguments at the starting points and at both groups' solutions, for the check.
    points = [x0] + [r[3] for r in results.values()]
    args = [exp_arguments(model, side, x, p) for ps in points for p in ps]
    identical = exp_is_the_cpp_one(model, np.concatenate(args)) if args else True
    exp_name = ("np.exp (glibc's, as bench/evaluator.cpp's std::exp)" if model == "gauss2d" else
                "lmbatch's exp (tests/support/lmbatch_exp.py exp_numpy)")
    print(f"  {os.path.basename(path)} exp: {exp_name}, bit-identical to the C++ model's: "
          f"{'yes' if identical else 'no'}", file=sys.stderr)

    with h5py.File(out_path, "w") as out:
        out.attrs["scipy_version"] = scipy.__version__
        out.attrs["numpy_version"] = np.__version__
        out.attrs["python_version"] = platform.python_version()
        out.attrs["bit_identical_residuals"] = "yes" if identical else "no"
        out.attrs["exp"] = exp_name
        out.attrs["timed"] = timed_with
        out.attrs["numpy_cpu_features_disabled"] = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
        for group, (ier, nfev, njev, xs, wall, cpu) in results.items():
            g = out.create_group(group)
            g["ier"], g["nfev"], g["njev"], g["x"] = ier, nfev, njev, xs
            g.attrs["seconds"] = wall
            g.attrs["cpu_seconds"] = cpu
            g.attrs["count"] = count
            g.attrs["note"] = ("residuals bit-identical to the C++ evaluator" if identical else
                               "exp differs from the C++ model's: ier/nfev may differ")


def main():
    for wid in [int(v) for v in ARGS.workloads.split(",") if v]:
        path = os.path.join(ARGS.data_dir, f"w{wid}.h5")
        if not os.path.exists(path):
            print(f"scipy_loop.py: no {path}", file=sys.stderr)
            continue
        run_workload(path, os.path.join(ARGS.data_dir, f"w{wid}.scipy.h5"), ARGS.problems)


if __name__ == "__main__":
    main()
