"""Shared fixtures of the lmbatch Python tests (run by ctest as python_pytest).

The tests import the built module (PYTHONPATH=<build>/python, set by ctest) and compare with
Debian's python3-scipy live; the reference problems come from the repository's tests/data.
"""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)
