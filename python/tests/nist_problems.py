# The NIST StRD nonlinear-regression problems as Python residual and Jacobian functions, copied
# from the project's reference tooling (shared data/tools/nist_scipy.py, the generator of
# tests/data/nist/scipy_ref) so that the Python tests stand alone. Residuals are evaluated point
# by point with Python's math module (C libm) in the operation order of model_expression;
# r_i = response_i - f(x_i; b). Integer powers 2, 3, 4 are products, other powers C pow().
import ast
import json
import math

import numpy as np

INF, NAN = float("inf"), float("nan")


def _c1(fn, on_overflow=INF, on_domain=NAN):
    """Wrap a math-module function so that it behaves like C libm (no exceptions)."""
    def g(v):
        try:
            return fn(v)
        except OverflowError:
            return on_overflow
        except ValueError:
            return on_domain
    return g


def clog(v):
    if v == 0.0:
        return -INF
    if v < 0.0 or math.isnan(v):
        return NAN
    return math.log(v)


def cpow(a, b):
    a, b = float(a), float(b)
    try:
        return math.pow(a, b)
    except OverflowError:
        neg = a < 0 and b.is_integer() and int(b) % 2 == 1
        return -INF if neg else INF
    except (ValueError, ZeroDivisionError):
        if a == 0.0:              # pole: 0 ** negative
            return INF
        return NAN                # negative base, non-integer exponent


def cdiv(a, b):
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or math.isnan(a):
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


MATHNS = {"exp": _c1(math.exp), "log": clog, "sin": _c1(math.sin), "cos": _c1(math.cos),
          "atan": math.atan, "sqrt": _c1(math.sqrt), "pi": math.pi, "E": math.e,
          "_pow": cpow, "_div": cdiv}


class _CSemantics(ast.NodeTransformer):
    """Rewrite a ** 2|3|4 -> a*a(*a..), other a ** b -> _pow(a, b) (C pow), a / b -> _div(a, b)
    (IEEE/C behaviour: no exceptions, inf/nan results)."""

    def __init__(self, products=True):
        self.products = products

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            r = node.right
            if (self.products and isinstance(r, ast.Constant) and isinstance(r.value, (int, float))
                    and float(r.value) in (2.0, 3.0, 4.0)):
                prod = node.left
                for _ in range(int(r.value) - 1):
                    prod = ast.BinOp(prod, ast.Mult(), node.left)
                return ast.copy_location(prod, node)
            return ast.copy_location(ast.Call(ast.Name("_pow", ast.Load()),
                                              [node.left, node.right], []), node)
        if isinstance(node.op, ast.Div):
            return ast.copy_location(ast.Call(ast.Name("_div", ast.Load()),
                                              [node.left, node.right], []), node)
        return node


def compile_expr(args, expr, products=True):
    tree = ast.parse(f"lambda {args}: {expr}", mode="eval")
    tree = ast.fix_missing_locations(_CSemantics(products).visit(tree))
    return eval(compile(tree, "<model>", "eval"), dict(MATHNS))


def make_problem(d, products=True):
    """(func, Dfun) of a dataset dict (tests/data/nist/NAME.json)."""
    k = d["n_parameters"]
    preds = d["predictors"]
    args = ",".join([f"b{i+1}" for i in range(k)] + preds)
    f = compile_expr(args, d["model_expression"], products)
    jf = [compile_expr(args, e, products) for e in d["jacobian_of_model"]]
    if len(preds) == 1:
        xs = [(x,) for x in d["x"]]
    else:
        xs = [tuple(r) for r in d["x"]]
    if d["response"] == "log(y)":
        resp = [math.log(y) for y in d["y"]]
    else:
        resp = list(d["y"])

    def fun(b):
        b = [float(v) for v in b]
        return np.array([r - f(*b, *xx) for r, xx in zip(resp, xs)])

    def dfun(b):
        b = [float(v) for v in b]
        J = np.empty((len(xs), k))
        for i, xx in enumerate(xs):
            for j in range(k):
                J[i, j] = -float(jf[j](*b, *xx))
        return J

    return fun, dfun


def load(path):
    with open(path) as f:
        return json.load(f)
