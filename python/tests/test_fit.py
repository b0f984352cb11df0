"""lmbatch.fit: the batch engine on numpy arrays."""
import threading
import time
import tracemalloc

import numpy as np
import pytest
from scipy.optimize import leastsq as scipy_leastsq

import lmbatch

M = 80
X = np.linspace(-5.0, 5.0, M)


def gaussian_constant(p, x):
    return p[0] * np.exp(-(x - p[1]) ** 2 / (2 * p[2] ** 2)) + p[3]


def gaussian_constant_jac(p, x):
    d = x - p[1]
    e = np.exp(-d * d / (2 * p[2] ** 2))
    return np.column_stack([e, p[0] * e * d / p[2] ** 2, p[0] * e * d * d / p[2] ** 3,
                            np.ones_like(x)])


def make_problems(rng, shape, noise=0.05):
    """Gaussian-on-a-constant spectra with leading shape `shape`, and a start near the truth."""
    a = rng.uniform(1, 5, shape)
    c = rng.uniform(-2, 2, shape)
    s = rng.uniform(0.5, 1.5, shape)
    b = rng.uniform(-1, 1, shape)
    truth = np.stack([a, c, s, b], axis=-1)
    y = np.empty(shape + (M,))
    for idx in np.ndindex(*shape):
        y[idx] = gaussian_constant(truth[idx], X)
    y += rng.normal(0, noise, y.shape)
    x0 = truth * np.array([0.8, 1.0, 1.2, 0.5]) + np.array([0.0, 0.3, 0.0, 0.0])
    return y, truth, x0


@pytest.mark.parametrize("jacobian", ["analytic", "forward"])
def test_agrees_with_a_scipy_loop(rng, jacobian):
    y, truth, x0 = make_problems(rng, (150,))
    r = lmbatch.fit(y, "gaussian+constant", x=X, x0=x0, jacobian=jacobian, threads=2)
    assert r.parameter_names == ["amplitude", "center", "sigma", "c"]

    def resid(p, x, yy):
        return yy - gaussian_constant(p, x)

    def jac(p, x, yy):
        return -gaussian_constant_jac(p, x)

    same = 0
    for i in range(len(y)):
        kw = {"Dfun": jac} if jacobian == "analytic" else {}
        p, cov, info, mesg, ier = scipy_leastsq(resid, x0[i], args=(X, y[i]), full_output=True,
                                                **kw)
        # The model is evaluated in C++ here, with numpy there: last-bit differences are
        # possible, so compare outcomes and x closely rather than bit for bit.
        same += (ier == r.ier[i]) and (info["nfev"] == r.nfev[i])
        rtol = 1e-9 if jacobian == "analytic" else 1e-4
        np.testing.assert_allclose(r.x[i], p, rtol=rtol)
        assert r.cost[i] == pytest.approx(float(np.dot(info["fvec"], info["fvec"])), rel=1e-8)
        if cov is not None and r.converged[i]:
            tol = 1e-5 if jacobian == "forward" else 1e-8
            np.testing.assert_allclose(r.cov_x[i], cov, rtol=tol, atol=tol * np.abs(cov).max())
        if jacobian == "analytic":
            assert r.njev[i] == info["njev"]
    assert same >= 0.98 * len(y)


@pytest.mark.parametrize("shape", [(), (7,), (4, 5), (2, 3, 4)])
def test_any_leading_shape(rng, shape):
    y, truth, x0 = make_problems(rng, shape)
    r = lmbatch.fit(y, "gaussian+constant", x=X, full_output=True)
    n = 4
    assert r.shape == shape and r.m == M and r.n == n
    assert r.x.shape == shape + (n,)
    assert r.cov_x.shape == shape + (n, n)
    for name in ("cost", "nfev", "njev", "ier", "m_valid"):
        assert getattr(r, name).shape == shape, name
    assert r.ier.dtype == np.int16 and r.nfev.dtype == np.int32
    assert r.fvec.shape == shape + (M,) and r.fjac.shape == shape + (n, M)
    assert r.ipvt.shape == shape + (n,) and r.qtf.shape == shape + (n,)
    assert r["center"].shape == shape
    assert np.all(r.converged)
    np.testing.assert_allclose(r.x, truth, atol=0.2)
    # The same problems flattened give the same numbers (row-major order).
    flat = lmbatch.fit(y.reshape(-1, M), "gaussian+constant", x=X)
    np.testing.assert_array_equal(flat.x.reshape(r.x.shape), r.x)


def test_parameter_maps_of_an_image_cube(rng):
    y, truth, x0 = make_problems(rng, (16, 12))
    r = lmbatch.fit(y, "gaussian+constant", x=X)
    assert r["amplitude"].shape == (16, 12)
    np.testing.assert_allclose(r["center"], truth[..., 1], atol=0.05)
    with pytest.raises(KeyError, match="'width' is not a parameter"):
        r["width"]


def test_per_problem_inputs_and_missing_samples(rng):
    y, truth, x0 = make_problems(rng, (6,))
    xs = np.tile(X, (6, 1))
    sigma = np.full(y.shape, 0.05)
    y[2, :10] = np.nan
    r = lmbatch.fit(y, "gaussian+constant", x=xs, sigma=sigma, x0=x0)
    assert list(r.m_valid) == [M, M, M - 10, M, M, M]
    shared = lmbatch.fit(y, "gaussian+constant", x=X, sigma=sigma[0], x0=x0)
    np.testing.assert_array_equal(r.x, shared.x)
    # Fewer valid samples than parameters: not solved, ier -3, x NaN.
    y[4, 3:] = np.nan
    r = lmbatch.fit(y, "gaussian+constant", x=X, x0=x0)
    assert r.ier[4] == -3 and np.all(np.isnan(r.x[4]))
    assert r.ier_counts[-3] == 1 and r.first_failures == [4]


def test_results_do_not_depend_on_threads(rng):
    y, truth, x0 = make_problems(rng, (300,))
    a = lmbatch.fit(y, "gaussian+constant", x=X, threads=1, chunk_size=7)
    b = lmbatch.fit(y, "gaussian+constant", x=X, threads=2, chunk_size=64)
    for name in ("x", "cov_x", "cost", "nfev", "ier"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.threads == 1 and b.threads == 2


def test_simd_lanes_give_the_same_bits(rng):
    y, truth, x0 = make_problems(rng, (203,))
    y[5, 7] = np.nan  # a problem with a missing sample is solved alone, beside the lanes
    lanes = lmbatch.fit(y, "gaussian+constant", x=X, threads=2)
    alone = lmbatch.fit(y, "gaussian+constant", x=X, simd="off")
    for name in ("x", "cov_x", "cost", "stderr", "nfev", "njev", "ier", "start"):
        np.testing.assert_array_equal(getattr(lanes, name), getattr(alone, name))
    assert alone.lane_problems == 0
    assert lanes.options["simd"] == "auto" and alone.options["simd"] == "off"
    assert lanes.lane_problems in (0, 202)  # 0 on a CPU without SSE4


def test_float64_c_contiguous_input_is_not_copied(rng):
    y, truth, x0 = make_problems(rng, (2000,), noise=0.1)
    assert y.dtype == np.float64 and y.flags.c_contiguous
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        lmbatch.fit(y, "constant", x=X)
        _, peak64 = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        lmbatch.fit(y.astype(np.float32), "constant", x=X)
        _, peak32 = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy allocations are traced: a copy of y would show up as y.nbytes.
    assert peak64 < 0.1 * y.nbytes
    assert peak32 >= y.nbytes  # the float32 input and its one float64 conversion


def test_float32_is_read_as_its_float64_values(rng):
    y, truth, x0 = make_problems(rng, (20,))
    y32 = y.astype(np.float32)
    a = lmbatch.fit(y32, "gaussian+constant", x=X.astype(np.float32))
    b = lmbatch.fit(y32.astype(np.float64), "gaussian+constant", x=X.astype(np.float32).astype(float))
    np.testing.assert_array_equal(a.x, b.x)
    # Non-contiguous float64 views and other layouts work too (converted once).
    c = lmbatch.fit(np.asfortranarray(y), "gaussian+constant", x=X)
    d = lmbatch.fit(y, "gaussian+constant", x=X)
    np.testing.assert_array_equal(c.x, d.x)
    e = lmbatch.fit(y[:, ::2], "gaussian+constant", x=X[::2])
    assert e.m == M // 2


def test_releases_the_gil(rng):
    y, truth, x0 = make_problems(rng, (4000,))
    done = threading.Event()
    ticks = 0

    def work():
        lmbatch.fit(y, "gaussian+constant", x=X, threads=1)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
    t.join()
    # While the fit runs this thread keeps running Python code. No clock: the
    # count compares two amounts of work (4000 fits, a Python loop), which a
    # faster or a busier machine changes alike.
    assert ticks > 10000


def test_progress_callback(rng):
    y, truth, x0 = make_problems(rng, (500,))
    seen = []
    lmbatch.fit(y, "gaussian+constant", x=X, chunk_size=16, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (500, 500)
    assert all(t == 500 for _, t in seen)

    def stop(done, total):
        raise RuntimeError("stop here")

    big, _, _ = make_problems(rng, (3000,))
    with pytest.raises(RuntimeError, match="stop here"):
        lmbatch.fit(big, "gaussian+constant", x=X, chunk_size=8, threads=1, progress=stop)


def test_options_reach_the_solver(rng):
    y, truth, x0 = make_problems(rng, (30,))
    r = lmbatch.fit(y, "gaussian+constant", x=X, x0=x0, maxfev=3)
    assert set(np.unique(r.ier)) == {5} and np.all(r.nfev <= 4)
    assert r.message(5) == "Number of calls to function has reached maxfev = 3."
    loose = lmbatch.fit(y, "gaussian+constant", x=X, x0=x0, ftol=1e-2, xtol=1e-2)
    tight = lmbatch.fit(y, "gaussian+constant", x=X, x0=x0)
    assert loose.nfev.sum() < tight.nfev.sum()
    scaled = lmbatch.fit(y, "gaussian+constant", x=X, x0=x0, diag=[1, 1, 1, 1], factor=1.0,
                         epsfcn=1e-10, gtol=1e-12)
    assert scaled.x.shape == (30, 4)


def test_expression_models(rng):
    try:
        lmbatch.parameter_names("expr: a*x + b")
    except ValueError:
        pytest.skip("this engine has no expression models")
    y, truth, x0 = make_problems(rng, (10,))
    spec = "expr: a*exp(-(x-c)^2/(2*s^2)) + b"
    r = lmbatch.fit(y, spec, x=X, x0=x0)
    catalogue = lmbatch.fit(y, "gaussian+constant", x=X, x0=x0)
    assert r.parameter_names == ["a", "c", "s", "b"]
    np.testing.assert_allclose(r.x, catalogue.x, rtol=1e-7)
    mixed = lmbatch.fit(y, "gaussian + expr: b + 0*x", x=X, x0=x0)
    np.testing.assert_allclose(mixed.x, catalogue.x, rtol=1e-7)


# ---- errors --------------------------------------------------------------------------------

def test_bad_inputs_are_valueerrors(rng):
    y, truth, x0 = make_problems(rng, (4, 5))
    bad = [
        (dict(y=np.float64(1.0)), "y must have at least one dimension"),
        (dict(y=np.zeros((3, 0))), "no samples"),
        (dict(y=np.array(["a", "b"])), "y must be a real numeric array"),
        (dict(x=np.zeros(M + 1)), r"x has shape \(81,\); expected \(80,\)"),
        (dict(sigma=np.ones((4, M))), r"sigma has shape \(4, 80\); expected"),
        (dict(x0=np.ones(3)), r"x0 has shape \(3,\); expected \(4,\)"),
        (dict(x0=np.ones((5, 4, 4))), r"x0 has shape \(5, 4, 4\)"),
        (dict(model="gaussian+nosuchterm"), 'unknown model term "nosuchterm"'),
        (dict(model=3), "model must be a string"),
        (dict(sigma=np.zeros(M)), r"problem 0 \(y index \(0, 0\)\): sigma must be finite and > 0"),
        (dict(x0=np.full(4, np.nan)), "x0 is not finite"),
        (dict(ftol=-1.0), "ftol"),
        (dict(maxfev=-1), "maxfev must be >= 0"),
        (dict(maxfev=2.5), "maxfev must be an integer"),
        (dict(factor=0.0), "factor"),
        (dict(diag=[1.0, 2.0]), "diag has 2 values; the model has 4 parameters"),
        (dict(diag=[1.0, 0.0, 1.0, 1.0]), "diag"),
        (dict(jacobian="central"), "jacobian must be 'analytic' or 'forward'"),
        (dict(threads=-1), "threads must be"),
        (dict(chunk_size=0), "chunk_size must be >= 1"),
    ]
    for change, message in bad:
        kw = dict(y=y, model="gaussian+constant", x=X)
        kw.update(change)
        with pytest.raises(ValueError, match=message):
            lmbatch.fit(**kw)


def test_unknown_option_is_typeerror(rng):
    y, truth, x0 = make_problems(rng, (2,))
    with pytest.raises(TypeError, match="unexpected keyword argument 'tolerance'"):
        lmbatch.fit(y, "gaussian+constant", tolerance=1e-3)


def test_models_catalogue():
    names = [t["name"] for t in lmbatch.models()]
    assert "gaussian" in names and "constant" in names
    assert lmbatch.parameter_names("gaussian*2+linear") == [
        "amplitude_1", "center_1", "sigma_1", "amplitude_2", "center_2", "sigma_2",
        "intercept", "slope"]
    with pytest.raises(ValueError, match='bad repeat count "0"'):
        lmbatch.parameter_names("gaussian*0")
    assert isinstance(lmbatch.__version__, str) and lmbatch.__version__


def test_a_signal_stops_the_fit(rng):
    """Ctrl-C (here: SIGALRM with a handler that raises) stops a long fit within a chunk."""
    import signal

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop()

    # 20 Gaussians per problem: finishing these 5000 problems would take minutes of CPU even on
    # a fast machine, stopping costs the one problem in flight (chunks of 1, maxfev bounds it).
    y, truth, x0 = make_problems(rng, (5000,))
    # The signal comes once the fit has reported progress, not after a delay: it always lands
    # mid-fit, however fast or busy the machine. It is sent from another thread so that the
    # fit's own signal check, not the progress callback, is what meets it.
    running = threading.Event()
    state = {"over": False, "cpu_at_signal": None}
    main = threading.get_ident()

    def send():
        running.wait()
        if not state["over"]:
            state["cpu_at_signal"] = time.process_time()
            signal.pthread_kill(main, signal.SIGALRM)

    sender = threading.Thread(target=send, daemon=True)
    previous = signal.signal(signal.SIGALRM, handler)
    try:
        sender.start()
        with pytest.raises(Stop):
            lmbatch.fit(y, "gaussian*20+constant", x=X, threads=1, chunk_size=1, maxfev=400,
                        progress=lambda done, total: running.set())
        # Work, not wall time, after the signal: a fraction of a second of CPU for the problem in
        # flight, against minutes had the fit gone on to the end.
        assert time.process_time() - state["cpu_at_signal"] < 5.0
    finally:
        state["over"] = True
        running.set()
        sender.join()
        signal.signal(signal.SIGALRM, previous)
