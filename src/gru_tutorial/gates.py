"""Measurements for the chapter "Why gates?" (``book/07_why_gates.ipynb``).

- :func:`jacobian_norms`: how strongly the first input still moves the hidden
  state ``t`` steps later, ``||dh_t / dx_1||``, for any cell of
  :data:`gru_tutorial.recipes.CELLS`, without underflow at long lengths;
- :func:`decay_rate`: the slope of those norms on a log scale;
- :func:`accuracy_by_length`: exact accuracy of a model on random and
  adversarial sums of growing length;
- :data:`GRU_CONVENTIONS` and :func:`gru_parameter_count`: the GRU as written
  by Cho et al., this book, Keras, cuDNN and PyTorch, and what each costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from .checks import ArgumentError, check_input_shape, check_int, check_steps
from .data import random_batch
from .evaluate import evaluate, evaluate_adversarial, score_batch
from .model import trace_once_per_instance

__all__ = ["jacobian_norms", "decay_rate", "accuracy_by_length", "GRUConvention",
           "GRU_CONVENTIONS", "gru_parameter_count"]


def _jacobian_log_norms(cell, x: tf.Tensor) -> tf.Tensor:
    """``log ||dh_t/dx_1||_F`` for every step and sequence, shape ``(time, batch)``.

    Forward-mode differentiation, one step at a time: the tangent (the
    derivative of the state with respect to ``x_1 e_k``, one copy of the batch
    per input column ``k``) is pushed through each step with a
    ``ForwardAccumulator``, renormalised to length 1, and its log length
    summed, so that a norm of 1e-300 does not underflow to 0.
    """
    batch, dim = tf.shape(x)[0], x.shape[2]
    xs = tf.repeat(x, dim, axis=0)  # rows: seq 0 col 0, seq 0 col 1, ...
    e = tf.tile(tf.eye(dim, dtype=x.dtype), [batch, 1])  # tangent e_k on x_1
    tiny = tf.constant(1e-300 if x.dtype == tf.float64 else 1e-30, x.dtype)

    def renormalise(new_state, tangent, log_scale):
        """(state, unit tangent, log scale) and log ||dh_t/dx_1 e_k||."""
        full = tf.sqrt(tf.add_n([tf.reduce_sum(t * t, axis=1) for t in tangent]))
        full = tf.maximum(full, tiny)  # a tangent exactly 0 stays 0, without NaNs
        hidden = tf.maximum(tf.norm(tf.nest.flatten(cell.hidden(
            tf.nest.pack_sequence_as(new_state, tangent)))[0], axis=1), tiny)
        carry = (new_state, [t / full[:, None] for t in tangent], log_scale + tf.math.log(full))
        return carry, log_scale + tf.math.log(hidden)

    x_1 = xs[:, 0]
    with tf.autodiff.ForwardAccumulator(x_1, e) as acc:
        first = cell.step(x_1, cell.initial_state(tf.shape(xs)[0]))
    tangent = [acc.jvp(s, unconnected_gradients="zero") for s in tf.nest.flatten(first)]
    init = renormalise(first, tangent, tf.zeros_like(xs[:, 0, 0]))

    def body(previous, x_t):
        state, tangent, log_scale = previous[0]
        with tf.autodiff.ForwardAccumulator(
                state, tf.nest.pack_sequence_as(state, tangent)) as acc:
            new = cell.step(x_t, state)
        tangent = [acc.jvp(s, unconnected_gradients="zero") for s in tf.nest.flatten(new)]
        return renormalise(new, tangent, log_scale)

    rest = tf.transpose(xs[:, 1:], [1, 0, 2])  # (time - 1, rows, dim)
    log_rest = tf.scan(body, rest, initializer=init)[1]
    log_h = tf.concat([init[1][None], log_rest], axis=0)  # (time, batch * dim)
    # ||dh_t/dx_1||_F^2 = sum over k of ||dh_t/dx_1 e_k||^2, in logs
    log_h = tf.reshape(log_h, [-1, batch, dim])
    return 0.5 * tf.reduce_logsumexp(2.0 * log_h, axis=2)


def jacobian_norms(model, x: np.ndarray) -> np.ndarray:
    """``log10 ||dh_t / dx_1||_F`` for each step ``t``: how far the first input reaches.

    ``dh_t / dx_1`` is the Jacobian of the hidden state after ``t`` steps with
    respect to the first input pair (``units x 2``); its Frobenius norm is
    computed exactly, in logs, so it does not underflow at long lengths. The
    result is the mean of the logs over the sequences (the log of their
    geometric mean). For a trained network that has learnt to forget,
    a small norm is the right answer, not a failure: the chapter "Why gates?"
    compares it with untrained networks and with carry chains.

    Parameters
    ----------
    model : BitAdder
        A model with any cell of :data:`gru_tutorial.recipes.CELLS`.
    x : numpy.ndarray
        Inputs of shape ``(batch, time, 2)``.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of length ``time``: entry ``t - 1`` is the mean
        ``log10 ||dh_t / dx_1||``.
    """
    cell = getattr(model, "cell", None)
    if cell is None or not hasattr(cell, "step"):
        raise ArgumentError(f"expected a BitAdder, got {type(model).__name__}")
    x = np.asarray(x)
    check_input_shape(x)
    check_steps(x.shape[0], x.shape[1], "batch x time")
    fn = tf.function(_jacobian_log_norms, autograph=False)
    trace_once_per_instance(fn)
    logs = fn(cell, tf.constant(x, dtype=model.dtype)).numpy()
    return logs.mean(axis=1).astype(np.float64) / np.log(10.0)


def decay_rate(log10_norms: np.ndarray, start: int = 1, stop: int | None = None) -> float:
    """Slope of ``log10 ||dh_t/dx_1||`` against ``t``: decades lost per step.

    Parameters
    ----------
    log10_norms : numpy.ndarray
        Output of :func:`jacobian_norms`.
    start, stop : int
        Fit steps ``t = start .. stop`` (1-based, inclusive; ``stop`` defaults
        to the last step).

    Returns
    -------
    float
        The least-squares slope (negative when the norm shrinks).
    """
    y = np.asarray(log10_norms, dtype=np.float64)
    stop = len(y) if stop is None else check_int(stop, "stop", 1, len(y))
    start = check_int(start, "start", 1, stop - 1)
    t = np.arange(start, stop + 1, dtype=np.float64)
    return float(np.polyfit(t, y[start - 1:stop], 1)[0])


def accuracy_by_length(model, bits: Sequence[int], count: int = 100,
                       seed: int = 0) -> dict[int, dict[str, float]]:
    """Exact accuracy on random and adversarial sums of each length.

    Parameters
    ----------
    model : BitAdder
        The model.
    bits : sequence of int
        Bits per operand (each at least 2).
    count : int
        Random sums per length, of each kind.
    seed : int
        Seed of the random sums.

    Returns
    -------
    dict
        Bits -> ``{"uniform": ..., "mixed": ..., "adversarial": ...}``: exact
        accuracy on ``count`` sums of uniform random bits (as ``gru-tutorial
        eval``), on ``count`` sums drawn with a random density of ones per
        operand (as the training sums, with long carry chains), and on the
        sums of :func:`~gru_tutorial.evaluate.adversarial_pairs`.
    """
    count = check_int(count, "count", 1)
    rng = np.random.default_rng([check_int(seed, "seed"), 7])
    out: dict[int, dict[str, float]] = {}
    for b in bits:
        b = check_int(b, "each of bits", 2)
        check_steps(count, b + 1, "count x (bits + 1)")
        uniform = evaluate(model, bits=b, count=count, seed=seed).exact_accuracy
        mixed, _ = score_batch(model, random_batch(count, b, rng, mixed_density=True))
        adversarial = evaluate_adversarial(model, b)
        out[b] = {"uniform": uniform, "mixed": float(mixed.mean()),
                  "adversarial": float(np.mean(list(adversarial.values())))}
    return out


class GRUConvention(NamedTuple):
    """One way of writing the GRU: a row of the chapter's conventions table."""

    name: str  # who writes it this way
    new_state: str  # the last equation: which of h and h~ the update gate z weighs
    reset: str  # where r acts: "before U_h", (r * h) U_h, or "after U_h", r * (h U_h + b)
    biases: str  # which biases exist
    biases_per_gate: int  # 0, 1 or 2 bias vectors per gate
    source: str  # where it is written: a key of the book's bibliography


_Z_KEEPS_H, _AFTER = "z*h + (1-z)*h~", "after U_h"  # the most common entries
GRU_CONVENTIONS: tuple[GRUConvention, ...] = tuple(GRUConvention(*row) for row in (
    ("Cho et al. 2014 (arXiv v1)", _Z_KEEPS_H, _AFTER, "none written", 0, "cho2014"),
    ("Cho et al. 2014 (arXiv v3)", _Z_KEEPS_H, "before U_h", "none written", 0, "cho2014"),
    ("This book (Chung et al. 2014 + biases)", "(1-z)*h + z*h~", "before U_h", "b_z, b_r, b_h", 1,
     "chung2014"),
    ("Keras GRU(reset_after=False)", _Z_KEEPS_H, "before U_h", "one per gate", 1, "kerasgru"),
    ("Keras GRU(reset_after=True), the default", _Z_KEEPS_H, _AFTER,
     "input and recurrent, per gate", 2, "kerasgru"),
    ("cuDNN", _Z_KEEPS_H, _AFTER, "b_W and b_R, per gate", 2, "cudnn"),
    ("PyTorch nn.GRU (n_t)", "(1-z)*n + z*h", _AFTER, "b_i and b_h, per gate", 2, "pytorchgru"),
))
"""The GRU formulations of the chapter's conventions table.

Chung et al. (2014) write the GRU without biases; the book's row is their equations with one
bias vector per gate.
"""


def gru_parameter_count(units: int, input_dim: int, biases_per_gate: int) -> int:
    """Weights of one GRU layer: three gates of ``W``, ``U`` and 0-2 bias vectors each.

    Parameters
    ----------
    units, input_dim : int
        Hidden size and input size.
    biases_per_gate : int
        0 (as Cho et al. write it), 1 (this book, Keras ``reset_after=False``)
        or 2 (Keras ``reset_after=True``, cuDNN, PyTorch).

    Returns
    -------
    int
        ``3 * (input_dim * units + units * units + biases_per_gate * units)``.
    """
    units = check_int(units, "units", 1)
    input_dim = check_int(input_dim, "input_dim", 1)
    biases_per_gate = check_int(biases_per_gate, "biases_per_gate", 0, 2)
    return 3 * (input_dim * units + units * units + biases_per_gate * units)
