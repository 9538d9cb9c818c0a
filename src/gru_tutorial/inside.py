"""Looking inside a trained adder: traces, probes, ablations, the automaton, a hand-built GRU.

Explained in the chapter "Inside the adder" (``book/06_inside_the_adder.ipynb``).
Everything here runs in float64 NumPy on a GRU adder's
:class:`~gru_tutorial.adder.AdderWeights` (no TensorFlow; the steps of
:mod:`gru_tutorial.verify`), which for these small networks is fast and matches
the model to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .adder import AdderWeights
from .bits import check_nonnegative_int, to_bits
from .checks import ArgumentError, check_int
from .data import carries, random_batch
from .verify import HistoryGraph, gates, gru_weights, logits, step

__all__ = ["trace", "collect_states", "StateSample", "state_spread", "Probe", "fit_probe", "ablate",
           "extract_automaton", "FULL_ADDER", "hand_built_weights", "hand_built_rnn_weights",
           "to_model"]

FULL_ADDER = {(c, a, b): ((a + b + c) // 2, (a + b + c) % 2)
              for c in (0, 1) for a in (0, 1) for b in (0, 1)}
"""``(carry_in, a, b) -> (carry_out, sum_bit)``: the two-state machine of binary addition."""


def trace(model, a: int, b: int, steps: int | None = None) -> dict[str, np.ndarray]:
    """Gates and states, step by step, while the network adds ``a + b``.

    Parameters
    ----------
    model : BitAdder or AdderWeights
        The network.
    a, b : int
        Non-negative operands.
    steps : int, optional
        Time steps; default one more than the longer operand's bit length.

    Returns
    -------
    dict
        ``a``, ``b``, ``sum``, ``carry`` (carry out of each step) and ``predicted``
        bits, shape ``(steps,)``; ``z``, ``r``, ``h_tilde``, ``h`` of shape
        ``(steps, units)``; ``logit`` of shape ``(steps,)``. Row ``t - 1`` is time
        step ``t``.
    """
    w = gru_weights(model)
    a, b = check_nonnegative_int(a, "a"), check_nonnegative_int(b, "b")
    need = max(a.bit_length(), b.bit_length()) + 1
    steps = need if steps is None else check_int(steps, "steps", need, 1 << 20)
    bits_a = to_bits(a, steps).astype(np.int64)
    bits_b = to_bits(b, steps).astype(np.int64)
    out = {k: np.zeros((steps, w.units)) for k in ("z", "r", "h_tilde", "h")}
    h = np.zeros((1, w.units))
    for t in range(steps):
        g = gates(w, h, np.array([[bits_a[t], bits_b[t]]], dtype=np.float64))
        for k in out:
            out[k][t] = g[k][0]
        h = g["h"]
    carry = carries(np.stack([bits_a, bits_b], axis=-1)[None])[0]
    logit = logits(w, out["h"])
    return {"a": bits_a, "b": bits_b, "sum": to_bits(a + b, steps).astype(np.int64),
            "carry": carry,
            "logit": logit, "predicted": (logit > w.threshold).astype(np.int64), **out}


@dataclass
class StateSample:
    """States reached on random sums, with what the task says about each.

    Attributes
    ----------
    h : numpy.ndarray
        States, shape ``(n, units)``: the state after each step of each sum.
    a, b : numpy.ndarray
        The input bits of that step.
    carry_in, carry_out, sum_bit : numpy.ndarray
        The true carry into and out of that step, and the sum bit.
    steps : int
        Steps per sum; rows are grouped sum by sum.
    """

    h: np.ndarray
    a: np.ndarray
    b: np.ndarray
    carry_in: np.ndarray
    carry_out: np.ndarray
    sum_bit: np.ndarray
    steps: int


def collect_states(model, count: int = 200, bits: int = 200, seed: int = 0,
                   clamp: dict[int, float] | None = None) -> StateSample:
    """Run the network on ``count`` random sums of ``bits`` bits with mixed bit density.

    The sums come from :func:`~gru_tutorial.data.random_batch` with
    ``mixed_density=True``, as the fast recipe's training sums do.

    Parameters
    ----------
    model : BitAdder or AdderWeights
        The network.
    count, bits : int
        Number and width of the random sums (``bits + 1`` steps each).
    seed : int
        Seed of the sums.
    clamp : dict, optional
        ``{unit: value}``: hold these units at a value after every step (an ablation).

    Returns
    -------
    StateSample
        One row per (sum, step).
    """
    w = gru_weights(model)
    count = check_int(count, "count", 1, 100_000)
    bits = check_int(bits, "bits", 1, 100_000)
    if count * (bits + 1) > 1 << 24:
        raise ArgumentError(f"count x (bits + 1) must be at most {1 << 24}, "
                            f"got {count * (bits + 1)}")
    clamp = {} if clamp is None else dict(clamp)
    for unit in clamp:
        check_int(unit, "a clamped unit", 0, w.units - 1)
    # the training data's generator: each operand draws its own density of ones
    x = random_batch(count, bits, seed, mixed_density=True).x.astype(np.int64)
    a, b = x[:, :, 0], x[:, :, 1]  # the last step is (0, 0): room for the last carry
    steps = bits + 1
    carry_out = carries(x)
    carry_in = np.concatenate([np.zeros((count, 1), dtype=np.int64), carry_out[:, :-1]], axis=1)
    h = np.zeros((count, w.units))
    states = np.empty((count, steps, w.units))
    for t in range(steps):
        h = step(w, h, x[:, t].astype(np.float64))
        for unit, value in clamp.items():
            h[:, unit] = value
        states[:, t] = h
    # rows sum by sum: row i * steps + t is step t + 1 of sum i
    columns = {"a": a, "b": b, "carry_in": carry_in, "carry_out": carry_out,
               "sum_bit": (a + b + carry_in) % 2}
    return StateSample(h=states.reshape(count * steps, w.units),
                       **{k: v.reshape(count * steps) for k, v in columns.items()}, steps=steps)


def state_spread(sample: StateSample, history: int = 0) -> dict:
    """How far apart the states are that the task says should be alike.

    With ``history=0``, states are grouped by ``(a, b, carry_in)``: the task's
    answer at a step depends only on them. With ``history=k``, they are grouped
    by the node of :class:`~gru_tutorial.verify.HistoryGraph` ``(k)`` they are
    reached at: the carry before the last ``k`` input pairs and those pairs, the
    grouping a certificate of that window uses.

    Parameters
    ----------
    sample : StateSample
        States on random sums (from :func:`collect_states`).
    history : int
        0, or the window length (1 to 8).

    Returns
    -------
    dict
        Group key (``(a, b, carry_in)``, or the node index) -> ``max - min`` of
        each unit over the group's states; groups that do not occur are left out.
    """
    history = check_int(history, "history", 0, 8)
    if history == 0:
        keys = sample.a * 4 + sample.b * 2 + sample.carry_in
        names = {k: (k // 4, (k // 2) % 2, k % 2) for k in range(8)}
    else:
        graph = HistoryGraph(history)
        codes = (2 * sample.a + sample.b).reshape(-1, sample.steps)
        node = np.zeros(codes.shape[0], dtype=np.int64)
        keys = np.zeros(codes.shape, dtype=np.int64)
        for t in range(sample.steps):
            node = graph.target[node, codes[:, t]]
            keys[:, t] = node
        keys = keys.reshape(-1)
        names = {k: k for k in range(len(graph.nodes))}
    out = {}
    for k in np.unique(keys):
        group = sample.h[keys == k]
        out[names[int(k)]] = group.max(0) - group.min(0)
    return dict(sorted(out.items()))


@dataclass
class Probe:
    """A logistic-regression probe from states to a bit.

    Attributes
    ----------
    weights : numpy.ndarray
        One weight per unit (on standardised states: comparable across units).
    bias : float
        Bias.
    mean, scale : numpy.ndarray
        The standardisation.
    train_accuracy, test_accuracy : float
        Accuracy on the fitting half and on the other half of the states.
    """

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    train_accuracy: float
    test_accuracy: float

    def predict(self, h: np.ndarray) -> np.ndarray:
        """Predicted bits for states ``h``."""
        return ((((h - self.mean) / self.scale) @ self.weights + self.bias) > 0).astype(np.int64)


def fit_probe(h: np.ndarray, target: np.ndarray, ridge: float = 1e-3, seed: int = 0) -> Probe:
    """Fit a linear probe (logistic regression, Newton's method) from states to a bit.

    The states are split in halves at random: fit on one, test on the other.

    Parameters
    ----------
    h : numpy.ndarray
        States, shape ``(n, units)``.
    target : numpy.ndarray
        Bits, shape ``(n,)``.
    ridge : float
        L2 penalty (keeps separable data finite).
    seed : int
        Seed of the split.

    Returns
    -------
    Probe
        The probe and its accuracies.
    """
    h = np.asarray(h, dtype=np.float64)
    y = np.asarray(target).astype(np.float64)
    if h.ndim != 2 or y.shape != (h.shape[0],) or h.shape[0] < 4:
        raise ArgumentError(f"need states (n, units) and n targets, n >= 4; got {h.shape} "
                            f"and {y.shape}")
    if not np.all(np.isfinite(h)):
        raise ArgumentError("states must be finite")
    if not np.isin(y, (0, 1)).all():
        raise ArgumentError("target must hold only 0s and 1s")
    order = np.random.default_rng(seed).permutation(len(y))
    fit, test = order[: len(y) // 2], order[len(y) // 2:]
    mean = h[fit].mean(0)
    scale = h[fit].std(0) + 1e-12
    X = np.hstack([(h - mean) / scale, np.ones((len(y), 1))])
    theta = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(X[fit] @ theta, -500, 500)))
        grad = X[fit].T @ (p - y[fit]) + ridge * theta
        hess = (X[fit] * (p * (1 - p))[:, None]).T @ X[fit] + ridge * np.eye(X.shape[1])
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break

    def accuracy(rows: np.ndarray) -> float:
        return float(np.mean((X[rows] @ theta > 0) == (y[rows] == 1)))

    return Probe(theta[:-1], float(theta[-1]), mean, scale, accuracy(fit), accuracy(test))


def ablate(model, units: Sequence[int], value: float | str = 0.0, count: int = 200,
           bits: int = 100, seed: int = 1) -> dict[str, float]:
    """Exact and bit accuracy with some units held at a value after every step.

    Parameters
    ----------
    model : BitAdder or AdderWeights
        The network.
    units : sequence of int
        Units to clamp (may be empty: the intact network).
    value : float or 'mean'
        The value, or ``'mean'`` for each unit's mean over the intact network's states.
    count, bits, seed
        The random sums, as for :func:`collect_states`.

    Returns
    -------
    dict
        ``exact_accuracy`` (whole sums right) and ``bit_accuracy``.
    """
    w = gru_weights(model)
    units = [check_int(u, "unit", 0, w.units - 1) for u in units]
    if value == "mean":
        means = collect_states(w, count, bits, seed).h.mean(0)
        clamp = {u: float(means[u]) for u in units}
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
        clamp = {u: float(value) for u in units}
    else:
        raise ArgumentError(f"value must be a finite number or 'mean', got {value!r}")
    sample = collect_states(w, count, bits, seed, clamp=clamp)
    right = (logits(w, sample.h) > w.threshold) == (sample.sum_bit == 1)
    return {"exact_accuracy": float(right.reshape(count, bits + 1).all(1).mean()),
            "bit_accuracy": float(right.mean())}


def extract_automaton(model, probe: Probe, sample: StateSample) -> dict:
    """The finite-state machine the network implements, read through a carry probe.

    Each state is labelled with the probe's carry (an abstract state, 0 or 1).
    For every abstract state and input pair, the abstract states reached next and
    the output bits the readout gives there are counted.

    Parameters
    ----------
    model : BitAdder or AdderWeights
        The network (for its readout).
    probe : Probe
        A probe from states to the carry out of the step.
    sample : StateSample
        States on random sums (from :func:`collect_states`).

    Returns
    -------
    dict
        ``table``: ``(state, a, b) -> (next_state, output)`` by majority;
        ``deterministic``: whether every transition was always the same;
        ``matches_full_adder``: whether ``table`` equals :data:`FULL_ADDER`;
        ``counts``: ``(state, a, b) -> {(next_state, output): count}``.
    """
    w = gru_weights(model)
    label = probe.predict(sample.h)
    output = (logits(w, sample.h) > w.threshold).astype(np.int64)
    counts: dict[tuple[int, int, int], dict[tuple[int, int], int]] = {}
    # previous abstract state: the label of the previous row of the same sum (0 at the start)
    prev = np.concatenate([[0], label[:-1]])
    prev[:: sample.steps] = 0  # each sum starts from h_0, which holds no carry
    for s, a, b, n, o in zip(prev, sample.a, sample.b, label, output, strict=True):
        key = (int(s), int(a), int(b))
        counts.setdefault(key, {})
        counts[key][(int(n), int(o))] = counts[key].get((int(n), int(o)), 0) + 1
    table = {k: max(v, key=v.get) for k, v in counts.items()}
    return {"table": dict(sorted(table.items())), "counts": counts,
            "deterministic": all(len(v) == 1 for v in counts.values()),
            "matches_full_adder": table == FULL_ADDER}


def hand_built_weights(sharpness: float = 20.0, sum_gain: float = 1.0,
                       saturation: float = 20.0) -> AdderWeights:
    """The weights of a 2-unit GRU adder, chosen by reasoning (no training).

    Unit 0 holds the carry as about ``-1`` (no carry) or ``+1`` (carry); unit 1
    holds the column total ``a + b + carry_in`` (0 to 3) on a smooth scale. Both
    gates are held open (``z = r = sigmoid(saturation)``, about 1), so each step
    the state becomes the candidate. Writing ``h[0]``, ``h[1]`` for the two units of
    the previous state (``h[0] = 0`` before the first step)::

        h_tilde[0] = tanh(sharpness * (a + b + h[0] / 2 - 5/4))   carry out
        h_tilde[1] = tanh(sum_gain  * (a + b + h[0] / 2 - 5/4))   total, smoothly

    ``a + b + h[0]/2 - 5/4`` is ``total - 7/4`` both with a carry in (``h[0] = +1``,
    total ``a + b + 1``) and without (``h[0] = -1``, total ``a + b``), and
    ``total - 5/4`` at the start (``h[0] = 0``, total ``a + b``): in each case the
    carry out (total >= 2) is where it is positive, with a margin of at least 1/4.
    The readout ``h[1] - tanh(sum_gain) h[0]`` is positive exactly for odd totals.

    Parameters
    ----------
    sharpness : float
        Gain of the carry unit (larger: closer to +-1).
    sum_gain : float
        Gain of the total unit.
    saturation : float
        Bias that holds the gates open.

    Returns
    -------
    AdderWeights
        The weights of a float32 GRU adder (each rounded to float32, as the model
        computes with them).
    """
    try:
        k, g, s = (float(v) for v in (sharpness, sum_gain, saturation))
    except (TypeError, ValueError):
        raise ArgumentError("sharpness, sum_gain and saturation must be numbers, got "
                            f"{sharpness!r}, {sum_gain!r}, {saturation!r}") from None
    if not (k > 0 and g > 0 and s > 0 and all(np.isfinite((k, g, s)))):
        raise ArgumentError("sharpness, sum_gain and saturation must be positive and finite")
    zeros = np.zeros((2, 2))
    return AdderWeights("gru", {
        "W_z": zeros, "U_z": zeros, "b_z": np.full(2, s),
        "W_r": zeros, "U_r": zeros, "b_r": np.full(2, s),
        "W_h": np.array([[k, g], [k, g]]),            # a and b add to both units
        "U_h": np.array([[k / 2, g / 2], [0.0, 0.0]]),  # only the carry unit feeds back
        "b_h": np.array([-1.25 * k, -1.25 * g]),
        "V": np.array([-np.tanh(g), 1.0]), "c": 0.0}, dtype="float32")


def hand_built_rnn_weights(sharpness: float = 8.0) -> AdderWeights:
    """The weights of a 3-unit plain (tanh) RNN adder, chosen by reasoning (no training).

    Each unit compares the column total with a threshold, reading the carry in
    from unit 0 as ``h_0 / 2`` (``h_0`` is about ``-1`` without a carry, ``+1`` with
    one, and ``0`` at the start)::

        h_0' = tanh(k (a + b + h_0 / 2 - 5/4))   carry out: total >= 2
        h_1' = tanh(k (a + b + h_0 / 2 - 1/4))   total >= 1
        h_2' = tanh(k (a + b + h_0 / 2 - 9/4))   total >= 3

    With ``h_0 / 2`` at ``-1/2``, ``0`` or ``+1/2``, each threshold lies at least
    1/4 from every value ``a + b + h_0 / 2`` can take on its two sides. The sum
    bit is ``[total >= 1] - [total >= 2] + [total >= 3]``, so the readout
    ``h_1 - h_0 + h_2`` is positive exactly for odd totals.

    Parameters
    ----------
    sharpness : float
        The gain ``k`` of every unit (larger: states closer to +-1).

    Returns
    -------
    AdderWeights
        The weights of a float32 RNN adder (each rounded to float32).
    """
    try:
        k = float(sharpness)
    except (TypeError, ValueError):
        raise ArgumentError(f"sharpness must be a number, got {sharpness!r}") from None
    if not (k > 0 and np.isfinite(k)):
        raise ArgumentError(f"sharpness must be positive and finite, got {sharpness!r}")
    U = np.zeros((3, 3))
    U[0] = k / 2  # only the carry unit feeds back, to every unit
    return AdderWeights("rnn", {
        "W": np.full((2, 3), k), "U": U, "b": -k * np.array([1.25, 0.25, 2.25]),
        "V": np.array([-1.0, 1.0, 1.0]), "c": 0.0}, dtype="float32")


def to_model(weights: AdderWeights):
    """A :class:`~gru_tutorial.model.BitAdder` computing with ``weights`` in TensorFlow.

    The same as :meth:`BitAdder.from_weights <gru_tutorial.model.BitAdder.from_weights>`,
    named here for the chapter.
    """
    from .model import BitAdder

    return BitAdder.from_weights(weights)
