"""lmbatch::simd::exp (engine/simd/exp.cpp) in Python floats, for the reference generators.

The engine's catalogue models evaluate exp with lmbatch's own exp (one algorithm for the
scalar path and the SIMD lanes, issue #19), so the generators that mirror them bit for bit
(gen_model_refs.py) use this port: the same operations in the same order, on Python floats
(IEEE binary64, one rounding per operation, no fused multiply-add), the integer steps on
Python ints masked to 64 bits. The table is computed here (decimal arithmetic, 80
digits); gen_exp_table.py prints it for exp.cpp. tests/simd/test_exp.cpp checks this port against
the C++ on the arguments of tests/data/simd/exp_samples.json (written by running this file).

Run: /usr/bin/python3 tests/support/lmbatch_exp.py > tests/data/simd/exp_samples.json
"""
import decimal
import math
import struct

MASK64 = (1 << 64) - 1
N = 128
INV_LN2_N = float.fromhex("0x1.71547652b82fep0") * N
NEG_LN2_HI_N = -float.fromhex("0x1.62e42fefa0000p-8")
NEG_LN2_LO_N = -float.fromhex("0x1.cf79abc9e3b3ap-47")
SHIFT = float.fromhex("0x1.8p52")
C2 = float.fromhex("0x1.ffffffffffdbdp-2")
C3 = float.fromhex("0x1.555555555543cp-3")
C4 = float.fromhex("0x1.55555cf172b91p-5")
C5 = float.fromhex("0x1.1111167a4d017p-7")


def bits(d):
    return struct.unpack("<Q", struct.pack("<d", d))[0]


def double(b):
    return struct.unpack("<d", struct.pack("<Q", b & MASK64))[0]


def table():
    """(tail bits, scale bits - (i << 45)) for i < 128: 2^(i/128) = scale_i (1 + tail_i).

    2^(i/128) to 80 significant digits (decimal; i/128 is exact in decimal), rounded to
    the nearest double by float() (correctly rounded), the tail likewise.
    """
    tails, scales = [], []
    with decimal.localcontext() as context:
        context.prec = 80
        for i in range(N):
            exact = decimal.Decimal(2) ** (decimal.Decimal(i) / N)
            scale = float(exact)
            scale_exact = decimal.Decimal(scale)  # exact: a double is a finite decimal
            tails.append(bits(float((exact - scale_exact) / scale_exact)))
            scales.append((bits(scale) - (i << 45)) & MASK64)
    return tails, scales


TAIL_BITS, SCALE_BITS = table()


def _special_case(tmp, sbits, ki):
    if ki & 0x80000000 == 0:
        scale = double(sbits - (1009 << 52))
        return float.fromhex("0x1p1009") * (scale + scale * tmp)
    scale = double(sbits + (1022 << 52))
    y = scale + scale * tmp
    if y < 1.0:
        lo = (scale - y) + scale * tmp
        hi = 1.0 + y
        lo = ((1.0 - hi) + y) + lo
        y = (hi + lo) - 1.0
        if y == 0.0:
            y = 0.0
    return float.fromhex("0x1p-1022") * y


def exp(x):
    ux = bits(x)
    abstop = (ux >> 52) & 0x7FF
    if abstop < 0x3C9:
        return 1.0 + x
    if abstop >= 0x409:
        if x != x:
            return x
        return 0.0 if ux >> 63 else math.inf
    kd = INV_LN2_N * x + SHIFT
    ki = bits(kd)
    kd = kd - SHIFT
    r = (x + kd * NEG_LN2_HI_N) + kd * NEG_LN2_LO_N
    idx = ki & (N - 1)
    tail = double(TAIL_BITS[idx])
    sbits = (SCALE_BITS[idx] + (ki << 45)) & MASK64
    r2 = r * r
    tmp = ((tail + r) + r2 * (C2 + r * C3)) + (r2 * r2) * (C4 + r * C5)
    if abstop >= 0x408:
        return _special_case(tmp, sbits, ki)
    scale = double(sbits)
    return scale + scale * tmp


_NUMPY_TABLES = None


def exp_numpy(x):
    """exp() above on a numpy array, element by element: the same operations in the same order.

    For bench/scipy_loop.py, whose models must call the exp the engine's catalogue models call
    (np.exp is not it). numpy's float64 ufuncs round once per operation and never fuse a
    multiply-add (`a * b + c` is two ufuncs), so each element takes the scalar port's roundings;
    the integer steps run on uint64 arrays, which wrap modulo 2^64 as the masks above do (the
    in-place forms below are the same operations on the same operands, to spare temporaries).
    When every |x| is in [2^-54, 512) only the main path runs; otherwise every element takes it
    and the rare ones (|x| < 2^-54, |x| >= 512, inf, NaN) are overwritten with their branch's
    value. Returns a new float64 array of x's shape. tests/support/test_lmbatch_exp_numpy.py
    checks both paths against exp() bit for bit.
    """
    import numpy as np

    global _NUMPY_TABLES
    if _NUMPY_TABLES is None:
        _NUMPY_TABLES = (np.array(TAIL_BITS, dtype=np.uint64).view(np.float64),
                         np.array(SCALE_BITS, dtype=np.uint64))
    tails, scale_bits = _NUMPY_TABLES
    u64 = np.uint64
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    if x.size and a.min() >= 2.0**-54 and a.max() < 512.0:  # False with a NaN: the full path
        # 2^-54 <= |x| < 512 everywhere: the main path alone (no warnings possible, no masks).
        kd = INV_LN2_N * x
        kd += SHIFT
        ki = kd.view(u64)
        kd = kd - SHIFT
        r = x + kd * NEG_LN2_HI_N
        r += kd * NEG_LN2_LO_N
        idx = ki & u64(N - 1)
        sbits = ki << u64(45)
        sbits += scale_bits[idx]
        r2 = r * r
        tmp = tails[idx] + r
        tmp += r2 * (C2 + r * C3)
        r2 *= r2
        tmp += r2 * (C4 + r * C5)
        scale = sbits.view(np.float64)
        tmp *= scale
        tmp += scale
        return tmp
    x = np.array(x, dtype=np.float64)  # a copy: the result aliases nothing of the caller's
    ux = x.view(u64)
    abstop = (ux >> u64(52)) & u64(0x7FF)
    with np.errstate(all="ignore"):  # lanes of the rare branches compute junk, then are replaced
        kd = INV_LN2_N * x
        kd += SHIFT
        ki = kd.view(u64).copy()
        kd -= SHIFT
        r = (x + kd * NEG_LN2_HI_N) + kd * NEG_LN2_LO_N
        idx = ki & u64(N - 1)
        tail = tails[idx]
        sbits = scale_bits[idx] + (ki << u64(45))
        r2 = r * r
        tmp = ((tail + r) + r2 * (C2 + r * C3)) + (r2 * r2) * (C4 + r * C5)
        scale = sbits.view(np.float64)
        out = scale + scale * tmp
        large = abstop >= u64(0x408)
        tiny = abstop < u64(0x3C9)
        if large.any():
            big = large & ((ki & u64(0x80000000)) == u64(0))
            if big.any():
                s = (sbits[big] - u64(1009 << 52)).view(np.float64)
                out[big] = float.fromhex("0x1p1009") * (s + s * tmp[big])
            small = large & ~big
            if small.any():
                t = tmp[small]
                s = (sbits[small] + u64(1022 << 52)).view(np.float64)
                y = s + s * t
                low = y < 1.0
                if low.any():
                    sl, yl = s[low], y[low]
                    lo = (sl - yl) + sl * t[low]
                    hi = 1.0 + yl
                    lo = ((1.0 - hi) + yl) + lo
                    yl = (hi + lo) - 1.0
                    yl[yl == 0.0] = 0.0  # +0, never -0
                    y[low] = yl
                out[small] = float.fromhex("0x1p-1022") * y
            huge = abstop >= u64(0x409)
            if huge.any():
                xh = x[huge]
                out[huge] = np.where(xh != xh, xh, np.where(xh < 0.0, 0.0, math.inf))
        if tiny.any():
            out[tiny] = 1.0 + x[tiny]
    return out


def _samples():
    """Arguments over the whole range and the models' (seeded), with their exp, as bits."""
    import json
    import random

    rng = random.Random(19)
    xs = [0.0, -0.0, 1.0, -1.0, 709.782712893384, 709.7827128933841, -708.5, -745.1332191019411,
          -745.1332191019412, 512.0, -512.0, 1024.0, -1024.0, 2.0**-54, -(2.0**-54), 2.0**-55,
          math.inf, -math.inf, 5e-324, 1e308]
    for _ in range(500):
        xs.append(double(rng.getrandbits(64)))  # uniform bits (NaN excluded below)
        xs.append(rng.uniform(-745.2, 709.8))
        xs.append(rng.uniform(-745.2, -708.3))
        xs.append(rng.uniform(-1.0, 1.0))
        u = rng.uniform(-50.0, 50.0)
        xs.append(-0.5 * (u * u))
        xs.append(-(rng.uniform(0.0, 10.0) / rng.uniform(1e-3, 1e3)))
    xs = [x for x in xs if x == x]
    print(json.dumps({"generator": "tests/support/lmbatch_exp.py",
                      "x_bits": ["%016x" % bits(x) for x in xs],
                      "exp_bits": ["%016x" % bits(exp(x)) for x in xs]}, indent=0))


if __name__ == "__main__":
    _samples()
