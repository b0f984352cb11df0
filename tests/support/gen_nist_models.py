#!/usr/bin/python3
"""Generate tests/support/nist_models.cpp from the NIST StRD dataset JSON files.

Usage:  /usr/bin/python3 tests/support/gen_nist_models.py [DATA_DIR] [OUT_CPP]
        (defaults: tests/data/nist and tests/support/nist_models.cpp next to this script)

The emitted C++ must evaluate residuals and Jacobians bit for bit as the scipy
reference runs did (tools/nist_scipy.py of the leastsq reference data). That script
does NOT use the sympy-printed `*_c` fields; it compiles the Python-syntax fields
`model_expression` and `jacobian_of_model` with an AST rewrite (`_CSemantics`):

  * a ** 2|3|4 (literal exponent) -> left-associated product ((a*a)*a)*a
  * every other a ** b           -> C pow(a, b) (with C-like results, no exceptions)
  * a / b                        -> IEEE division
  * exp/log/sin/cos/atan/sqrt    -> C libm, pi = math.pi (== M_PI)
  * evaluation one observation at a time, in the written operation order
  * residual r_i = response_i - f(x_i; b), response = y or log(y) (Nelson)
  * Jacobian passed as Dfun (col_deriv=0): J[i, j] = -(d f / d b_j)(x_i; b), m x n

This generator applies the same rewrite to the same Python AST and prints it as
fully parenthesised C++, so the operation order is exactly the one Python used.
Plain standard-library Python; no sympy needed.
"""
import ast
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent / "data" / "nist"
DEFAULT_OUT = HERE / "nist_models.cpp"

FUNCS = {"exp": "std::exp", "log": "std::log", "sin": "std::sin", "cos": "std::cos",
         "atan": "std::atan", "sqrt": "std::sqrt"}


class CSemantics(ast.NodeTransformer):
    """Same rewrite as nist_scipy.py's _CSemantics(products=True)."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            r = node.right
            if (isinstance(r, ast.Constant) and isinstance(r.value, (int, float))
                    and float(r.value) in (2.0, 3.0, 4.0)):
                prod = node.left
                for _ in range(int(r.value) - 1):
                    prod = ast.BinOp(prod, ast.Mult(), node.left)
                return ast.copy_location(prod, node)
            return ast.copy_location(
                ast.Call(ast.Name("_pow", ast.Load()), [node.left, node.right], []), node)
        if isinstance(node.op, ast.Div):
            return ast.copy_location(
                ast.Call(ast.Name("_div", ast.Load()), [node.left, node.right], []), node)
        return node


def c_literal(v):
    f = float(v)
    if isinstance(v, int) and float(f) != v:
        raise ValueError(f"integer constant {v} not exact in double")
    s = repr(f)
    if "e" not in s and "." not in s:
        s += ".0"
    return s


class Emitter:
    """Print the rewritten AST as fully parenthesised C++ (double arithmetic only)."""

    def __init__(self, names):
        self.names = names  # Python name -> C++ identifier

    def is_int_const(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return True
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.is_int_const(node.operand)
        return False

    def check_int_op(self, a, b, what):
        # Python would do exact integer arithmetic here, C++ double arithmetic; refuse
        # rather than silently differ (does not occur in the 27 NIST models).
        if self.is_int_const(a) and self.is_int_const(b):
            raise ValueError(f"int {what} int in model expression: Python and C++ may differ")

    def emit(self, node):
        if isinstance(node, ast.Expression):
            return self.emit(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ValueError(f"unsupported constant {node.value!r}")
            return c_literal(node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise ValueError(f"unknown name {node.id}")
            return self.names[node.id]
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return f"(-{self.emit(node.operand)})"
            if isinstance(node.op, ast.UAdd):
                return self.emit(node.operand)
            raise ValueError("unsupported unary op")
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
            op = ops.get(type(node.op))
            if op is None:
                raise ValueError(f"unsupported binary op {type(node.op).__name__}")
            if op != "*" or not (node.left is node.right):   # x*x from x**2 is fine
                self.check_int_op(node.left, node.right, op)
            return f"({self.emit(node.left)} {op} {self.emit(node.right)})"
        if isinstance(node, ast.Call):
            fn = node.func.id
            args = [self.emit(a) for a in node.args]
            if fn == "_div":
                self.check_int_op(node.args[0], node.args[1], "/")
                return f"({args[0]} / {args[1]})"
            if fn == "_pow":
                return f"nist_pow({args[0]}, {args[1]})"
            if fn in FUNCS and len(args) == 1:
                return f"{FUNCS[fn]}({args[0]})"
            raise ValueError(f"unsupported call {fn}")
        raise ValueError(f"unsupported node {type(node).__name__}")


def to_cpp(expr, names):
    tree = ast.parse(expr, mode="eval")
    tree = ast.fix_missing_locations(CSemantics().visit(tree))
    return Emitter(names).emit(tree)


HEADER = """\
// GENERATED FILE - DO NOT EDIT.
// Generated by tests/support/gen_nist_models.py from tests/data/nist/*.json
// (fields model_expression / jacobian_of_model, rewritten exactly as the scipy
// reference script nist_scipy.py compiles them: a**2|3|4 as left-associated
// products, other powers via C pow(), written operation order, C libm, pi = M_PI).
// Regenerate:  /usr/bin/python3 tests/support/gen_nist_models.py
// Build with -ffp-contract=off (no FMA contraction) to keep the results bitwise
// identical to the reference evaluation.

#include "nist_models.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace lmbatch::test {
namespace {

constexpr double kPi = 3.141592653589793;  // == M_PI == Python math.pi

// libm pow through a volatile pointer: the compiler must not rewrite pow(a, -1.0)
// into 1.0 / a (or similar) because the reference called libm pow() for these.
double (*volatile const g_libm_pow)(double, double) = &::pow;

// C pow as nist_scipy.py's cpow(): like libm pow, except that 0 ** negative gives
// +inf also for a base of -0.0 (Python raises and the reference maps that to +inf).
inline double nist_pow(double a, double b) {
  if (a == 0.0 && b < 0.0) return std::numeric_limits<double>::infinity();
  return g_libm_pow(a, b);
}

"""

FOOTER = """\
}  // namespace

const NistModel* find_nist_model(const char* name) {
  if (name == nullptr) return nullptr;
  for (const NistModel& m : kModels) {
    if (std::strcmp(m.name, name) == 0) return &m;
  }
  return nullptr;
}

std::span<const NistModel> all_nist_models() { return std::span<const NistModel>(kModels); }

}  // namespace lmbatch::test
"""


def gen_model(d):
    name = d["name"]
    k = d["n_parameters"]
    preds = d["predictors"]
    names = {f"b{i + 1}": f"b{i + 1}" for i in range(k)}
    names.update({p: p for p in preds})
    names["pi"] = "kPi"
    names["E"] = "2.718281828459045"
    f_cpp = to_cpp(d["model_expression"], names)
    j_cpp = [to_cpp(e, names) for e in d["jacobian_of_model"]]
    if len(j_cpp) != k:
        raise ValueError(f"{name}: {len(j_cpp)} Jacobian columns for {k} parameters")

    if preds == ["x"]:
        load_x = "    const double x = px1[i];\n"
        unused = "  (void)px2;\n"
    elif preds == ["x1", "x2"]:
        load_x = "    const double x1 = px1[i];\n    const double x2 = px2[i];\n"
        unused = ""
    else:
        raise ValueError(f"{name}: predictors {preds}")
    if d["response"] == "y":
        resp = "py[i]"
    elif d["response"] == "log(y)":
        resp = "std::log(py[i])"
    else:
        raise ValueError(f"{name}: response {d['response']}")
    def load_b(exprs):
        # declare only the parameters the expressions use (no unused-variable warnings)
        used = {n.id for e in exprs for n in ast.walk(ast.parse(e, mode="eval"))
                if isinstance(n, ast.Name)}
        return "".join(f"  const double b{i + 1} = b[{i}];\n" for i in range(k)
                       if f"b{i + 1}" in used)

    out = []
    out.append(f"// ---- {name} ({k} parameters, {d['n_observations']} observations)\n")
    out.append(f"// f = {d['model_expression']}\n")
    out.append(f"// r_i = {resp.replace('py[i]', 'y_i')} - f(x_i; b)\n")
    out.append(f"void {name}_residuals(const double* b, int m, const double* px1, "
               f"const double* px2, const double* py, double* r) {{\n")
    out.append(unused + load_b([d["model_expression"]]))
    out.append("  for (int i = 0; i < m; ++i) {\n" + load_x)
    out.append(f"    r[i] = {resp} - {f_cpp};\n")
    out.append("  }\n}\n\n")
    out.append(f"// J[i*{k} + j] = d r_i / d b_j = -(d f / d b_j)(x_i; b), row-major m x {k}\n")
    for j, e in enumerate(d["jacobian_of_model"]):
        out.append(f"//   df/db{j + 1} = {e}\n")
    out.append(f"void {name}_jacobian(const double* b, int m, const double* px1, "
               f"const double* px2, const double* py, double* J) {{\n")
    out.append(unused + "  (void)py;\n" + load_b(d["jacobian_of_model"]))
    out.append(f"  for (int i = 0; i < m; ++i) {{\n" + load_x)
    out.append(f"    double* Ji = J + static_cast<long>(i) * {k};\n")
    for j, e in enumerate(j_cpp):
        out.append(f"    Ji[{j}] = -{e};\n")
    out.append("  }\n}\n\n")
    return "".join(out)


def main(argv):
    data = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    out_path = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    index = json.loads((data / "index.json").read_text())
    parts = [HEADER]
    names = []
    for item in index:
        d = json.loads((data / f"{item['name']}.json").read_text())
        parts.append(gen_model(d))
        names.append((d["name"], d["n_parameters"]))
    parts.append("constexpr NistModel kModels[] = {\n")
    for n, k in names:
        parts.append(f"    {{\"{n}\", {k}, &{n}_residuals, &{n}_jacobian}},\n")
    parts.append("};\n\n")
    parts.append(FOOTER)
    out_path.write_text("".join(parts))
    print(f"wrote {out_path} ({len(names)} models)")


if __name__ == "__main__":
    main(sys.argv)
