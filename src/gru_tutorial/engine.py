"""Inference without TensorFlow: the trained adder's equations in NumPy.

Explained in the chapter "Performance" (``book/08_performance.ipynb``). A trained
bit adder is a few small matrices; adding two numbers needs nothing but them.
:class:`NumpyAdder` runs a model's :class:`~gru_tutorial.adder.AdderWeights`
(from :func:`gru_tutorial.adder.load`, or a trained model) with the same
equations as :class:`~gru_tutorial.model.BitAdder`, in the model's dtype, for every cell
of :data:`gru_tutorial.recipes.CELLS`. This module imports neither TensorFlow
nor Keras, so ``gru-tutorial add`` answers in a fraction of a second.

Two things make it fast. The input at each step is one of only four bit pairs,
so the input terms ``x_t W + b`` of every gate are a table of four rows,
computed once. And for long inputs the GRU's loop over time runs in
:mod:`numba`-compiled code when numba is installed (it is pinned in
``requirements.txt``); otherwise, and for the other cells, the same loop runs in
NumPy, vectorised over the batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .adder import CELL_GATES, AdderWeights, as_weights
from .bits import check_nonnegative_int, from_bits, to_bits
from .checks import ArgumentError, check_input_shape, check_steps

__all__ = ["NumpyAdder", "ENGINES", "have_numba", "NUMBA_MIN_STEPS", "NUMBA_MAX_BATCH",
           "CHECK_BLOCK", "Check"]

ENGINES = ("numpy", "tf")
"""Inference engines of the command line: this module, or the TensorFlow model."""

NUMBA_MIN_STEPS = 20_000
"""Inputs with at least this many steps in all (batch x time) run the numba loop:
importing numba and loading its compiled code costs about half a second, which
the NumPy loop, at some microseconds per step, only takes for longer inputs."""

NUMBA_MAX_BATCH = 16
"""Larger batches run the NumPy loop: it handles the whole batch in each step with
a few array operations, while the compiled loop runs one sequence after another."""

CHECK_BLOCK = 16
""":meth:`NumpyAdder.all_exact` compares the bits after every this many steps."""

_kernel = None


class Check(NamedTuple):
    """What :meth:`NumpyAdder.all_exact` found."""

    exact: bool
    margin: float
    wrong: np.ndarray


def have_numba() -> bool:
    """Whether the compiled GRU loop is available: numba imports, and is not disabled.

    ``GRU_TUTORIAL_NO_NUMBA`` set to anything but ``''`` or ``'0'`` disables it.
    The first call imports numba (about a third of a second).
    """
    if os.environ.get("GRU_TUTORIAL_NO_NUMBA", "") not in ("", "0"):
        return False
    try:
        kernel()
    except ImportError:  # not installed, or broken (e.g. built for another NumPy)
        return False
    return True


def kernel():
    """The compiled loop of the GRU (numba is imported on the first call).

    Raises
    ------
    ImportError
        If numba cannot be imported.
    """
    global _kernel
    if _kernel is None:
        from . import compiled  # imports numba; compiled code is cached on disk

        _kernel = compiled.gru
    return _kernel


_HALF = np.float32(0.5)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function, computed in place in ``a`` (a temporary) and returned.

    As ``(1 + tanh(a / 2)) / 2``, which equals ``1 / (1 + exp(-a))`` and runs
    faster in NumPy.
    """
    a *= _HALF
    np.tanh(a, out=a)
    a *= _HALF
    a += _HALF
    return a


def _pair_codes(x: np.ndarray) -> np.ndarray:
    """The index ``2 a + b`` of each step's bit pair, int8 ``(batch, time)``, one byte a step."""
    k = (x[..., 0] > 0.5).astype(np.int8)
    k <<= 1
    k |= x[..., 1] > 0.5
    return k


class NumpyAdder:
    """A trained bit adder's forward pass in NumPy, in the model's own dtype.

    float32 for the book's fast and small models, float64 for the seed recipe's, so
    that the engine rounds as the model does (the order of the sums aside).

    Parameters
    ----------
    weights : AdderWeights or BitAdder
        The model's weights (:func:`gru_tutorial.adder.load`), or a trained
        model, whose current weights are copied.

    Attributes
    ----------
    weights : AdderWeights
        The weights.
    cell : str
        The cell, one of :data:`gru_tutorial.recipes.CELLS`.
    units : int
        Hidden state size.
    table : numpy.ndarray
        ``x W + b`` of every gate for the four input pairs ``(a, b)``, row
        ``2 a + b``, shape ``(4, gates * units)``.
    dtype : numpy.dtype
        The arithmetic, the model's dtype.
    """

    def __init__(self, weights: AdderWeights) -> None:
        weights = as_weights(weights)
        self.weights, self.cell, self.units = weights, weights.cell, weights.units
        self.info = weights.info
        self.dtype = dt = np.dtype(weights.dtype)
        self.threshold = dt.type(weights.threshold)  # a bit is 1 where the output is above
        w = {k: v.astype(dt) for k, v in weights.arrays.items()}  # exact: already rounded
        self.V, self.c = w["V"], dt.type(w["c"])
        pairs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dt)
        if self.cell == "keras-gru":
            self.table = pairs @ w["kernel"] + w["bias"][0]  # z, r, h
            self.U = w["recurrent_kernel"]
            self.b_rec = w["bias"][1]
        else:
            names = [f"{{}}_{g}" if g else "{}" for g in CELL_GATES[self.cell]]
            W = np.concatenate([w[n.format("W")] for n in names], axis=1)
            b = np.concatenate([w[n.format("b")] for n in names])
            self.table = pairs @ W + b
            if self.cell == "gru":  # [U_z U_r] together; U_h after the reset gate
                self.U = np.concatenate([w["U_z"], w["U_r"]], axis=1)
                self.U_h = w["U_h"]
            else:
                self.U = np.concatenate([w[n.format("U")] for n in names], axis=1)
        self.table = np.ascontiguousarray(self.table, dtype=dt)

    # -- the forward pass ----------------------------------------------------
    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of the sum bits for inputs ``x`` of shape ``(batch, time, 2)`` (0s and 1s).

        Returns
        -------
        numpy.ndarray
            In the model's dtype, shape ``(batch, time)``.
        """
        x = np.asarray(x)
        check_input_shape(x)
        check_steps(x.shape[0], x.shape[1], "batch x time")
        k = _pair_codes(x)
        if self.cell == "gru" and k.size >= NUMBA_MIN_STEPS and k.shape[0] <= NUMBA_MAX_BATCH \
                and have_numba():
            return kernel()(k, *self.kernel_args())
        return self._logits_numpy(k)

    def kernel_args(self) -> tuple:
        """The arguments of the compiled GRU loop after the input indices (GRU only)."""
        return self.table, self.U, self.U_h, self.V, self.c

    def all_exact(self, x: np.ndarray, y: np.ndarray) -> Check:
        """Whether every sum of a batch comes out exact, stopping at the first wrong bit.

        The held-out check of training (:meth:`gru_tutorial.train.Trainer.train_step`):
        the same bits as :meth:`predict_bits`, but the loop over time ends as soon
        as a block of :data:`CHECK_BLOCK` steps holds a wrong bit in any sum, so a
        model that is not there yet costs a fraction of the whole loop.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs ``(batch, time, 2)`` of 0s and 1s.
        y : numpy.ndarray
            Target bits, shape ``(batch, time)`` or ``(batch, time, 1)``.

        Returns
        -------
        Check
            ``exact``: whether every bit of every sum is right; ``margin``: the
            smallest distance of an output from the threshold over the steps
            computed (all of them when ``exact``), how far the closest decision
            was from flipping;
            ``wrong``: the indices of the sums with a wrong bit in the block
            where the loop stopped (empty when ``exact``).
        """
        x, y = np.asarray(x), np.asarray(y)
        check_input_shape(x, y)
        y = y.reshape(x.shape[:2])
        return self._logits_numpy(_pair_codes(x), targets=y > 0.5)

    def _logits_numpy(self, k: np.ndarray, targets: np.ndarray | None = None):
        """The loop over time in NumPy, vectorised over the batch.

        With ``targets`` (bool, like ``k``), return a :class:`Check` as
        :meth:`all_exact` does instead of the logits.
        """
        batch, time = k.shape
        u = self.units
        h = np.zeros((batch, u), dtype=self.dtype)
        c = np.zeros((batch, u), dtype=self.dtype)
        out = np.empty((time, batch), dtype=self.dtype)  # time-major, as k_steps
        k_steps = np.ascontiguousarray(k.T)
        V = self.V
        start, margin = 0, float("inf")
        for t in range(time):
            xp = self.table.take(k_steps[t], axis=0)  # x_t W + b of every gate, looked up
            if self.cell == "gru":
                zr = _sigmoid(xp[:, :2 * u] + h @ self.U)
                z, r = zr[:, :u], zr[:, u:]
                h = h + z * (np.tanh(xp[:, 2 * u:] + (r * h) @ self.U_h) - h)
            elif self.cell == "gru-noreset":
                a = xp + h @ self.U
                z = _sigmoid(a[:, :u])
                h = h + z * (np.tanh(a[:, u:]) - h)
            elif self.cell == "rnn":
                h = np.tanh(xp + h @ self.U)
            elif self.cell == "lstm":
                a = xp + h @ self.U
                ifo = _sigmoid(a[:, :3 * u])
                c = ifo[:, u:2 * u] * c + ifo[:, :u] * np.tanh(a[:, 3 * u:])
                h = ifo[:, 2 * u:] * np.tanh(c)
            else:  # keras-gru, reset after: h = z h + (1 - z) tanh(x_h + r (h U_h + b'_h))
                rec = h @ self.U + self.b_rec
                zr = _sigmoid(xp[:, :2 * u] + rec[:, :2 * u])
                z, r = zr[:, :u], zr[:, u:]
                h = z * h + (1 - z) * np.tanh(xp[:, 2 * u:] + r * rec[:, 2 * u:])
            out[t] = h @ V + self.c
            if targets is not None and ((t + 1) % CHECK_BLOCK == 0 or t + 1 == time):
                block = out[start:t + 1]
                margin = min(margin, float(np.abs(block - self.threshold).min()))
                wrong = ((block > self.threshold) != targets[:, start:t + 1].T).any(axis=0)
                if wrong.any():
                    return Check(False, margin, np.flatnonzero(wrong))
                start = t + 1
        if targets is not None:
            return Check(True, margin, np.empty(0, dtype=np.intp))
        return out.T

    def predict_bits(self, x: np.ndarray) -> np.ndarray:
        """Predicted sum bits (``uint8``, ``(batch, time)``): the output above the threshold."""
        return (self.logits(x) > self.threshold).astype(np.uint8)

    def add_many(self, a: Sequence[int], b: Sequence[int]) -> list[int]:
        """Add pairs of non-negative integers with the network (see :meth:`add`)."""
        if len(a) != len(b):
            raise ArgumentError(f"a and b must have the same length, got {len(a)} and {len(b)}")
        a = [check_nonnegative_int(v, "a") for v in a]
        b = [check_nonnegative_int(v, "b") for v in b]
        if not a:
            return []
        time = max(max(v.bit_length() for v in a), max(v.bit_length() for v in b)) + 1
        check_steps(len(a), time, "pairs x (operand bits + 1)")
        x = np.empty((len(a), time, 2), dtype=np.uint8)
        for i, (p, q) in enumerate(zip(a, b, strict=True)):
            x[i, :, 0], x[i, :, 1] = to_bits(p, time), to_bits(q, time)
        return [from_bits(row) for row in self.predict_bits(x)]

    def add(self, a: int, b: int) -> int:
        """Add two non-negative integers of any size with the network.

        As :meth:`gru_tutorial.model.BitAdder.add`: the sequence has one step
        more than the longer operand, for the final carry.
        """
        return self.add_many([a], [b])[0]
