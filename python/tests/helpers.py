"""Helpers shared by the test modules (imported by name: pytest puts this folder on sys.path)."""
import os
from pathlib import Path

import numpy as np

# The repository's reference data (tests/data): MINPACK-1 cases and NIST StRD problems.
DATA = Path(os.environ.get("LMBATCH_TEST_DATA",
                           Path(__file__).resolve().parents[2] / "tests" / "data"))


def max_rel_diff(a, b):
    """Largest |a - b| / max(|a|, |b|) over the elements (0 where both are equal, NaN included)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(all="ignore"):
        d = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
    d = np.where(same, 0.0, d)
    return float(np.max(d)) if d.size else 0.0
