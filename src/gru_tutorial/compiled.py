"""The GRU's loop over time for :mod:`gru_tutorial.engine`, compiled by numba (imports numba).

Only the GRU has one: it is the cell a user runs on long inputs (the bundled
model, and what ``gru-tutorial train`` makes by default); the other cells run
the engine's NumPy loop. The inputs: ``k`` (batch, time) holds the index
``2 a + b`` of each step's bit pair, ``table`` the input terms of every gate for
the four pairs (see :class:`gru_tutorial.engine.NumpyAdder`), then the recurrent
weights and the readout ``V``, ``c``. It returns the logits (batch, time) in the
dtype of ``table`` (float32 or float64; numba compiles one version for each).
The arithmetic is the engine's NumPy loop written out:
``_matvec`` adds ``h U`` row by row, so the inner loop runs along contiguous
memory and compiles to vector instructions. Compiled code is cached next to
this file (``cache=True``), so only the first run on a machine pays for
compiling.
"""

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _sig(a):
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-a))  # 1.0 is exact: a's dtype


@_jit
def _matvec(out, h, U):
    """``out += h U`` for a state ``h`` (units,) and ``U`` (units, k)."""
    for i in range(U.shape[0]):
        hi = h[i]
        for j in range(U.shape[1]):
            out[j] += hi * U[i, j]


@_jit
def _readout(h, V, c):
    total = c
    for j in range(h.shape[0]):
        total += h[j] * V[j]
    return total


@_jit
def gru(k, table, U_zr, U_h, V, c):
    """Logits (batch, time) of the GRU adder for input codes ``k``; one sequence at a time."""
    batch, time = k.shape
    u = V.shape[0]
    dt = table.dtype
    out = np.empty((batch, time), dtype=dt)
    h = np.zeros(u, dtype=dt)
    rh = np.zeros(u, dtype=dt)
    a_zr = np.zeros(2 * u, dtype=dt)
    a_h = np.zeros(u, dtype=dt)
    for n in range(batch):
        h[:] = 0
        for t in range(time):
            xp = table[k[n, t]]
            a_zr[:] = xp[:2 * u]
            _matvec(a_zr, h, U_zr)  # update and reset gates
            for j in range(u):
                rh[j] = _sig(a_zr[u + j]) * h[j]
            a_h[:] = xp[2 * u:]
            _matvec(a_h, rh, U_h)  # candidate, reset before U_h
            for j in range(u):
                h[j] += _sig(a_zr[j]) * (np.tanh(a_h[j]) - h[j])
            out[n, t] = _readout(h, V, c)
    return out
