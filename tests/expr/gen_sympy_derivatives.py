#!/usr/bin/python3
"""Generate tests/expr/data/sympy_derivatives.json: SymPy's derivatives of the
expressions in data/sympy_expressions.txt (one per line, lmbatch syntax with ^),
as str(sympy.diff(expr, p)) prints them, for every parameter p in order of
first appearance. test_expr_sympy.cpp checks that lmbatch's expressions print
the same derivatives (sym.cpp reproduces SymPy's canonical form and printer).

Usage:  /usr/bin/python3 tests/expr/gen_sympy_derivatives.py   (needs python3-sympy;
        the committed file was made with SymPy 1.14)
"""
import json
import re
from pathlib import Path

import sympy as sp

HERE = Path(__file__).resolve().parent
FUNCTIONS = {"exp", "log", "sin", "cos", "atan", "sqrt", "pow", "pi", "x"}


def main():
    out = []
    for line in (HERE / "data" / "sympy_expressions.txt").read_text().splitlines():
        text = line.strip()
        if not text:
            continue
        py = text.replace("^", "**")
        order = []
        for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", py):
            name = m.group(0)
            if name not in FUNCTIONS and name not in order:
                order.append(name)
        symbols = {n: sp.Symbol(n) for n in order}
        symbols["x"] = sp.Symbol("x")
        symbols["pi"] = sp.pi
        e = sp.sympify(py, locals=symbols)
        out.append({"expression": text, "parameters": order,
                    "derivatives": [str(sp.diff(e, symbols[p])) for p in order]})
    path = HERE / "data" / "sympy_derivatives.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} ({len(out)} expressions, sympy {sp.__version__})")


if __name__ == "__main__":
    main()
