"""lmbatch.fit_file: `lmbatch fit` from Python (HDF5 in, HDF5 out)."""
import json
import os
import subprocess

import h5py
import numpy as np
import pytest

import lmbatch

M = 64
X = np.linspace(-4.0, 4.0, M)
CLI = os.environ.get("LMBATCH_CLI")  # the built `lmbatch` command (set by ctest)

# Root attributes that differ between two runs of the same fit.
VOLATILE = {"start_time", "end_time", "seconds", "fits_per_second", "threads", "input_file"}


@pytest.fixture
def problem_file(tmp_path, rng):
    shape = (5, 6)
    a = rng.uniform(1, 4, shape)
    c = rng.uniform(-1, 1, shape)
    s = rng.uniform(0.6, 1.4, shape)
    b = rng.uniform(-0.5, 0.5, shape)
    y = (a[..., None] * np.exp(-(X - c[..., None]) ** 2 / (2 * s[..., None] ** 2))
         + b[..., None] + rng.normal(0, 0.05, shape + (M,)))
    y[1, 2, :5] = np.nan
    path = tmp_path / "input.h5"
    with h5py.File(path, "w") as f:
        f["y"] = y.astype(np.float32)
        f["x"] = X
        f["sigma"] = np.full(M, 0.05)
        f["x0"] = np.stack([a, c, s, b], axis=-1) * 1.1
        f["x0_shared"] = np.array([2.0, 0.0, 1.0, 0.0])
    return path


def read_results(path):
    with h5py.File(path, "r") as f:
        data = {name: f[name][()] for name in f}
        attrs = {name: f.attrs[name] for name in f.attrs}
    return data, attrs


def test_same_numbers_as_fit(problem_file, tmp_path):
    out = tmp_path / "out.h5"
    # x0 "none": the file's /x0 would be read by default; fit() below estimates.
    summary = lmbatch.fit_file(problem_file, out, "gaussian+constant", x="/x", sigma="/sigma",
                               x0="none")
    data, attrs = read_results(out)
    with h5py.File(problem_file, "r") as f:
        y, x, sigma = f["y"][()], f["x"][()], f["sigma"][()]
    r = lmbatch.fit(y, "gaussian+constant", x=x, sigma=sigma)
    np.testing.assert_array_equal(data["x"], r.x)
    np.testing.assert_array_equal(data["cov_x"], r.cov_x)
    np.testing.assert_array_equal(data["cost"], r.cost)
    np.testing.assert_array_equal(data["nfev"], r.nfev)
    np.testing.assert_array_equal(data["ier"], r.ier)
    np.testing.assert_array_equal(data["m_valid"], r.m_valid)
    np.testing.assert_array_equal(data["stderr"], r.stderr)
    assert data["m_valid"][1, 2] == M - 5
    assert attrs["model"] == "gaussian+constant"
    assert list(attrs["parameter_names"]) == r.parameter_names
    assert summary["problems"] == 30 and summary["model"] == "gaussian+constant"
    assert summary["input"] == str(problem_file) and summary["output"] == str(out)
    assert sum(summary["ier_counts"].values()) == 30
    assert set(summary) == {"model", "input", "output", "problems", "recovered", "seconds",
                            "threads", "fits_per_second", "median_nfev", "ier_counts",
                            "first_failures", "complete"}
    assert summary["recovered"] == 0 and summary["complete"]
    assert not os.path.exists(str(out) + ".partial")


@pytest.mark.skipif(not CLI, reason="LMBATCH_CLI (the lmbatch command) not given")
@pytest.mark.parametrize("options,cli_options", [
    ({}, []),
    ({"x": "/x", "sigma": "/sigma", "x0": "/x0", "full_output": True},
     ["--x", "/x", "--sigma", "/sigma", "--x0", "/x0", "--full-output"]),
    ({"x": "/x", "x0_values": [2.0, 0.0, 1.0, 0.0], "jacobian": "forward", "ftol": 1e-6,
      "maxfev": 50, "diag": [1.0, 2.0, 1.0, 1.0], "factor": 10.0, "epsfcn": 1e-12},
     ["--x", "/x", "--x0-values", "2,0,1,0", "--jacobian", "forward", "--ftol", "1e-6",
      "--maxfev", "50", "--diag", "1,2,1,1", "--factor", "10", "--epsfcn", "1e-12"]),
], ids=["defaults", "datasets-full-output", "options"])
def test_same_file_as_the_command(problem_file, tmp_path, options, cli_options):
    ours = tmp_path / "python.h5"
    theirs = tmp_path / "cli.h5"
    summary_file = tmp_path / "summary.json"
    summary = lmbatch.fit_file(problem_file, ours, "gaussian+constant", threads=2,
                               summary_json=summary_file, **options)
    subprocess.run([CLI, "--quiet", "fit", str(problem_file), "-o", str(theirs), "--model",
                    "gaussian+constant", "--threads", "1", *cli_options], check=True)
    data, attrs = read_results(ours)
    cli_data, cli_attrs = read_results(theirs)
    assert sorted(data) == sorted(cli_data)
    for name in data:
        np.testing.assert_array_equal(data[name], cli_data[name], err_msg=name)
        assert data[name].dtype == cli_data[name].dtype, name
    assert sorted(attrs) == sorted(cli_attrs)
    for name in attrs:
        if name not in VOLATILE:
            np.testing.assert_array_equal(attrs[name], cli_attrs[name], err_msg=name)
    with open(summary_file) as f:
        written = json.load(f)
    assert written["problems"] == summary["problems"] == 30
    assert written["ier_counts"] == {str(k): v for k, v in summary["ier_counts"].items()}


def test_default_datasets(problem_file, tmp_path):
    # /x, /sigma and /x0 are read where the file has them, as lmbatch fit does; "none" opts out.
    lmbatch.fit_file(problem_file, tmp_path / "named.h5", "gaussian+constant", x="/x",
                     sigma="/sigma", x0="/x0")
    lmbatch.fit_file(problem_file, tmp_path / "default.h5", "gaussian+constant")
    lmbatch.fit_file(problem_file, tmp_path / "none.h5", "gaussian+constant", x="/x",
                     sigma="/sigma", x0="none")
    named, named_attrs = read_results(tmp_path / "named.h5")
    default, attrs = read_results(tmp_path / "default.h5")
    none, none_attrs = read_results(tmp_path / "none.h5")
    np.testing.assert_array_equal(default["x"], named["x"])
    assert (attrs["x"], attrs["sigma"], attrs["x0"]) == ("/x", "/sigma", "/x0")
    assert none_attrs["x0"] == "(model's estimate)"
    assert not np.array_equal(none["nfev"], named["nfev"])
    # x0_values: a default /x0 (here of the wrong shape for gaussian) is not read.
    lmbatch.fit_file(problem_file, tmp_path / "values.h5", "gaussian", x0_values=[2, 0, 1])
    assert read_results(tmp_path / "values.h5")[1]["x0"] == "(--x0-values)"


def test_file_errors_are_oserrors(problem_file, tmp_path):
    out = tmp_path / "out.h5"
    with pytest.raises(OSError, match="nosuchfile.h5"):
        lmbatch.fit_file(tmp_path / "nosuchfile.h5", out, "gaussian")
    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("hello")
    with pytest.raises(OSError, match="text.h5"):
        lmbatch.fit_file(not_hdf5, out, "gaussian")
    with pytest.raises(OSError, match="/nope"):
        lmbatch.fit_file(problem_file, out, "gaussian", x="/nope")
    lmbatch.fit_file(problem_file, out, "gaussian", x0="none")  # /x0 has 4 parameters
    with pytest.raises(OSError, match="already exists"):
        lmbatch.fit_file(problem_file, out, "gaussian", x0="none")
    lmbatch.fit_file(problem_file, out, "gaussian+constant", overwrite=True)
    assert read_results(out)[1]["model"] == "gaussian+constant"
    with pytest.raises(OSError, match="no_such_dir"):
        lmbatch.fit_file(problem_file, tmp_path / "no_such_dir" / "out.h5", "gaussian",
                         x0="none")


def test_bad_options_are_valueerrors(problem_file, tmp_path):
    out = tmp_path / "out.h5"
    with pytest.raises(ValueError, match='unknown model term "gauss"'):
        lmbatch.fit_file(problem_file, out, "gauss")
    with pytest.raises(ValueError, match="x0_values has 2 values; model gaussian has 3"):
        lmbatch.fit_file(problem_file, out, "gaussian", x0_values=[1.0, 2.0])
    with pytest.raises(ValueError, match="exclude each other"):
        lmbatch.fit_file(problem_file, out, "gaussian+constant", x0="/x0_shared",
                         x0_values=[1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="jacobian must be"):
        lmbatch.fit_file(problem_file, out, "gaussian", jacobian="numeric")
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigma_path'"):
        lmbatch.fit_file(problem_file, out, "gaussian", sigma_path="/sigma")
    assert not out.exists()


def test_bad_sigma_in_the_file_names_the_problem(problem_file, tmp_path):
    with h5py.File(problem_file, "a") as f:
        s = np.full((5, 6, M), 0.05)
        s[2, 3, 7] = -1.0
        f["bad_sigma"] = s
    with pytest.raises(OSError, match="problem 15"):
        lmbatch.fit_file(problem_file, tmp_path / "out.h5", "gaussian", sigma="/bad_sigma",
                         x0="none")


def test_several_predictors(tmp_path, rng):
    # x of shape (..., m, 2): expressions read x1, x2 (docs/models.md, "Several predictors").
    x1 = np.tile(np.linspace(0.0, 3.0, 40), (3, 1))
    x2 = np.cos(np.arange(40.0) + np.arange(3.0)[:, None])
    a = np.array([2.0, 2.5, 3.0])
    y = a[:, None] * np.exp(-0.4 * x1) + 0.3 * x2 + rng.normal(0, 1e-3, (3, 40))
    x = np.stack([x1, x2], axis=-1)
    x[1, 5, 1] = np.nan  # problem 1 misses sample 5
    path, out = tmp_path / "two.h5", tmp_path / "out.h5"
    with h5py.File(path, "w") as f:
        f["y"] = y
        f["x"] = x
    lmbatch.fit_file(path, out, "expr: a*exp(-b*x1) + c*x2", x="/x", x0_values=[1, 1, 0])
    data, _ = read_results(out)
    assert list(data["ier"]) and all(1 <= s <= 4 for s in data["ier"])
    np.testing.assert_array_equal(data["m_valid"], [40, 39, 40])
    np.testing.assert_allclose(data["x"][:, 0], a, rtol=1e-2)
    # lmbatch.fit on the same arrays: x (..., m, 2) per problem, the same bits as the file run
    r = lmbatch.fit(y, "expr: a*exp(-b*x1) + c*x2", x=x, x0=[1, 1, 0])
    for name in ("x", "nfev", "ier", "m_valid", "cov_x"):
        np.testing.assert_array_equal(getattr(r, name), data[name], err_msg=name)
    # shared x (m, 2) is the same as that x repeated for every problem
    shared = lmbatch.fit(y, "expr: a*exp(-b*x1) + c*x2", x=x[0], x0=[1, 1, 0])
    tiled = lmbatch.fit(y, "expr: a*exp(-b*x1) + c*x2", x=np.tile(x[0], (3, 1, 1)),
                        x0=[1, 1, 0])
    np.testing.assert_array_equal(shared.x, tiled.x)
    np.testing.assert_array_equal(shared.m_valid, [40, 40, 40])
    with pytest.raises(ValueError, match=r"x has shape \(3, 40, 2, 1\)"):
        lmbatch.fit(y, "expr: a*exp(-b*x1) + c*x2", x=x[..., None], x0=[1, 1, 0])
    with pytest.raises(ValueError, match='"gaussian" takes a single x'):
        lmbatch.fit(y, "gaussian", x=x)
    # a model that cannot read two predictors is refused before any output is written
    bad = tmp_path / "bad.h5"
    with pytest.raises(ValueError, match="uses x, but the input's x has 2 predictors"):
        lmbatch.fit_file(path, bad, "expr: a*x + b", x="/x", x0_values=[1, 1])
    with pytest.raises(ValueError, match='"gaussian" takes a single x'):
        lmbatch.fit_file(path, bad, "gaussian", x="/x")
    assert not bad.exists() and not (tmp_path / "bad.h5.partial").exists()


def test_compression_as_the_command(problem_file, tmp_path):
    out = tmp_path / "out.h5"

    def gzipped(path):
        with h5py.File(path, "r") as f:
            return {name: f[name].compression == "gzip" for name in ("x", "cov_x", "nfev", "ier")}

    lmbatch.fit_file(problem_file, out, "gaussian+constant", threads=2)
    assert gzipped(out) == {"x": False, "cov_x": False, "nfev": True, "ier": True}
    reference = read_results(out)[0]
    for compression, expected in (("all", True), ("gzip", True), ("none", False)):
        # An explicit chunk_size is taken as it is (the default balances the chunks over the
        # threads, as lmbatch fit does): the same bits either way.
        lmbatch.fit_file(problem_file, out, "gaussian+constant", threads=2, overwrite=True,
                         compression=compression, chunk_size=7)
        assert gzipped(out) == {"x": expected, "cov_x": expected, "nfev": expected,
                                "ier": expected}
        for name, values in read_results(out)[0].items():
            np.testing.assert_array_equal(values, reference[name], err_msg=name)
    with pytest.raises(ValueError, match="compression must be"):
        lmbatch.fit_file(problem_file, out, "gaussian+constant", overwrite=True,
                         compression="lzf")
