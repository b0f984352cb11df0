"""lmbatch.leastsq's scipy contract beyond the numbers: argument handling, return shapes,
exceptions, warnings. Each behaviour is checked against scipy itself where scipy defines it."""
import warnings

import numpy as np
import pytest
from scipy.optimize import leastsq as scipy_leastsq

import lmbatch


def both(*args, **kw):
    """(lmbatch's result or exception, scipy's result or exception)."""
    out = []
    for solver in (lmbatch.leastsq, scipy_leastsq):
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                out.append(("ok", solver(*args, **kw), [(x.category, str(x.message)) for x in w]))
        except Exception as e:  # noqa: BLE001 - the point is to compare them
            out.append(("raised", type(e), str(e)))
    return out


def quadratic(x):
    return 2 * (x - 3) ** 2 + 1


def three(x):
    return np.array([x[0] - 1.0, x[1] + 1.0, x[0] * x[1]])


def test_scalar_x0_gives_one_element_array():
    (k1, ours, w1), (k2, theirs, w2) = both(quadratic, 0)
    assert k1 == k2 == "ok" and w1 == w2 == []
    assert ours[0].shape == theirs[0].shape == (1,)
    assert ours[0].dtype == theirs[0].dtype == np.float64
    assert ours[1] == theirs[1]


def test_x0_is_flattened_and_int_x0_is_accepted():
    f = lambda x: np.array([x[0] - 1.0, x[1] + 2.0, x[2] * x[3] - 1.0, x[3]])  # noqa: E731
    ours = lmbatch.leastsq(f, np.array([[1, 2], [3, 4]]), full_output=True)
    theirs = scipy_leastsq(f, np.array([[1, 2], [3, 4]]), full_output=True)
    assert ours[0].shape == theirs[0].shape == (4,)
    assert ours[4] == theirs[4] and ours[2]["nfev"] == theirs[2]["nfev"]
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_first_call_sees_x0_as_given():
    seen = []

    def f(x):
        seen.append(x.dtype)
        return np.array([x[0] - 1.0, x[0] + 1.0])

    lmbatch.leastsq(f, [1])
    assert seen[0] == np.int64  # scipy's _check_func call passes x0 itself
    assert all(d == np.float64 for d in seen[1:])


def test_return_tuples():
    x, ier = lmbatch.leastsq(three, [1.0, 3.0])
    assert isinstance(ier, int) and ier in lmbatch.LEASTSQ_SUCCESS
    out = lmbatch.leastsq(three, [1.0, 3.0], full_output=True)
    sout = scipy_leastsq(three, [1.0, 3.0], full_output=True)
    assert len(out) == len(sout) == 5
    assert list(out[2]) == list(sout[2]) == ["fvec", "nfev", "fjac", "ipvt", "qtf"]
    assert type(out[2]["nfev"]) is type(sout[2]["nfev"]) is int
    jac = lambda x: np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])  # noqa: E731
    out = lmbatch.leastsq(three, [1.0, 3.0], Dfun=jac, full_output=True)
    sout = scipy_leastsq(three, [1.0, 3.0], Dfun=jac, full_output=True)
    assert list(out[2]) == list(sout[2]) == ["fvec", "nfev", "njev", "fjac", "ipvt", "qtf"]
    assert out[2]["njev"] == sout[2]["njev"]
    assert out[2]["fjac"].shape == sout[2]["fjac"].shape == (2, 3)


def test_args_non_tuple_is_wrapped():
    f = lambda x, a: np.array([x[0] - a, x[0] + a])  # noqa: E731
    (k1, ours, _), (k2, theirs, _) = both(f, [1.0], args=3.0)
    assert k1 == k2 == "ok"
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1] == theirs[1]


def test_n_greater_than_m_raises_typeerror():
    (k1, e1, m1), (k2, e2, m2) = both(lambda x: x[0], [1.0, 2.0])
    assert k1 == k2 == "raised" and e1 is e2 is TypeError
    assert m1 == m2 == ("Improper input: func input vector length N=2 must not exceed func "
                        "output vector length M=1")


@pytest.mark.parametrize("kw", [dict(ftol=-1.0), dict(xtol=-1.0), dict(gtol=-1.0),
                                dict(factor=0.0), dict(diag=[0.0])])
def test_improper_input(kw):
    (k1, e1, m1), (k2, e2, m2) = both(quadratic, 0, **kw)
    assert k1 == k2 == "raised" and e1 is e2 is TypeError and m1 == m2 == "Improper input parameters."
    ours = lmbatch.leastsq(quadratic, 0, full_output=True, **kw)
    theirs = scipy_leastsq(quadratic, 0, full_output=True, **kw)
    assert ours[4] == theirs[4] == 0
    assert ours[3] == theirs[3] == "Improper input parameters."
    assert ours[1] is None and theirs[1] is None
    assert ours[2]["nfev"] == theirs[2]["nfev"] == 0
    np.testing.assert_array_equal(ours[2]["fvec"], theirs[2]["fvec"])  # func(x0)
    assert list(ours[2]) == list(theirs[2])


def test_empty_x0_is_improper_input():
    f = lambda x: np.array([1.0, 2.0])  # noqa: E731
    (k1, e1, m1), (k2, e2, m2) = both(f, [])
    assert (k1, e1, m1) == (k2, e2, m2) == ("raised", TypeError, "Improper input parameters.")
    ours, theirs = lmbatch.leastsq(f, [], full_output=True), scipy_leastsq(f, [], full_output=True)
    assert ours[4] == theirs[4] == 0 and ours[0].shape == theirs[0].shape == (0,)


@pytest.mark.parametrize("analytic", [False, True])
def test_failures_warn_without_full_output(analytic):
    kw = dict(maxfev=3)
    if analytic:
        kw["Dfun"] = lambda x: np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])
    (k1, ours, w1), (k2, theirs, w2) = both(three, [1.0, 3.0], **kw)
    assert k1 == k2 == "ok" and ours[1] == theirs[1] == 5
    assert w1 == w2 == [(RuntimeWarning, "Number of calls to function has reached maxfev = 3.")]
    # With full_output: no warning, the message in the tuple.
    (k1, ours, w1), (k2, theirs, w2) = both(three, [1.0, 3.0], full_output=True, **kw)
    assert w1 == w2 == [] and ours[3] == theirs[3] and ours[4] == theirs[4] == 5


def test_exceptions_in_func_propagate():
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) > 3:
            raise KeyError("boom")
        return np.array([x[0] - 1.0, x[0] + 1.0])

    with pytest.raises(KeyError, match="boom"):
        lmbatch.leastsq(f, [1.0])
    assert len(calls) == 4  # stopped at the first exception


def test_exceptions_in_dfun_propagate():
    def jac(x):
        raise ZeroDivisionError("in Dfun")

    with pytest.raises(ZeroDivisionError, match="in Dfun"):
        lmbatch.leastsq(three, [1.0, 3.0], Dfun=jac)


def test_output_changing_size_is_valueerror():
    for solver in (lmbatch.leastsq, scipy_leastsq):
        calls = [0]

        def g(x):
            calls[0] += 1
            return np.zeros(3 if calls[0] < 4 else 4) + x[0]

        with pytest.raises(ValueError, match="The array returned by a function changed size "
                                             "between calls"):
            solver(g, [1.0])


def test_dfun_shape_mismatch_message():
    bad = lambda x: np.ones((3, 3))  # noqa: E731
    (k1, e1, m1), (k2, e2, m2) = both(three, [1.0, 3.0], Dfun=bad)
    assert k1 == k2 == "raised" and e1 is e2 is TypeError and m1 == m2
    assert "Shape should be (3, 2) but it is (3, 3)." in m1


def test_non_numeric_output_raises():
    for bad in (lambda x: ["abc", "def"], lambda x: np.array([[x[0] - 1, x[0] + 1.0]]),
                lambda x: np.array([x[0] - 1, x[0] + 1j])):
        with pytest.raises(ValueError, match="Result from function call is not a proper array "
                                             "of floats."):
            lmbatch.leastsq(bad, [1.0])
        with pytest.raises(Exception, match="Result from function call is not a proper array "
                                            "of floats."):
            scipy_leastsq(bad, [1.0])


def test_float32_output_sets_epsfcn_like_scipy():
    f = lambda x: np.array([x[0] - 1, x[0] + 1.0], dtype=np.float32)  # noqa: E731
    ours = lmbatch.leastsq(f, [1.0], full_output=True)
    theirs = scipy_leastsq(f, [1.0], full_output=True)
    assert ours[4] == theirs[4] and ours[2]["nfev"] == theirs[2]["nfev"]
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_complex_list_output_warns_and_drops_imaginary_part():
    f = lambda x: [x[0] - 1, x[0] + 1j]  # noqa: E731
    with pytest.warns(np.ComplexWarning):
        ours = lmbatch.leastsq(f, [1.0], full_output=True)
    with pytest.warns(np.ComplexWarning):
        theirs = scipy_leastsq(f, [1.0], full_output=True)
    assert ours[4] == theirs[4]
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_col_deriv():
    jac_t = lambda x: np.array([[1.0, 0.0, x[1]], [0.0, 1.0, x[0]]])  # noqa: E731
    ours = lmbatch.leastsq(three, [1.0, 3.0], Dfun=jac_t, col_deriv=True, full_output=True)
    theirs = scipy_leastsq(three, [1.0, 3.0], Dfun=jac_t, col_deriv=1, full_output=True)
    assert (ours[4], ours[2]["nfev"], ours[2]["njev"]) == (theirs[4], theirs[2]["nfev"],
                                                          theirs[2]["njev"])
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_func_receives_a_fresh_array():
    kept = []

    def f(x):
        kept.append(x)
        return np.array([x[0] - 1.0, x[1] - 2.0, x[0] * x[1] - 2.0])

    x, ier = lmbatch.leastsq(f, [0.5, 0.5])
    assert len({id(a) for a in kept}) == len(kept)
    assert not np.array_equal(kept[1], kept[-1])  # earlier arguments were not overwritten


# ---- where lmbatch deliberately differs (docs/python.md) --------------------------------------

def test_nan_at_x0_ends_with_ier_minus_2():
    f = lambda x: np.array([np.nan, 1.0]) * x[0]  # noqa: E731
    x, cov_x, info, mesg, ier = lmbatch.leastsq(f, [1.0], full_output=True)
    assert ier == -2 and cov_x is None and info["nfev"] == 1
    assert "not finite" in mesg
    # No Jacobian was formed: the residuals at x0, and no factorisation.
    assert np.isnan(info["fvec"][0]) and info["fvec"][1] == 1.0
    assert info["fjac"].shape == (1, 2) and np.isnan(info["fjac"]).all()
    assert info["ipvt"].tolist() == [0] and np.isnan(info["qtf"]).all()
    with pytest.warns(RuntimeWarning, match="not finite"):
        x, ier = lmbatch.leastsq(f, [1.0])


def test_diag_of_wrong_length_is_valueerror():
    with pytest.raises(ValueError, match=r"diag has shape \(2,\); expected \(1,\)"):
        lmbatch.leastsq(quadratic, 0, diag=[1.0, 2.0])


def test_nan_option_is_improper_input():
    with pytest.raises(TypeError, match="Improper input parameters."):
        lmbatch.leastsq(quadratic, 0, ftol=float("nan"))
