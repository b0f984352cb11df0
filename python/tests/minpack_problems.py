# Copied from the project's reference tooling (shared data/tools/minpack_problems.py, the
# generator of tests/data/minpack) so that the Python tests stand alone. Keep in sync by copying.
"""The 18 MINPACK-1 nonlinear least-squares test problems (More, Garbow,
Hillstrom 1981), written in Python from their mathematical definitions
(see minpack/PROBLEMS.md).  Residuals f(x) (length m), Jacobian
J[i, j] = d f_i / d x_j (m x n), and the standard starting point.

Operation order inside each residual follows the formulas in PROBLEMS.md so
that results are as close as possible to the reference runs.
"""
import math

import numpy as np

NAMES = {
    1: "Linear function - full rank",
    2: "Linear function - rank 1",
    3: "Linear function - rank 1 with zero columns and rows",
    4: "Rosenbrock",
    5: "Helical valley",
    6: "Powell singular",
    7: "Freudenstein and Roth",
    8: "Bard",
    9: "Kowalik and Osborne",
    10: "Meyer",
    11: "Watson",
    12: "Box 3-dimensional",
    13: "Jennrich and Sampson",
    14: "Brown and Dennis",
    15: "Chebyquad",
    16: "Brown almost-linear",
    17: "Osborne 1",
    18: "Osborne 2",
}

# Data of the data-fitting problems (from the MGH paper).
BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73,
          0.96, 1.34, 2.10, 4.39]
KOWALIK_U = [4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]
KOWALIK_Y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342,
             0.0323, 0.0235, 0.0246]
MEYER_Y = [34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0, 11540.0,
           9744.0, 8261.0, 7030.0, 6005.0, 5147.0, 4427.0, 3820.0, 3307.0, 2872.0]
OSBORNE1_Y = [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818,
              0.784, 0.751, 0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558,
              0.538, 0.522, 0.506, 0.490, 0.478, 0.467, 0.457, 0.448, 0.438,
              0.431, 0.424, 0.420, 0.414, 0.411, 0.406]
OSBORNE2_Y = [1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786,
              0.725, 0.746, 0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626,
              0.651, 0.724, 0.649, 0.649, 0.694, 0.644, 0.624, 0.661, 0.612,
              0.558, 0.533, 0.495, 0.500, 0.423, 0.395, 0.375, 0.372, 0.391,
              0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653, 0.672,
              0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559, 0.597, 0.625,
              0.739, 0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162,
              0.098, 0.054]

X0 = {
    4: [-1.2, 1.0],
    5: [-1.0, 0.0, 0.0],
    6: [3.0, -1.0, 0.0, 1.0],
    7: [0.5, -2.0],
    8: [1.0, 1.0, 1.0],
    9: [0.25, 0.39, 0.415, 0.39],
    10: [0.02, 4000.0, 250.0],
    12: [0.0, 10.0, 20.0],
    13: [0.3, 0.4],
    14: [25.0, 5.0, -5.0, -1.0],
    17: [0.5, 1.5, -1.0, 0.01, 0.02],
    18: [1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5],
}


def start(nprob, n, factor=1.0):
    """Standard starting point scaled by factor (Watson: x_j = factor if factor != 1)."""
    if nprob in (1, 2, 3):
        x = [1.0] * n
    elif nprob == 11:
        x = [0.0] * n
    elif nprob == 15:
        h = 1.0 / (n + 1)
        x = [(j + 1) * h for j in range(n)]
    elif nprob == 16:
        x = [0.5] * n
    else:
        x = list(X0[nprob])
        assert len(x) == n
    if factor != 1.0:
        if nprob == 11:
            x = [float(factor)] * n
        else:
            x = [factor * v for v in x]
    return np.array(x, dtype=float)


def _sq(v):
    """v**2 as a product (what Fortran/C compilers emit for an integer power 2;
    libm pow(v, 2.0) can differ from v*v in the last bit)."""
    return v * v


def _cexp(v):
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def fcn(nprob, m, n, x):
    x = [float(v) for v in x]
    f = [0.0] * m
    if nprob == 1:
        s = 0.0
        for v in x:
            s += v
        temp = 2.0 * s / m + 1.0
        for i in range(m):
            f[i] = -temp
            if i < n:
                f[i] += x[i]
    elif nprob == 2:
        s = 0.0
        for j in range(n):
            s += (j + 1) * x[j]
        for i in range(m):
            f[i] = (i + 1) * s - 1.0
    elif nprob == 3:
        s = 0.0
        for j in range(1, n - 1):
            s += (j + 1) * x[j]
        for i in range(m):
            f[i] = i * s - 1.0
        f[m - 1] = -1.0
    elif nprob == 4:
        f[0] = 10.0 * (x[1] - _sq(x[0]))
        f[1] = 1.0 - x[0]
    elif nprob == 5:
        tpi = 8.0 * math.atan(1.0)
        t = math.copysign(0.25, x[1])
        if x[0] > 0:
            t = math.atan(x[1] / x[0]) / tpi
        if x[0] < 0:
            t = math.atan(x[1] / x[0]) / tpi + 0.5
        r = math.sqrt(_sq(x[0]) + _sq(x[1]))
        f[0] = 10.0 * (x[2] - 10.0 * t)
        f[1] = 10.0 * (r - 1.0)
        f[2] = x[2]
    elif nprob == 6:
        f[0] = x[0] + 10.0 * x[1]
        f[1] = math.sqrt(5.0) * (x[2] - x[3])
        f[2] = _sq(x[1] - 2.0 * x[2])
        f[3] = math.sqrt(10.0) * _sq(x[0] - x[3])
    elif nprob == 7:
        f[0] = -13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1]
        f[1] = -29.0 + x[0] + ((1.0 + x[1]) * x[1] - 14.0) * x[1]
    elif nprob == 8:
        for i in range(15):
            u = float(i + 1)
            v = float(15 - i)
            w = u if i + 1 <= 8 else v
            f[i] = BARD_Y[i] - (x[0] + u / (x[1] * v + x[2] * w))
    elif nprob == 9:
        for i in range(11):
            u = KOWALIK_U[i]
            a = u * (u + x[1])
            b = u * (u + x[2]) + x[3]
            f[i] = KOWALIK_Y[i] - x[0] * a / b
    elif nprob == 10:
        for i in range(16):
            temp = 5.0 * (i + 1) + 45.0 + x[2]
            f[i] = x[0] * _cexp(x[1] / temp) - MEYER_Y[i]
    elif nprob == 11:
        for i in range(29):
            t = (i + 1) / 29.0
            s1 = 0.0
            dx = 1.0
            for j in range(1, n):
                s1 += j * dx * x[j]
                dx = t * dx
            s2 = 0.0
            dx = 1.0
            for j in range(n):
                s2 += dx * x[j]
                dx = t * dx
            f[i] = s1 - _sq(s2) - 1.0
        f[29] = x[0]
        f[30] = x[1] - _sq(x[0]) - 1.0
    elif nprob == 12:
        for i in range(m):
            c = float(i + 1)
            t = c / 10.0
            f[i] = _cexp(-t * x[0]) - _cexp(-t * x[1]) + (math.exp(-c) - math.exp(-t)) * x[2]
    elif nprob == 13:
        for i in range(m):
            c = float(i + 1)
            f[i] = 2.0 + 2.0 * c - _cexp(c * x[0]) - _cexp(c * x[1])
    elif nprob == 14:
        for i in range(m):
            t = (i + 1) / 5.0
            a = x[0] + t * x[1] - math.exp(t)
            b = x[2] + math.sin(t) * x[3] - math.cos(t)
            f[i] = _sq(a) + _sq(b)
    elif nprob == 15:
        for j in range(n):
            t0 = 1.0
            t1 = 2.0 * x[j] - 1.0
            y2 = 2.0 * t1
            for i in range(m):
                f[i] += t1
                tn = y2 * t1 - t0
                t0 = t1
                t1 = tn
        dx = 1.0 / n
        for i in range(m):
            f[i] = dx * f[i]
            if (i + 1) % 2 == 0:
                f[i] += 1.0 / ((i + 1) ** 2 - 1.0)
    elif nprob == 16:
        s = -float(n + 1)
        p = 1.0
        for j in range(n):
            s += x[j]
            p = x[j] * p
        for i in range(n):
            f[i] = x[i] + s
        f[n - 1] = p - 1.0
    elif nprob == 17:
        for i in range(33):
            t = 10.0 * i
            f[i] = OSBORNE1_Y[i] - (x[0] + x[1] * _cexp(-x[3] * t) + x[2] * _cexp(-x[4] * t))
    elif nprob == 18:
        for i in range(65):
            t = i / 10.0
            e1 = _cexp(-x[4] * t)
            e2 = _cexp(-x[5] * _sq(t - x[8]))
            e3 = _cexp(-x[6] * _sq(t - x[9]))
            e4 = _cexp(-x[7] * _sq(t - x[10]))
            f[i] = OSBORNE2_Y[i] - (x[0] * e1 + x[1] * e2 + x[2] * e3 + x[3] * e4)
    else:
        raise ValueError(nprob)
    return np.array(f)


def jac(nprob, m, n, x):
    x = [float(v) for v in x]
    J = np.zeros((m, n))
    if nprob == 1:
        J[:, :] = -2.0 / m
        for j in range(n):
            J[j, j] += 1.0
    elif nprob == 2:
        for i in range(m):
            for j in range(n):
                J[i, j] = float(i + 1) * float(j + 1)
    elif nprob == 3:
        for i in range(1, m - 1):
            for j in range(1, n - 1):
                J[i, j] = float(i) * float(j + 1)
    elif nprob == 4:
        J[0, 0] = -20.0 * x[0]
        J[0, 1] = 10.0
        J[1, 0] = -1.0
    elif nprob == 5:
        tpi = 8.0 * math.atan(1.0)
        r2 = _sq(x[0]) + _sq(x[1])
        r = math.sqrt(r2)
        J[0, 0] = 100.0 * x[1] / (tpi * r2)
        J[0, 1] = -100.0 * x[0] / (tpi * r2)
        J[0, 2] = 10.0
        J[1, 0] = 10.0 * x[0] / r
        J[1, 1] = 10.0 * x[1] / r
        J[2, 2] = 1.0
    elif nprob == 6:
        J[0, 0] = 1.0
        J[0, 1] = 10.0
        J[1, 2] = math.sqrt(5.0)
        J[1, 3] = -math.sqrt(5.0)
        J[2, 1] = 2.0 * (x[1] - 2.0 * x[2])
        J[2, 2] = -2.0 * J[2, 1]
        J[3, 0] = 2.0 * math.sqrt(10.0) * (x[0] - x[3])
        J[3, 3] = -J[3, 0]
    elif nprob == 7:
        J[0, 0] = 1.0
        J[0, 1] = x[1] * (10.0 - 3.0 * x[1]) - 2.0
        J[1, 0] = 1.0
        J[1, 1] = x[1] * (2.0 + 3.0 * x[1]) - 14.0
    elif nprob == 8:
        for i in range(15):
            u = float(i + 1)
            v = float(15 - i)
            w = u if i + 1 <= 8 else v
            d2 = _sq(x[1] * v + x[2] * w)
            J[i, 0] = -1.0
            J[i, 1] = u * v / d2
            J[i, 2] = u * w / d2
    elif nprob == 9:
        for i in range(11):
            u = KOWALIK_U[i]
            a = u * (u + x[1])
            b = u * (u + x[2]) + x[3]
            J[i, 0] = -a / b
            J[i, 1] = -u * x[0] / b
            J[i, 2] = J[i, 0] * J[i, 1]
            J[i, 3] = J[i, 2] / u
    elif nprob == 10:
        for i in range(16):
            temp = 5.0 * (i + 1) + 45.0 + x[2]
            q = x[1] / temp
            e = _cexp(q)
            J[i, 0] = e
            J[i, 1] = x[0] * e / temp
            J[i, 2] = -q * J[i, 1]
    elif nprob == 11:
        for i in range(29):
            t = (i + 1) / 29.0
            s2 = 0.0
            dx = 1.0
            for j in range(n):
                s2 += dx * x[j]
                dx = t * dx
            temp = 2.0 * t * s2
            dx = 1.0 / t
            for j in range(n):
                J[i, j] = dx * (j - temp)      # t^(j-1) * ((j-1) - 2 t s2), 1-based j
                dx = t * dx
        J[29, 0] = 1.0
        J[30, 0] = -2.0 * x[0]
        J[30, 1] = 1.0
    elif nprob == 12:
        for i in range(m):
            c = float(i + 1)
            t = c / 10.0
            J[i, 0] = -t * _cexp(-t * x[0])
            J[i, 1] = t * _cexp(-t * x[1])
            J[i, 2] = math.exp(-c) - math.exp(-t)
    elif nprob == 13:
        for i in range(m):
            c = float(i + 1)
            J[i, 0] = -c * _cexp(c * x[0])
            J[i, 1] = -c * _cexp(c * x[1])
    elif nprob == 14:
        for i in range(m):
            t = (i + 1) / 5.0
            s = math.sin(t)
            a = x[0] + t * x[1] - math.exp(t)
            b = x[2] + s * x[3] - math.cos(t)
            J[i, 0] = 2.0 * a
            J[i, 1] = t * J[i, 0]
            J[i, 2] = 2.0 * b
            J[i, 3] = s * J[i, 2]
    elif nprob == 15:
        dx = 1.0 / n
        for j in range(n):
            t0 = 1.0             # T_{k-1}(y)
            t1 = 2.0 * x[j] - 1.0  # T_k(y), y = 2 x_j - 1
            y2 = 2.0 * t1
            d0 = 0.0             # d/dx_j T_{k-1}(y)
            d1 = 2.0             # d/dx_j T_k(y)
            for i in range(m):
                J[i, j] = dx * d1
                dn = 4.0 * t1 + y2 * d1 - d0
                d0 = d1
                d1 = dn
                tn = y2 * t1 - t0
                t0 = t1
                t1 = tn
    elif nprob == 16:
        p = 1.0
        for j in range(n):
            p = x[j] * p
            for i in range(n):
                J[i, j] = 1.0
            J[j, j] = 2.0
        for j in range(n):
            if x[j] != 0.0:
                J[n - 1, j] = p / x[j]
            else:
                q = 1.0
                for k in range(n):
                    if k != j:
                        q = x[k] * q
                J[n - 1, j] = q
    elif nprob == 17:
        for i in range(33):
            t = 10.0 * i
            e1 = _cexp(-x[3] * t)
            e2 = _cexp(-x[4] * t)
            J[i, 0] = -1.0
            J[i, 1] = -e1
            J[i, 2] = -e2
            J[i, 3] = t * x[1] * e1
            J[i, 4] = t * x[2] * e2
    elif nprob == 18:
        for i in range(65):
            t = i / 10.0
            e1 = _cexp(-x[4] * t)
            e2 = _cexp(-x[5] * _sq(t - x[8]))
            e3 = _cexp(-x[6] * _sq(t - x[9]))
            e4 = _cexp(-x[7] * _sq(t - x[10]))
            J[i, 0] = -e1
            J[i, 1] = -e2
            J[i, 2] = -e3
            J[i, 3] = -e4
            J[i, 4] = t * x[0] * e1
            J[i, 5] = x[1] * _sq(t - x[8]) * e2
            J[i, 6] = x[2] * _sq(t - x[9]) * e3
            J[i, 7] = x[3] * _sq(t - x[10]) * e4
            J[i, 8] = -2.0 * x[1] * x[5] * (t - x[8]) * e2
            J[i, 9] = -2.0 * x[2] * x[6] * (t - x[9]) * e3
            J[i, 10] = -2.0 * x[3] * x[7] * (t - x[10]) * e4
    else:
        raise ValueError(nprob)
    return J


def enorm(v):
    """Euclidean norm without underflow/overflow (like MINPACK enorm)."""
    v = np.abs(np.asarray(v, dtype=float))
    s = float(np.max(v)) if v.size else 0.0
    if s == 0.0 or not math.isfinite(s):
        return s
    return s * math.sqrt(float(np.sum((v / s) ** 2)))
