"""exp_numpy (the numpy port of lmbatch's exp, used by bench/scipy_loop.py) equals exp (the
scalar port, itself checked against the C++ by tests/simd/test_exp.cpp) bit for bit.

Run by ctest as python_lmbatch_exp_numpy (python/CMakeLists.txt); needs only numpy and pytest.
"""
import json
import math
import os
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lmbatch_exp  # noqa: E402

DATA = pathlib.Path(os.environ.get("LMBATCH_TEST_DATA", HERE.parent / "data"))


def scalar_bits(xs):
    # tolist(): Python floats, so the scalar port runs on the arithmetic it was written for.
    return np.array([lmbatch_exp.bits(lmbatch_exp.exp(v)) for v in xs.tolist()], dtype=np.uint64)


def numpy_bits(xs):
    return lmbatch_exp.exp_numpy(xs).view(np.uint64)


def first_difference(xs, got, want):
    k = int(np.flatnonzero(got != want)[0])
    return (f"x = {xs[k]!r} ({int(xs.view(np.uint64)[k]):016x}): "
            f"numpy {int(got[k]):016x}, scalar {int(want[k]):016x}")


def test_numpy_port_matches_the_scalar_port_on_exp_samples():
    samples = json.loads((DATA / "simd" / "exp_samples.json").read_text())
    xs = np.array([int(b, 16) for b in samples["x_bits"]], dtype=np.uint64).view(np.float64)
    recorded = np.array([int(b, 16) for b in samples["exp_bits"]], dtype=np.uint64)
    got, want = numpy_bits(xs), scalar_bits(xs)
    assert np.array_equal(got, want), first_difference(xs, got, want)
    # The file's exp_bits are what the C++ returns (tests/simd/test_exp.cpp holds them to it).
    assert np.array_equal(got, recorded), first_difference(xs, got, recorded)


def test_numpy_port_matches_the_scalar_port_on_a_million_arguments():
    rng = np.random.default_rng(19)
    k = 125_000
    specials = np.array([
        0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, -math.nan,
        np.uint64(0x7FF0000000000001).view(np.float64),  # signalling NaN
        np.uint64(0xFFF8000000000123).view(np.float64),  # negative NaN with a payload
        5e-324, -5e-324, 2.0**-54, -(2.0**-54), 2.0**-55, np.nextafter(2.0**-54, 0.0),
        512.0, -512.0, np.nextafter(512.0, 0.0), 1024.0, -1024.0, np.nextafter(1024.0, 0.0),
        709.782712893384, 709.7827128933841, 709.79, -708.3964185322641, -708.4,
        -745.1332191019411, -745.1332191019412, -745.2, 1e308, -1e308])
    parts = [
        specials,
        rng.integers(0, 2**64, k, dtype=np.uint64, endpoint=False).view(np.float64),  # all bits
        rng.uniform(-746.0, 710.0, k),
        rng.uniform(-745.2, -708.3, k),  # subnormal results and underflow to 0
        rng.uniform(700.0, 710.0, k),  # overflow threshold
        rng.uniform(-1.0, 1.0, k),
        -0.5 * rng.uniform(-40.0, 40.0, k) ** 2,  # the gaussian's arguments
        np.ldexp(rng.uniform(-1.0, 1.0, k), rng.integers(-70, 11, k)),  # every exponent, tiny too
    ]
    xs = np.concatenate(parts)
    xs = np.concatenate([xs, -np.abs(rng.standard_cauchy(1_000_000 - xs.size))])
    assert xs.size == 1_000_000
    want = scalar_bits(xs)
    got = numpy_bits(xs)  # a NaN among them: every element through the full path
    assert np.array_equal(got, want), first_difference(xs, got, want)
    # The main path alone (2^-54 <= |x| < 512 in the whole array), on the in-range arguments
    # and in the models' calls of 128 samples.
    main = (np.abs(xs) >= 2.0**-54) & (np.abs(xs) < 512.0)
    assert np.count_nonzero(main) > 500_000
    got_main = numpy_bits(xs[main])
    assert np.array_equal(got_main, want[main]), first_difference(xs[main], got_main, want[main])
    calls = np.concatenate([numpy_bits(c) for c in np.array_split(xs[main][:100_000], 782)])
    assert np.array_equal(calls, want[main][:100_000])
    # The sample reaches every branch: subnormal results, overflow, underflow to 0, NaN, 1 + x.
    e = got.view(np.float64)
    assert np.count_nonzero((e > 0.0) & (e < 2.2250738585072014e-308)) > 1000
    assert np.count_nonzero(np.isposinf(e) & np.isfinite(xs)) > 1000
    assert np.count_nonzero((e == 0.0) & np.isfinite(xs)) > 1000
    assert np.count_nonzero(np.isnan(e)) > 40  # 2^-11 of random bits, and the specials
    assert np.count_nonzero((np.abs(xs) < 2.0**-54) & (xs != 0.0)) > 100
