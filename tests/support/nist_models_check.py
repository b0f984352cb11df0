#!/usr/bin/python3
"""Print NIST residuals and Jacobians as the scipy reference script evaluated them.

Usage: /usr/bin/python3 tests/support/nist_models_check.py [DATA_DIR] > py.txt
       ./nist_models_check [DATA_DIR] > cpp.txt ; diff py.txt cpp.txt   (must be empty)

The evaluation is not re-derived here: make_problem() is imported from the reference
script nist_scipy.py (directory from $NIST_SCIPY_TOOLS, default
../shared/data/tools from the repository root; it needs Debian's python3-numpy and python3-scipy), so the
diff compares the generated C++ (nist_models.cpp) with the reference's own code.

For every dataset (index.json order) and every point -- start1, start2 and scipy's
final x of the an (lmder) and fd (lmdif) runs from both starts -- prints
    NAME POINT r i VALUE          residual r_i
    NAME POINT J i j VALUE        Jacobian of the residual (Dfun, row-major m x n)
with VALUE as %.17g (any NaN printed as "nan").
"""
import json
import math
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = os.environ.get("NIST_SCIPY_TOOLS", "../shared/data/tools")
sys.dont_write_bytecode = True   # never write __pycache__ into the reference tools folder
sys.path.insert(0, TOOLS)
import nist_scipy  # noqa: E402  (the reference script; main() is not run on import)

POINTS = [("start1", None, None), ("start2", None, None),
          ("start1_an_x", "start1", "an"), ("start1_fd_x", "start1", "fd"),
          ("start2_an_x", "start2", "an"), ("start2_fd_x", "start2", "fd")]


def fmt(v):
    v = float(v)
    return "nan" if math.isnan(v) else "%.17g" % v


def main(argv):
    data = Path(argv[1]) if len(argv) > 1 else HERE.parent / "data" / "nist"
    index = json.loads((data / "index.json").read_text())
    out = sys.stdout
    for item in index:
        name = item["name"]
        d = json.loads((data / f"{name}.json").read_text())
        fun, dfun = nist_scipy.make_problem(d)
        for label, start, meth in POINTS:
            if start is None:
                b = [float(v) for v in d[label]]
            else:
                ref = json.loads((data / "scipy_ref" / f"{name}_{start}_{meth}.json").read_text())
                b = [float(v) for v in ref["x"]]   # "nan"/"inf" strings also parse
            r = fun(b)
            J = dfun(b)
            for i, v in enumerate(r):
                out.write(f"{name} {label} r {i} {fmt(v)}\n")
            for i in range(J.shape[0]):
                for j in range(J.shape[1]):
                    out.write(f"{name} {label} J {i} {j} {fmt(J[i, j])}\n")


if __name__ == "__main__":
    main(sys.argv)
