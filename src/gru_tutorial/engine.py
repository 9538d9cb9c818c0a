"""Inference without TensorFlow: the trained adder's equations in NumPy.

Explained in the chapter "Performance" (``book/08_performance.ipynb``). A trained
bit adder is a few small matrices; adding two numbers needs nothing but them.
:class:`NumpyAdder` reads a saved model (``config.json`` and
``model.weights.h5``, through ``h5py``) and runs the same equations as
:class:`~gru_tutorial.model.BitAdder` in float32, for every cell of
:data:`gru_tutorial.recipes.CELLS`. This module imports neither TensorFlow nor
Keras, so ``gru-tutorial add`` answers in a fraction of a second.

Two things make it fast. The input at each step is one of only four bit pairs,
so the input terms ``x_t W + b`` of every gate are a table of four rows,
computed once. And for long inputs the loop over time runs in
:mod:`numba`-compiled code when numba is installed (it is pinned in
``requirements.txt``); otherwise the same loop runs in NumPy, vectorised over
the batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .bits import check_nonnegative_int, from_bits, to_bits
from .checks import ArgumentError, ModelFileError, check_steps

__all__ = ["NumpyAdder", "load", "load_pretrained", "ENGINES", "have_numba", "NUMBA_MIN_STEPS",
           "NUMBA_MAX_BATCH", "CHECK_BLOCK", "Check"]

ENGINES = ("numpy", "tf")
"""Inference engines of the command line: this module, or the TensorFlow model."""

_GATES = {"gru": ("z", "r", "h"), "gru-noreset": ("z", "h"), "rnn": ("",),
          "lstm": ("i", "f", "o", "c")}

NUMBA_MIN_STEPS = 20_000
"""Inputs with at least this many steps in all (batch x time) run the numba loop:
importing numba and loading its compiled code costs about half a second, which
the NumPy loop, at some microseconds per step, only takes for longer inputs."""

NUMBA_MAX_BATCH = 16
"""Larger batches run the NumPy loop: it handles the whole batch in each step with
a few array operations, while the compiled loop runs one sequence after another."""

CHECK_BLOCK = 16
""":meth:`NumpyAdder.all_exact` compares the bits after every this many steps."""

_kernels: dict | None = None


class Check(NamedTuple):
    """What :meth:`NumpyAdder.all_exact` found."""

    exact: bool
    margin: float
    wrong: np.ndarray


def have_numba() -> bool:
    """Whether the compiled loops are available: numba imports, and is not disabled.

    ``GRU_TUTORIAL_NO_NUMBA`` set to anything but ``''`` or ``'0'`` disables it.
    The first call imports numba (about a third of a second).
    """
    if os.environ.get("GRU_TUTORIAL_NO_NUMBA", "") not in ("", "0"):
        return False
    try:
        kernels()
    except ImportError:  # not installed, or broken (e.g. built for another NumPy)
        return False
    return True


def kernels() -> dict:
    """The compiled loops, one per cell (numba is imported on the first call).

    Raises
    ------
    ImportError
        If numba cannot be imported.
    """
    global _kernels
    if _kernels is None:
        from . import _kernels as compiled  # imports numba; compiled code is cached on disk

        _kernels = {"gru": compiled.gru, "gru-noreset": compiled.gru_noreset,
                    "rnn": compiled.rnn, "lstm": compiled.lstm, "keras-gru": compiled.keras_gru}
    return _kernels


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


class NumpyAdder:
    """A trained bit adder's weights and its forward pass, in NumPy (float32).

    Parameters
    ----------
    cell : str
        One of :data:`gru_tutorial.recipes.CELLS`.
    weights : dict of str to numpy.ndarray
        The cell's weights by name (``W_z``, ``U_z``, ``b_z``, ... as in the
        package's cells; ``kernel``, ``recurrent_kernel``, ``bias`` for
        ``'keras-gru'``), plus the readout ``V`` (units, 1) and ``c`` (1,).

    Attributes
    ----------
    units : int
        Hidden state size.
    table : numpy.ndarray
        ``x W + b`` of every gate for the four input pairs ``(a, b)``, row
        ``2 a + b``, shape ``(4, gates * units)``.
    """

    def __init__(self, cell: str, weights: dict[str, np.ndarray]) -> None:
        if cell not in (*_GATES, "keras-gru"):
            raise ArgumentError(f"cell must be one of {(*_GATES, 'keras-gru')}, got {cell!r}")
        self.cell = cell
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.weights = w
        self.V = w["V"][:, 0].copy()
        self.c = np.float32(w["c"][0])
        self.units = self.V.shape[0]
        pairs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        if cell == "keras-gru":
            self.table = pairs @ w["kernel"] + w["bias"][0]  # z, r, h
            self.U = w["recurrent_kernel"]
            self.b_rec = w["bias"][1]
        else:
            names = [f"{{}}_{g}" if g else "{}" for g in _GATES[cell]]
            W = np.concatenate([w[n.format("W")] for n in names], axis=1)
            b = np.concatenate([w[n.format("b")] for n in names])
            self.table = pairs @ W + b
            if cell == "gru":  # [U_z U_r] together; U_h after the reset gate
                self.U = np.concatenate([w["U_z"], w["U_r"]], axis=1)
                self.U_h = w["U_h"]
            else:
                self.U = np.concatenate([w[n.format("U")] for n in names], axis=1)
        self.table = np.ascontiguousarray(self.table, dtype=np.float32)

    @classmethod
    def from_model(cls, model) -> NumpyAdder:
        """The current weights of a :class:`~gru_tutorial.model.BitAdder` (copied), any cell.

        Parameters
        ----------
        model : BitAdder
            The model; its ``cell_kind`` names the cell.

        Returns
        -------
        NumpyAdder
            The same network in NumPy. It does not follow later changes of the model.
        """
        kind = getattr(model, "cell_kind", None)
        if kind is None or not hasattr(model, "V"):
            raise ArgumentError(f"expected a BitAdder, got {type(model).__name__}")
        cell = model.cell
        if kind == "keras-gru":
            kernel, recurrent, bias = (np.asarray(v) for v in cell.layer.get_weights())
            weights = {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}
        else:
            weights = {v.name: np.asarray(v.numpy()) for v in cell.weights}
        weights["V"], weights["c"] = np.asarray(model.V.numpy()), np.asarray(model.c.numpy())
        return cls(kind, weights)

    # -- the forward pass ----------------------------------------------------
    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of the sum bits for inputs ``x`` of shape ``(batch, time, 2)`` (0s and 1s).

        Returns
        -------
        numpy.ndarray
            float32, shape ``(batch, time)``.
        """
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise ArgumentError(
                f"x must have shape (batch, time, 2) with batch, time >= 1, got {x.shape}")
        check_steps(x.shape[0], x.shape[1], "batch x time")
        k = (2 * (x[..., 0] > 0.5) + (x[..., 1] > 0.5)).astype(np.int8)
        if k.size >= NUMBA_MIN_STEPS and k.shape[0] <= NUMBA_MAX_BATCH and have_numba():
            return kernels()[self.cell](k, *self._kernel_args())
        return self._logits_numpy(k)

    def _kernel_args(self) -> tuple:
        if self.cell == "gru":
            return self.table, self.U, self.U_h, self.V, self.c
        if self.cell == "keras-gru":
            return self.table, self.U, self.b_rec, self.V, self.c
        if self.cell == "gru-noreset":
            u = self.units
            return (self.table, np.ascontiguousarray(self.U[:, :u]),
                    np.ascontiguousarray(self.U[:, u:]), self.V, self.c)
        return self.table, self.U, self.V, self.c

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
            smallest ``|logit|`` over the steps computed (all of them when
            ``exact``), how far the closest decision was from flipping;
            ``wrong``: the indices of the sums with a wrong bit in the block
            where the loop stopped (empty when ``exact``).
        """
        x = np.asarray(x)
        y = np.asarray(y)
        if y.ndim == 3 and y.shape[2] == 1:
            y = y[..., 0]
        if x.ndim != 3 or x.shape[2] != 2 or y.shape != x.shape[:2] or x.shape[0] < 1 \
                or x.shape[1] < 1:
            raise ArgumentError(f"x must have shape (batch, time, 2) and y (batch, time) with "
                                f"batch, time >= 1, got {x.shape} and {y.shape}")
        k = (2 * (x[..., 0] > 0.5) + (x[..., 1] > 0.5)).astype(np.int8)
        return self._logits_numpy(k, targets=y > 0.5)

    def _logits_numpy(self, k: np.ndarray, targets: np.ndarray | None = None):
        """The loop over time in NumPy, vectorised over the batch.

        With ``targets`` (bool, like ``k``), return a :class:`Check` as
        :meth:`all_exact` does instead of the logits.
        """
        batch, time = k.shape
        u = self.units
        h = np.zeros((batch, u), dtype=np.float32)
        c = np.zeros((batch, u), dtype=np.float32)
        out = np.empty((time, batch), dtype=np.float32)  # time-major, as k_steps
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
                margin = min(margin, float(np.abs(block).min()))
                wrong = ((block > 0) != targets[:, start:t + 1].T).any(axis=0)
                if wrong.any():
                    return Check(False, margin, np.flatnonzero(wrong))
                start = t + 1
        if targets is not None:
            return Check(True, margin, np.empty(0, dtype=np.intp))
        return out.T

    def predict_bits(self, x: np.ndarray) -> np.ndarray:
        """Predicted sum bits (``uint8``, shape ``(batch, time)``): where the logit is positive."""
        return (self.logits(x) > 0).astype(np.uint8)

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


def _read_weights(path: Path, cell: str) -> dict[str, np.ndarray]:
    """The weights of a saved model by name, from its Keras ``.weights.h5`` file."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            readout = [np.asarray(f["vars"][str(i)]) for i in range(2)]
            if cell == "keras-gru":
                group = f["cell"]["layer"]["cell"]["vars"]
                names = ["kernel", "recurrent_kernel", "bias"]
            else:
                group = f["cell"]["vars"]
                gates = _GATES[cell]
                names = [f"{kind}_{g}" if g else kind for kind in "WUb" for g in gates]
            arrays = {n: np.asarray(group[str(i)]) for i, n in enumerate(names)}
            if len(group) != len(names):
                raise KeyError(f"{len(group)} cell weights, expected {len(names)}")
    except (OSError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path} is corrupt or does not match the config "
                             f"({type(exc).__name__}: {exc})") from None
    arrays["V"], arrays["c"] = readout
    return arrays


def load(directory: str | Path) -> NumpyAdder:
    """A model saved by :func:`gru_tutorial.saving.save_model`, for the NumPy engine.

    Parameters
    ----------
    directory : str or Path
        The saved model's directory.

    Returns
    -------
    NumpyAdder
        The same network; no TensorFlow involved.

    Raises
    ------
    ModelFileError
        If the directory, config or weights are missing, corrupt or inconsistent.
    """
    from .saving import WEIGHTS_NAME, read_config

    directory = Path(directory)
    config = read_config(directory)
    cell = config["model"].get("cell", "gru")
    weights_path = directory / WEIGHTS_NAME
    if not weights_path.is_file():
        raise ModelFileError(f"{weights_path} is missing")
    weights = _read_weights(weights_path, cell)
    units = config["model"]["units"]
    shapes_ok = weights["V"].shape == (units, 1) and weights["c"].shape == (1,)
    if not shapes_ok:
        raise ModelFileError(f"{weights_path} does not match the config ({units} units)")
    model = NumpyAdder(cell, weights)
    model.info = config.get("info", {})
    return model


def load_pretrained() -> NumpyAdder:
    """The model bundled with the package, for the NumPy engine."""
    from importlib import resources

    from .saving import PRETRAINED_DIR

    with resources.as_file(PRETRAINED_DIR) as path:
        return load(path)
