"""The loops over time of :mod:`gru_tutorial.engine`, compiled by numba.

One function per cell, all with the same inputs: ``k`` (batch, time) holds the
index ``2 a + b`` of each step's bit pair, ``table`` the input terms of every
gate for the four pairs (see :class:`gru_tutorial.engine.NumpyAdder`), then the
recurrent weights and the readout ``V``, ``c``. Each returns the logits,
float32 (batch, time). The arithmetic is the engine's NumPy loop written out
unit by unit. Compiled code is cached next to this file (``cache=True``), so
only the first run on a machine pays for compiling.
"""

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def sig(a):
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-a))


@_jit
def gru(k, table, U_zr, U_h, V, c):
    batch, time = k.shape
    u = V.shape[0]
    out = np.empty((batch, time), dtype=np.float32)
    h = np.zeros(u, dtype=np.float32)
    rh = np.zeros(u, dtype=np.float32)
    z = np.zeros(u, dtype=np.float32)
    new = np.zeros(u, dtype=np.float32)
    for n in range(batch):
        h[:] = 0
        for t in range(time):
            xp = table[k[n, t]]
            for j in range(u):
                az = xp[j]
                ar = xp[u + j]
                for i in range(u):
                    az += h[i] * U_zr[i, j]
                    ar += h[i] * U_zr[i, u + j]
                z[j] = sig(az)
                rh[j] = sig(ar) * h[j]
            total = c
            for j in range(u):
                ah = xp[2 * u + j]
                for i in range(u):
                    ah += rh[i] * U_h[i, j]
                new[j] = h[j] + z[j] * (np.tanh(ah) - h[j])
            for j in range(u):
                h[j] = new[j]
                total += h[j] * V[j]
            out[n, t] = total
    return out


@_jit
def gru_noreset(k, table, U, V, c):
    batch, time = k.shape
    u = V.shape[0]
    out = np.empty((batch, time), dtype=np.float32)
    h = np.zeros(u, dtype=np.float32)
    new = np.zeros(u, dtype=np.float32)
    for n in range(batch):
        h[:] = 0
        for t in range(time):
            xp = table[k[n, t]]
            total = c
            for j in range(u):
                az = xp[j]
                ah = xp[u + j]
                for i in range(u):
                    az += h[i] * U[i, j]
                    ah += h[i] * U[i, u + j]
                new[j] = h[j] + sig(az) * (np.tanh(ah) - h[j])
            for j in range(u):
                h[j] = new[j]
                total += h[j] * V[j]
            out[n, t] = total
    return out


@_jit
def rnn(k, table, U, V, c):
    batch, time = k.shape
    u = V.shape[0]
    out = np.empty((batch, time), dtype=np.float32)
    h = np.zeros(u, dtype=np.float32)
    new = np.zeros(u, dtype=np.float32)
    for n in range(batch):
        h[:] = 0
        for t in range(time):
            xp = table[k[n, t]]
            total = c
            for j in range(u):
                a = xp[j]
                for i in range(u):
                    a += h[i] * U[i, j]
                new[j] = np.tanh(a)
            for j in range(u):
                h[j] = new[j]
                total += h[j] * V[j]
            out[n, t] = total
    return out


@_jit
def lstm(k, table, U, V, c0):
    batch, time = k.shape
    u = V.shape[0]
    out = np.empty((batch, time), dtype=np.float32)
    h = np.zeros(u, dtype=np.float32)
    c = np.zeros(u, dtype=np.float32)
    new = np.zeros(u, dtype=np.float32)
    for n in range(batch):
        h[:] = 0
        c[:] = 0
        for t in range(time):
            xp = table[k[n, t]]
            total = c0
            for j in range(u):
                ai, af, ao, ac = xp[j], xp[u + j], xp[2 * u + j], xp[3 * u + j]
                for i in range(u):
                    hi = h[i]
                    ai += hi * U[i, j]
                    af += hi * U[i, u + j]
                    ao += hi * U[i, 2 * u + j]
                    ac += hi * U[i, 3 * u + j]
                c[j] = sig(af) * c[j] + sig(ai) * np.tanh(ac)
                new[j] = sig(ao) * np.tanh(c[j])
            for j in range(u):
                h[j] = new[j]
                total += h[j] * V[j]
            out[n, t] = total
    return out


@_jit
def keras_gru(k, table, U, b_rec, V, c):
    batch, time = k.shape
    u = V.shape[0]
    out = np.empty((batch, time), dtype=np.float32)
    h = np.zeros(u, dtype=np.float32)
    new = np.zeros(u, dtype=np.float32)
    for n in range(batch):
        h[:] = 0
        for t in range(time):
            xp = table[k[n, t]]
            total = c
            for j in range(u):
                rz, rr, rh = b_rec[j], b_rec[u + j], b_rec[2 * u + j]
                for i in range(u):
                    rz += h[i] * U[i, j]
                    rr += h[i] * U[i, u + j]
                    rh += h[i] * U[i, 2 * u + j]
                z = sig(xp[j] + rz)
                r = sig(xp[u + j] + rr)
                new[j] = z * h[j] + (np.float32(1.0) - z) * np.tanh(xp[2 * u + j] + r * rh)
            for j in range(u):
                h[j] = new[j]
                total += h[j] * V[j]
            out[n, t] = total
    return out
