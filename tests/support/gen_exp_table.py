#!/usr/bin/python3
"""The 2^(i/128) table of lmbatch::simd::exp (engine/simd/exp.cpp).

For i = 0..127: scale_i = 2^(i/128) rounded to nearest double, and
tail_i = (2^(i/128) - scale_i) / scale_i rounded to nearest, so that
2^(i/128) = scale_i * (1 + tail_i) to about 2^-107. exp stores scale_i's bits
minus i << 45 (adding k << 45 for k = 128 q + i then gives 2^q * scale_i's bits
in one integer add; see exp.cpp). The table is computed in lmbatch_exp.py (the
Python port the reference generators use); this prints it as C++.

Run: /usr/bin/python3 tests/support/gen_exp_table.py
"""
import lmbatch_exp


def table(name, values):
    print("alignas(64) const std::uint64_t %s[128] = {" % name)
    for i in range(0, 128, 4):
        print("    " + " ".join("0x%016x," % v for v in values[i:i + 4]))
    print("};")


print("// From tests/support/gen_exp_table.py.")
table("kExpTailBits", lmbatch_exp.TAIL_BITS)
table("kExpScaleBits", lmbatch_exp.SCALE_BITS)
