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


def carries_of(a, b, width):
    """Reference carry out of every position, from integer arithmetic."""
    return [((a % 2 ** (i + 1)) + (b % 2 ** (i + 1))) >> (i + 1) for i in range(width)]


def carry_chains_of(a, b, width):
    """Reference chain arriving at every position: walk back from it to the position
    whose two bits are equal; if both are 1 that position generated the carry."""
    out = []
    for t in range(width):
        length, g = 0, t - 1
        while g >= 0 and ((a >> g) & 1) != ((b >> g) & 1):
            g -= 1
        if g >= 0 and (a >> g) & 1 and (b >> g) & 1:
            length = t - g
        out.append(length)
    return out


def finite_difference_check(variables, loss, eps=1e-6, min_norm=1e-4, rtol=1e-6):
    """Check ``tf.GradientTape``'s gradient of ``loss()`` against central differences.

    Every entry of every variable is shifted by +-eps; asserts for each variable that
    its gradient matters (norm above ``min_norm``) and that the two agree to ``rtol``
    (relative to the norms of both).
    """
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = loss()
    analytic = tape.gradient(value, variables)
    for var, grad in zip(variables, analytic, strict=True):
        base = var.numpy()
        numeric = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[idx] += sign * eps
                var.assign(shifted)
                numeric[idx] += sign * float(loss()) / (2 * eps)
        var.assign(base)
        grad = np.asarray(grad)
        rel = np.linalg.norm(grad - numeric) / max(np.linalg.norm(grad) + np.linalg.norm(numeric),
                                                   1e-12)
        assert np.linalg.norm(grad) > min_norm, var.name  # each weight really influences the loss
        assert rel < rtol, (var.name, rel)
