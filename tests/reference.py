"""Independent reference implementations used by the tests (plain Python ints)."""

import numpy as np


def weights_by_path(model):
    """Variable path -> NumPy value, for comparing two models variable by variable."""
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def bits_of(n, width):
    """Reference LSB-first bits of ``n`` computed with plain Python ints."""
    return [(n >> i) & 1 for i in range(width)]


def int_of(bits):
    """Reference integer of LSB-first ``bits`` computed with plain Python ints."""
    total = 0
    for i, b in enumerate(bits):
        total += int(b) << i
    return total
