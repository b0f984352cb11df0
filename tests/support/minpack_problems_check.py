#!/usr/bin/python3
"""Prints fvec and fjac of the Python reference test problems
(tools/minpack_problems.py) in the format of minpack_problems_check.cpp, so that

    diff <(minpack_problems_check) <(minpack_problems_check.py)

shows whether the C++ transcription agrees bit for bit.

Usage: minpack_problems_check.py [DATA_DIR]   (DATA_DIR = the reference data
folder holding minpack/ and tools/; default ../shared/data, from the repository root)
"""
import json
import os
import sys

DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
sys.path.insert(0, os.path.join(DATA, "tools"))

import minpack_problems as mp  # noqa: E402


def print_point(out, cid, where, nprob, n, m, x):
    f = mp.fcn(nprob, m, n, x)
    J = mp.jac(nprob, m, n, x)
    for j in range(n):
        out.append("%s %s x %d %.17g" % (cid, where, j, float(x[j])))
    for i in range(m):
        out.append("%s %s fvec %d %.17g" % (cid, where, i, float(f[i])))
    for j in range(n):
        for i in range(m):
            out.append("%s %s fjac %d %d %.17g" % (cid, where, i, j, float(J[i, j])))


def main():
    with open(os.path.join(DATA, "minpack", "cases.json")) as fh:
        cases = json.load(fh)["cases"]
    with open(os.path.join(DATA, "minpack", "scipy_ref", "scipy_results.json")) as fh:
        scipy_x = {r["id"]: r["x"] for r in json.load(fh)["results"]}
    out = []
    for c in cases:
        nprob, n, m = c["nprob"], c["n"], c["m"]
        x0 = mp.start(nprob, n, c["x0_factor"])
        print_point(out, c["id"], "start", nprob, n, m, x0)
        print_point(out, c["id"], "final", nprob, n, m, [float(v) for v in scipy_x[c["id"]]])
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
