"""A proof that a trained adder adds correctly at every length: interval certificates.

Explained in the chapter "Inside the adder" (``book/06_inside_the_adder.ipynb``).
The cells it handles are :data:`VERIFIABLE`: the GRU, the GRU without its reset
gate (``r = 1``), the plain tanh RNN and the LSTM (state ``(h, c)``; its boxes
bound ``c`` too, and the run-error slack grows with the largest ``|c|`` they hold).
Only the GRUs get the mean-value form; the RNN's naive image is already the box
hull, and the LSTM's is naive (sound, and looser).

Testing long sums can only find mistakes. A *certificate* rules them out for
every pair of bit sequences of every length. It is a finite set of boxes in
state space (a lower and an upper bound per unit), one per node of a graph that
tracks the last ``history`` input pairs and the carry before them, such that

1. the initial state ``h_0 = 0`` is the start node's box;
2. for every node and each of the four input pairs, the image of the node's box
   under one step of the cell (widened by a slack, below) lies inside the box of the node
   the graph moves to;
3. on every box other than the start, the readout ``h V + c`` is on the right side of the
   model's threshold (above it where the sum bit ``a_t xor b_t xor carry``, which the node
   determines, is 1, below it where it is 0), with a margin.

By induction over time, ``h_t`` lies in the box of the node reached after ``t``
steps, so every output bit of every sum is right. :func:`check_certificate`
checks these three conditions and nothing else; :func:`find_certificate` only
proposes boxes (from simulated states, then grown until they are closed), so a
wrong proposal cannot make a wrong model pass.

What is proven. Images are enclosed with interval arithmetic on the model's weights
(float32 weights are exact in float64): the naive interval extension of the step
intersected with the mean-value form ``F(m) + J(B)(B - m)``. Every float64 operation of
the enclosure is widened by a bound on its rounding error, assuming NumPy's float64
``exp`` and ``tanh`` are within ``8 * 2**-53`` relative error (4 ulps; glibc documents 1
and 2, and NumPy's SIMD versions stay within that); the sigmoid ``1 / (1 + exp(-x))`` is
then within ``11 * 2**-53``. The slack of condition 2 bounds the error of running the
model in its own dtype: ``gamma_n`` bounds on every dot product (any summation order,
with or without fused multiply-add) and an assumed accuracy of the dtype's ``sigmoid``
and ``tanh`` (:data:`FUNCTION_ERROR`, which the chapter measures), plus an absolute term
for results below the dtype's smallest normal number, which CPUs may flush to zero
(TensorFlow's kernels do). Matrix products must be true float32 products, as on CPUs
(GPUs that use TF32 for float32 matrix products break that bound). So a certificate
proves that the model, run step by step in its dtype or in any finer arithmetic
(:func:`covers` names the engines), predicts every bit of every sum, given those two
accuracy assumptions; the tests measure the functions of every engine against
:data:`FUNCTION_ERROR` and check certificates again with an independent interval
checker.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .adder import AdderWeights, as_weights
from .checks import ArgumentError, check_int
from .data import carries
from .recipes import VERIFIABLE

__all__ = ["VERIFIABLE", "verifiable_weights", "state_dim", "gru_weights", "gates", "step",
           "logits", "HistoryGraph", "Certificate", "VerifyResult", "FUNCTION_ERROR",
           "MEAN_VALUE_MAX_UNITS", "image", "run_error_bound", "check_certificate",
           "find_certificate", "verify", "covers"]

FUNCTION_ERROR = {"float32": 1e-5, "float64": 1e-12}
"""Assumed largest absolute error of ``sigmoid`` and ``tanh`` as the model runs them."""

MEAN_VALUE_MAX_UNITS = 64
"""Larger models are checked with the naive interval enclosure only."""

_U64 = 2.0 ** -53  # unit roundoff of float64, the arithmetic of the enclosures
_ROUNDOFF = {"float32": 2.0 ** -24, "float64": _U64}
# The smallest normal number of each dtype. Below it, relative error bounds fail: CPUs
# flush subnormal results to zero (TensorFlow's kernels do) or round them absolutely.
_TINY_NORMAL = {"float32": 2.0 ** -126, "float64": 2.0 ** -1022}
_TINY = 1e-300
_H_BOUND = 1.0 + 1e-3  # |h| bound used for the run-error slack; boxes must respect it
_C_CAP = 64.0  # the LSTM's |c| the search allows (the check bounds it from the boxes)
_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # code = 2 a + b


def _gamma(k: int, u: float = _U64) -> float:
    """Higham's gamma_k = k u / (1 - k u): relative error bound of a k-term dot product."""
    return k * u / (1 - k * u)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


# -- the cells in float64 ----------------------------------------------------------------

# VERIFIABLE (from .recipes): the cells verify handles: the GRU, the GRU without its reset
# gate, the plain RNN and the LSTM (whose state is (h, c): boxes have 2 units bounds, h first)


def state_dim(w: AdderWeights) -> int:
    """Length of the state vector: ``units``, or ``2 units`` for the LSTM's ``(h, c)``."""
    return 2 * w.units if w.cell == "lstm" else w.units


def verifiable_weights(model_or_weights) -> AdderWeights:
    """The :class:`~gru_tutorial.adder.AdderWeights` of an adder whose cell the verifier handles.

    Raises
    ------
    ArgumentError
        If the cell is not one of :data:`VERIFIABLE`.
    """
    w = as_weights(model_or_weights)
    if w.cell not in VERIFIABLE:
        raise ArgumentError(f"the verifier handles the cells {', '.join(VERIFIABLE)}; this "
                            f"model's cell is {w.cell!r}")
    return w


def gru_weights(model_or_weights) -> AdderWeights:
    """The :class:`~gru_tutorial.adder.AdderWeights` of a GRU adder (a model, or weights).

    Raises
    ------
    ArgumentError
        If the cell is not ``'gru'`` (the GRU with its reset gate), the only one
        the verifier handles.
    """
    w = as_weights(model_or_weights)
    if w.cell != "gru":
        raise ArgumentError("the verifier handles the GRU with its reset gate (cell 'gru'); "
                            f"this model's cell is {w.cell!r}")
    return w


def gates(w: AdderWeights, h: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Update gate, reset gate, candidate and new state of a GRU adder, in float64.

    For states ``h`` (batch, units) and inputs ``x`` (batch, 2).
    """
    z = _sigmoid(x @ w.W_z + h @ w.U_z + w.b_z)
    r = _sigmoid(x @ w.W_r + h @ w.U_r + w.b_r)
    h_tilde = np.tanh(x @ w.W_h + (r * h) @ w.U_h + w.b_h)
    return {"z": z, "r": r, "h_tilde": h_tilde, "h": (1 - z) * h + z * h_tilde}


def step(w: AdderWeights, h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One step of the model's cell in float64 (for the GRU, the new state of :func:`gates`)."""
    if w.cell == "rnn":
        return np.tanh(x @ w.W + h @ w.U + w.b)
    if w.cell == "lstm":  # the state is (h, c), side by side
        u = w.units
        hh, c = h[..., :u], h[..., u:]
        i, f, o = (_sigmoid(x @ w.arrays[f"W_{g}"] + hh @ w.arrays[f"U_{g}"]
                            + w.arrays[f"b_{g}"]) for g in "ifo")
        c_new = f * c + i * np.tanh(x @ w.W_c + hh @ w.U_c + w.b_c)
        return np.concatenate([o * np.tanh(c_new), c_new], axis=-1)
    if w.cell == "gru-noreset":
        z = _sigmoid(x @ w.W_z + h @ w.U_z + w.b_z)
        return (1 - z) * h + z * np.tanh(x @ w.W_h + h @ w.U_h + w.b_h)
    return gates(w, h, x)["h"]


def logits(w: AdderWeights, h: np.ndarray) -> np.ndarray:
    """Readout ``h V + c`` in float64 for states ``h`` (..., units; the LSTM's ``h`` part)."""
    return h[..., :w.units] @ w.V + w.c


# -- the graph of histories ---------------------------------------------------------------

@dataclass(frozen=True)
class HistoryGraph:
    """Nodes = (carry before the window, the last ``history`` input pairs).

    Input pairs are coded ``2 a + b``. Node 0 is the start (nothing read). Until
    ``history`` pairs have been read, a node holds all of them and the carry
    before them is 0; after that the window slides and the carry before it is
    updated. Every node determines the carry after its last pair and the sum bit
    of that pair, so the graph is an exact model of binary addition.

    Parameters
    ----------
    history : int
        Window length, at least 1.
    """

    history: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "history", check_int(self.history, "history", 1, 8))

    @cached_property
    def nodes(self) -> list[tuple[int, tuple[int, ...]]]:
        """``(carry_before, window)`` for every node, the start first."""
        k = self.history
        out: list[tuple[int, tuple[int, ...]]] = [(0, ())]
        for length in range(1, k):
            out += [(0, w) for w in np.ndindex(*(4,) * length)]
        out += [(c, w) for c in (0, 1) for w in np.ndindex(*(4,) * k)]
        return [(c, tuple(int(v) for v in w)) for c, w in out]

    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        index = {node: i for i, node in enumerate(self.nodes)}
        n = len(self.nodes)
        target = np.zeros((n, 4), dtype=np.int64)
        sum_bit = np.full(n, -1, dtype=np.int64)
        carry_out = np.zeros(n, dtype=np.int64)
        for i, (carry, window) in enumerate(self.nodes):
            c = carry
            for code in window:
                total = code // 2 + code % 2 + c
                sum_bit[i], c = total % 2, total // 2
            carry_out[i] = c
            for code in range(4):
                if len(window) < self.history:
                    target[i, code] = index[(carry, window + (code,))]
                else:
                    first = window[0]
                    c1 = (first // 2 + first % 2 + carry) // 2
                    target[i, code] = index[(c1, window[1:] + (code,))]
        return target, sum_bit, carry_out

    @property
    def target(self) -> np.ndarray:
        """``target[node, code]``: the node reached by reading input pair ``code``."""
        return self._tables[0]

    @property
    def sum_bit(self) -> np.ndarray:
        """The sum bit output on reaching each node (-1 for the start)."""
        return self._tables[1]

    @property
    def carry(self) -> np.ndarray:
        """The carry after each node's last input pair."""
        return self._tables[2]

    def describe(self, node: int) -> str:
        """A node in words, e.g. ``carry 1, then (a, b) = (1,0) (0,0)``."""
        carry, window = self.nodes[node]
        if not window:
            return "the start (nothing read)"
        pairs = " ".join(f"({c // 2},{c % 2})" for c in window)
        return f"carry {carry}, then (a,b) = {pairs}"


# -- rigorous interval steps --------------------------------------------------------------

def _down(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, -np.inf)


def _up(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, np.inf)


def _affine(lo: np.ndarray, hi: np.ndarray, W: np.ndarray, b: np.ndarray,
            b_size: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of ``h W + b`` for ``h`` in the boxes ``[lo, hi]`` (rows).

    ``b`` may itself be a computed sum (the input term ``x W_x + b``); ``b_size``, the
    sum of the absolute values of its terms, then bounds its own rounding too.
    """
    mid = 0.5 * (lo + hi)
    rad = _up(np.maximum(hi - mid, mid - lo) * (1 + 4 * _U64))
    center = mid @ W + b
    k = W.shape[0] + 3  # the terms of h W, up to three of the input term, and the sum
    size = np.abs(b) if b_size is None else np.maximum(np.abs(b), b_size)
    err = _gamma(2 * k) * (np.abs(mid) @ np.abs(W) + size) + _TINY
    spread = (rad @ np.abs(W)) * (1 + _gamma(2 * k)) + err
    return _down(center - spread), _up(center + spread)


def _input_term(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x W + b`` in float64 and the sum of its terms' absolute values (for its rounding)."""
    return x @ W + b, np.abs(x) @ np.abs(W) + np.abs(b)


# Relative error of the float64 functions, given exp and tanh within 8 u (u = 2^-53): tanh is
# one call; the sigmoid 1 / (1 + exp(-x)) adds two roundings to exp's error, (1 + 8u)(1 + u)^2
# - 1 < 10.1 u (the sum 1 + e passes on e's relative error at most, since e > 0).
_FUNCTION_REL = {"tanh": 8 * _U64, "sigmoid": 11 * _U64}


def _monotone(f, lo: np.ndarray, hi: np.ndarray, floor: float, ceil: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of an increasing function ``f`` (values in [floor, ceil]) on ``[lo, hi]``."""
    rel = _FUNCTION_REL["sigmoid" if f is _sigmoid else "tanh"]
    flo, fhi = f(lo), f(hi)
    flo = np.maximum(floor, flo - rel * np.abs(flo) - _TINY)
    fhi = np.minimum(ceil, fhi + rel * np.abs(fhi) + _TINY)
    return flo, fhi


def _product(al, ah, bl, bh) -> tuple[np.ndarray, np.ndarray]:
    p = np.stack([al * bl, al * bh, ah * bl, ah * bh])
    lo, hi = p.min(0), p.max(0)
    return lo - 2 * _U64 * np.abs(lo) - _TINY, hi + 2 * _U64 * np.abs(hi) + _TINY


def _bell(sl, sh, peak_at, f):
    """Range of a function of s that increases to a peak at ``peak_at`` then decreases.

    Used for sigmoid' = s (1 - s) (peak at s = 1/2) and tanh' = 1 - t^2 (peak at 0), at
    end points ``s`` that are floats in [-1, 1]. Each takes two roundings of values at most 1,
    so its absolute error is below 2 u: an absolute widening (a relative one would fail for
    1 - t^2 near t = 1, where the subtraction cancels).
    """
    a, b = f(sl), f(sh)
    top = np.where((sl <= peak_at) & (sh >= peak_at), f(np.float64(peak_at)), np.maximum(a, b))
    low = np.minimum(a, b)
    return np.maximum(0.0, low - 4 * _U64 - _TINY), top + 4 * _U64 + _TINY


def _pieces(w: AdderWeights, lo, hi, x):
    """Enclosures of z, r and the candidate over boxes (a GRU, or one without reset: r = 1)."""
    zl, zh = _monotone(_sigmoid, *_affine(lo, hi, w.U_z, *_input_term(x, w.W_z, w.b_z)),
                       0.0, 1.0)
    if w.cell == "gru-noreset":  # r is 1 exactly, and r h is h
        rl = rh = np.ones_like(lo)
        pl, ph = lo, hi
    else:
        rl, rh = _monotone(_sigmoid, *_affine(lo, hi, w.U_r, *_input_term(x, w.W_r, w.b_r)),
                           0.0, 1.0)
        pl, ph = _product(rl, rh, lo, hi)
    tl, th = _monotone(np.tanh, *_affine(pl, ph, w.U_h, *_input_term(x, w.W_h, w.b_h)),
                       -1.0, 1.0)
    return (zl, zh), (rl, rh), (tl, th)


def _naive_image(w: AdderWeights, lo, hi, x) -> tuple[np.ndarray, np.ndarray]:
    """Interval extension of one step: z, r, h_tilde, h treated as independent intervals.

    ``(1 - z) h + z h_tilde`` increases in ``h`` and ``h_tilde`` and is linear in
    ``z``, so its range over the independent intervals is found at the end points.
    """
    (zl, zh), _, (tl, th) = _pieces(w, lo, hi, x)
    low = np.minimum((1 - zl) * lo + zl * tl, (1 - zh) * lo + zh * tl)
    high = np.maximum((1 - zl) * hi + zl * th, (1 - zh) * hi + zh * th)
    err = 8 * _U64 * (np.abs(lo) + np.abs(hi) + np.abs(tl) + np.abs(th)) + _TINY
    return low - err, high + err


def _mid_rad(lo, hi):
    """Midpoint-radius form of ``[lo, hi]``: ``[mid - rad, mid + rad]`` contains it."""
    mid = 0.5 * (lo + hi)
    return mid, _up(np.maximum(hi - mid, mid - lo)) * (1 + 4 * _U64) + _TINY


def _mr_product(a, b):
    """Enclosure of a product in midpoint-radius form.

    The radius ``|a_m| b_r + |b_m| a_r + a_r b_r`` takes five roundings (``gamma_5``),
    and the computed midpoint ``a_m b_m`` is off by at most ``u |a_m b_m|`` (``gamma_1``).
    """
    mid = a[0] * b[0]
    rad = (np.abs(a[0]) * b[1] + np.abs(b[0]) * a[1] + a[1] * b[1]) * (1 + _gamma(5))
    return mid, _up(rad + _gamma(1) * np.abs(mid) + _TINY)


def _jacobian_bound(w: AdderWeights, lo, hi, x) -> np.ndarray:
    """``Jmax[n, i, j] >= |d h'_i / d h_j|`` over box ``n``, for inputs ``x``."""
    (zl, zh), (rl, rh), (tl, th) = _pieces(w, lo, hi, x)
    dz = _mid_rad(*_bell(zl, zh, 0.5, lambda s: s * (1 - s)))
    dr = _mid_rad(*_bell(rl, rh, 0.5, lambda s: s * (1 - s)))
    dt = _mid_rad(*_bell(tl, th, 0.0, lambda t: 1 - t * t))
    z, r, t, h = _mid_rad(zl, zh), _mid_rad(rl, rh), _mid_rad(tl, th), _mid_rad(lo, hi)
    Uh, Uz = w.U_h, w.U_z
    Ur = w.U_r if w.cell == "gru" else np.zeros_like(Uh)  # no reset gate: r' = 0
    aUh, aUr, aUz = np.abs(Uh), np.abs(Ur), np.abs(Uz)
    # d pre_h_i / d h_j = r_j Uh[j, i] + sum_k h_k r'_k Uh[k, i] Ur[j, k]
    q = _mr_product(h, dr)
    e_mid = np.einsum("nk,ki,jk->nij", q[0], Uh, Ur) + r[0][:, None, :] * Uh.T[None]
    e_rad = np.einsum("nk,ki,jk->nij", q[1], aUh, aUr) + r[1][:, None, :] * aUh.T[None]
    e_abs = (np.einsum("nk,ki,jk->nij", np.abs(q[0]) + q[1], aUh, aUr)
             + (np.abs(r[0]) + r[1])[:, None, :] * aUh.T[None])
    zt = _mr_product(z, dt)
    t3 = _mr_product((zt[0][:, :, None], zt[1][:, :, None]), (e_mid, e_rad))
    # d h'_i / d h_j through z: (h_tilde_i - h_i) z'_i Uz[j, i]
    diff = (t[0] - h[0], t[1] + h[1])
    a2 = _mr_product(diff, dz)
    t2 = (a2[0][:, :, None] * Uz.T[None], a2[1][:, :, None] * aUz.T[None])
    j_mid, j_rad = t3[0] + t2[0], t3[1] + t2[1]
    d = np.arange(w.units)
    j_mid[:, d, d] += 1 - z[0]
    j_rad[:, d, d] += z[1]
    # Rounding of the sums above. Each entry of j_mid and j_rad sums at most u + 3 terms
    # (the einsum over k, r_j Uh, the z term, the diagonal), each a product of at most five
    # factors, so each is off by at most gamma_(u+8) times the sum of its terms' absolute
    # values, which `scale` bounds (mid and radius parts alike): 2 gamma_(u+8) <= gamma_(2u+16).
    scale = ((np.abs(zt[0]) + zt[1])[:, :, None] * e_abs
             + (np.abs(a2[0]) + a2[1])[:, :, None] * aUz.T[None])
    scale[:, d, d] += 2
    return _up(np.abs(j_mid) + j_rad + _gamma(2 * w.units + 16) * scale * (1 + _gamma(4))
               + _TINY)


def image(weights: AdderWeights, lo: np.ndarray, hi: np.ndarray, code: int,
          mean_value: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of the image of boxes ``[lo, hi]`` (rows) under one step with input ``code``.

    Parameters
    ----------
    weights : AdderWeights
        The model.
    lo, hi : numpy.ndarray
        Lower and upper bounds, shape ``(boxes, units)``.
    code : int
        Input pair ``2 a + b``, 0 to 3.
    mean_value : bool
        Intersect the naive enclosure with the mean-value form (tighter for small
        boxes; costs ``units^3`` per box, so only for up to
        :data:`MEAN_VALUE_MAX_UNITS` units).

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper bounds of a box that contains the image of each box.
    """
    x = np.broadcast_to(_INPUTS[code], (lo.shape[0], 2))
    if weights.cell == "rnn":  # tanh of an affine map: the box hull of the image, enclosed
        return _monotone(np.tanh, *_affine(lo, hi, weights.U,
                                           *_input_term(x, weights.W, weights.b)), -1.0, 1.0)
    if weights.cell == "lstm":
        return _lstm_image(weights, lo, hi, x)
    low, high = _naive_image(weights, lo, hi, x)
    if mean_value and weights.units <= MEAN_VALUE_MAX_UNITS:
        # boxes in chunks, so that the Jacobian bounds (boxes x units x units) stay small
        rows = max(1, (1 << 22) // weights.units ** 2)
        for i in range(0, lo.shape[0], rows):
            part = slice(i, i + rows)
            mid = 0.5 * (lo[part] + hi[part])
            rad = _up(np.maximum(hi[part] - mid, mid - lo[part]))
            flo, fhi = _naive_image(weights, mid, mid, x[part])  # F(mid), enclosed
            jac = _jacobian_bound(weights, lo[part], hi[part], x[part])
            spread = _up(np.einsum("nij,nj->ni", jac, rad) * (1 + _gamma(2 * weights.units + 4)))
            # fmax/fmin: an overflowed (NaN) mean-value bound leaves the naive one
            low[part] = np.fmax(low[part], _down(flo - spread))
            high[part] = np.fmin(high[part], _up(fhi + spread))
    return low, high


def _lstm_image(w: AdderWeights, lo, hi, x) -> tuple[np.ndarray, np.ndarray]:
    """Naive interval image of one LSTM step: gates, cell and output as independent intervals."""
    u = w.units
    hl, hh, cl, ch = lo[:, :u], hi[:, :u], lo[:, u:], hi[:, u:]
    gate = {}
    for g in "ifoc":
        f, floor = (np.tanh, -1.0) if g == "c" else (_sigmoid, 0.0)
        pre = _affine(hl, hh, w.arrays[f"U_{g}"],
                      *_input_term(x, w.arrays[f"W_{g}"], w.arrays[f"b_{g}"]))
        gate[g] = _monotone(f, *pre, floor, 1.0)
    fc = _product(*gate["f"], cl, ch)
    ig = _product(*gate["i"], *gate["c"])
    c_lo, c_hi = fc[0] + ig[0], fc[1] + ig[1]
    c_lo = _down(c_lo - 2 * _U64 * np.abs(c_lo) - _TINY)
    c_hi = _up(c_hi + 2 * _U64 * np.abs(c_hi) + _TINY)
    h_lo, h_hi = _product(*gate["o"], *_monotone(np.tanh, c_lo, c_hi, -1.0, 1.0))
    return np.concatenate([h_lo, c_lo], axis=1), np.concatenate([h_hi, c_hi], axis=1)


# -- slack for the arithmetic that runs ---------------------------------------------------

def run_error_bound(weights: AdderWeights, function_error: float | None = None,
                    c_bound: float | None = None) -> tuple[float, float]:
    """Bounds on the per-step state error and the logit error of running the model.

    The model computes each step in its dtype; compared with the exact step from
    the same (computed) previous state, each unit of the new state is off by at
    most the first number, and each logit by at most the second, provided
    ``|h| <= 1.001`` and the dtype's ``sigmoid``/``tanh`` are within
    ``function_error`` of the true functions.

    Parameters
    ----------
    weights : AdderWeights
        The model (its ``dtype`` gives the unit roundoff).
    function_error : float, optional
        Accuracy of ``sigmoid`` and ``tanh``; default :data:`FUNCTION_ERROR`.
    c_bound : float, optional
        For the LSTM (required): a bound on ``|c|``, its memory cell, over the
        states considered (a certificate's boxes).

    Returns
    -------
    tuple of float
        ``(state_slack, logit_slack)``.
    """
    w = weights
    u, tiny = _ROUNDOFF[w.dtype], _TINY_NORMAL[w.dtype]
    fe = FUNCTION_ERROR[w.dtype] if function_error is None else float(function_error)
    if not 0 <= fe < 0.1:
        raise ArgumentError(f"function_error must be in [0, 0.1), got {function_error}")
    H, n = _H_BOUND, w.units
    g = _gamma(n + 3, u)
    # an underflowed (flushed or subnormal) product or sum is off by less than 2 tiny in
    # absolute terms: a dot product of k terms by less than 2 k tiny
    flush = 2 * (n + 3) * tiny

    def gate(W, U, b):
        return (np.abs(W).sum(0) + H * np.abs(U).sum(0) + np.abs(b)) * g + flush

    logit = _gamma(n + 1, u) * (H * np.abs(w.V).sum() + abs(w.c)) + 2 * (n + 1) * tiny
    if w.cell == "rnn":  # h' = tanh(x W + h U + b); tanh is 1-Lipschitz
        state = gate(w.W, w.U, w.b) + fe + u
        return float(state.max()), float(logit)
    if w.cell == "lstm":  # c' = f c + i g, h' = o tanh(c'), from the same (h, c)
        if c_bound is None or not np.isfinite(c_bound) or c_bound < 0:
            raise ArgumentError(f"the LSTM's run-error bound needs a finite c_bound >= 0, "
                                f"got {c_bound!r}")
        C = float(c_bound)
        e_i, e_f, e_o = (gate(w.arrays[f"W_{g}"], w.arrays[f"U_{g}"], w.arrays[f"b_{g}"]) / 4
                         + fe for g in "ifo")
        e_g = gate(w.W_c, w.U_c, w.b_c) + fe
        e_c = e_f * C + e_i * (1 + e_g) + e_g + 2 * u * (C + 1 + e_g) + 4 * tiny
        e_h = e_o + (1 + e_o) * (e_c + fe) + u + 2 * tiny
        return float(max(e_c.max(), e_h.max())), float(logit)
    if w.cell == "gru-noreset":  # the GRU with r = 1 and no product r h
        e_z = gate(w.W_z, w.U_z, w.b_z) / 4 + fe
        e_t = gate(w.W_h, w.U_h, w.b_h) + fe
        state = (1 + H + e_t) * e_z + (1 + e_z) * e_t + 5 * u * (H + 1 + e_t) + 10 * tiny
        return float(state.max()), float(logit)

    e_z = gate(w.W_z, w.U_z, w.b_z) / 4 + fe   # sigmoid is 1/4-Lipschitz
    e_r = gate(w.W_r, w.U_r, w.b_r) / 4 + fe
    e_rh = e_r * H + u * H * (1 + e_r) + 2 * tiny  # r * h, rounded
    pre_h = (np.abs(w.W_h).sum(0) + H * (1 + e_r.max()) * np.abs(w.U_h).sum(0)
             + np.abs(w.b_h)) * g + flush + (e_rh @ np.abs(w.U_h))
    e_t = pre_h + fe                            # tanh is 1-Lipschitz
    state = (1 + H + e_t) * e_z + (1 + e_z) * e_t + 5 * u * (H + 1 + e_t) + 10 * tiny
    return float(state.max()), float(logit)


def covers(weights: AdderWeights) -> str:
    """What a certificate of these weights proves about the arithmetic that runs, in words.

    The run-error slack bounds rounding in the model's dtype for any summation order,
    with or without fused multiply-add, with subnormals flushed to zero or not, so it
    also covers any finer arithmetic (float64 for a float32 model): TensorFlow's CPU
    kernels (graph and XLA), the NumPy engine, the numba loop and the page's JavaScript.
    It does not cover GPUs that multiply float32 matrices in TF32.
    """
    w = as_weights(weights)
    engines = ["TensorFlow", "the NumPy engine"]
    if w.cell == "gru":  # the only cell with a compiled loop, and the one the page runs
        engines.append("numba")
        if w.dtype == "float32" and w.readout == "logit":
            engines.append("the page")
    return (f"run step by step in {w.dtype} or finer arithmetic on a CPU "
            f"({', '.join(engines)}), assuming its sigmoid and tanh are within "
            f"{FUNCTION_ERROR[w.dtype]:g} of the true functions")


# -- certificates -------------------------------------------------------------------------

@dataclass
class Certificate:
    """Boxes, one per node of a :class:`HistoryGraph`, and the slacks they were checked with.

    Attributes
    ----------
    history : int
        The graph's window length.
    lower, upper : numpy.ndarray
        Box bounds, shape ``(nodes, units)``; row ``i`` belongs to ``graph.nodes[i]``.
    slack : float
        Per-step state error allowed (:func:`run_error_bound`).
    logit_slack : float
        Logit error allowed.
    """

    history: int
    lower: np.ndarray
    upper: np.ndarray
    slack: float
    logit_slack: float

    @property
    def graph(self) -> HistoryGraph:
        """The graph the boxes belong to."""
        return HistoryGraph(self.history)

    @property
    def boxes(self) -> int:
        """Number of boxes."""
        return int(self.lower.shape[0])


@dataclass
class CheckOutcome:
    """Result of :func:`check_certificate`: ``ok``, the smallest readout margin, and why not."""

    ok: bool
    margin: float | None
    failure: str | None


def check_certificate(model_or_weights, certificate: Certificate,
                      mean_value: bool = True) -> CheckOutcome:
    """Check a certificate's three conditions (see the module docstring).

    Parameters
    ----------
    model_or_weights : BitAdder or AdderWeights
        The model to prove correct.
    certificate : Certificate
        Boxes to check. Nothing about how they were found is trusted.
    mean_value : bool
        Use the mean-value enclosure too (tighter; a certificate found with it
        may fail without it).

    Returns
    -------
    CheckOutcome
        ``ok`` is true only if every condition holds.
    """
    w = verifiable_weights(model_or_weights)
    cert = certificate
    try:
        graph = cert.graph
    except ArgumentError as exc:
        return CheckOutcome(False, None, f"bad certificate: {exc}")
    n, dim, u = len(graph.nodes), state_dim(w), w.units
    lo, hi = np.asarray(cert.lower, dtype=np.float64), np.asarray(cert.upper, dtype=np.float64)
    if lo.shape != (n, dim) or hi.shape != (n, dim):
        what = "units" if dim == u else "bounds (h, then c)"
        return CheckOutcome(False, None, f"the certificate needs {n} boxes of {dim} {what}, "
                                         f"got bounds of shape {lo.shape} and {hi.shape}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo <= hi)):
        return CheckOutcome(False, None, "box bounds must be finite with lower <= upper")
    c_bound = float(np.abs(np.concatenate([lo[:, u:], hi[:, u:]])).max()) if dim > u else None
    slack, logit_slack = run_error_bound(w, c_bound=c_bound)
    try:
        given = (float(cert.slack), float(cert.logit_slack))
    except (TypeError, ValueError):
        return CheckOutcome(False, None, "slacks must be numbers")
    # written so that NaN fails: every comparison with NaN is false
    if not (np.isfinite(given).all() and given[0] >= slack and given[1] >= logit_slack):
        return CheckOutcome(False, None, f"slacks ({given[0]:.3g}, {given[1]:.3g}) must be "
                                         f"finite and at least the run-error bound "
                                         f"({slack:.3g}, {logit_slack:.3g})")
    if np.any(np.abs(lo[:, :u]) > _H_BOUND) or np.any(np.abs(hi[:, :u]) > _H_BOUND):
        return CheckOutcome(False, None, f"a box leaves |h| <= {_H_BOUND}")
    # 1. the initial state
    if np.any(lo[0] > 0) or np.any(hi[0] < 0):
        return CheckOutcome(False, None, "the start box does not contain h_0 = 0")
    # 2. closure: each image, widened by the slack, inside the target box
    for code in range(4):
        ilo, ihi = image(w, lo, hi, code, mean_value=mean_value)
        ilo, ihi = _down(ilo - given[0]), _up(ihi + given[0])
        tgt = graph.target[:, code]
        below, above = lo[tgt] - ilo, ihi - hi[tgt]
        escape = np.maximum(below, above)
        if not np.all(escape <= 0):  # written so that NaN fails too
            i, unit = np.unravel_index(int(np.argmax(escape)), escape.shape)
            where = f"unit {unit}" if unit < u else f"c of unit {unit - u}"
            return CheckOutcome(False, None,
                                f"closure: from node {i} ({graph.describe(int(i))}) with input "
                                f"(a,b) = ({code // 2},{code % 2}) the image leaves the box of "
                                f"node {tgt[i]} in {where} by {escape[i, unit]:.3g}")
    # 3. the readout, on every box but the start
    llo, lhi, margin_per_box = _readout(w, graph, lo, hi)
    bad = np.flatnonzero(~(margin_per_box > given[1]))  # NaN fails too
    margin = float(margin_per_box.min())
    if bad.size:
        i = int(bad[0]) + 1
        return CheckOutcome(False, margin,
                            f"readout: on the box of node {i} ({graph.describe(i)}) the output "
                            f"lies in [{llo[i - 1]:.4g}, {lhi[i - 1]:.4g}] (threshold "
                            f"{w.threshold:g}) but the sum bit is {graph.sum_bit[i]}")
    return CheckOutcome(True, margin, None)


def _readout(w: AdderWeights, graph: HistoryGraph, lo: np.ndarray, hi: np.ndarray):
    """Output bounds on every box but the start, and the margin from the threshold.

    The margin is signed (> 0: the right bit) and rounded down.
    """
    u = w.units
    llo, lhi = _affine(lo[1:, :u], hi[1:, :u], w.V[:, None], np.array([w.c]))
    llo, lhi = llo[:, 0], lhi[:, 0]
    t = w.threshold
    return llo, lhi, np.where(graph.sum_bit[1:] == 1, _down(llo - t), _down(t - lhi))


@functools.lru_cache(maxsize=1)  # verify() tries several graphs on the same runs
def _runs(w: AdderWeights, sequences: int, steps: int, seed: int):
    """Float64 runs on random inputs of mixed density.

    Returns the input codes ``(steps, sequences)``, the states ``(steps, sequences,
    units)`` and the first wrong output bit, if any, as ``(a, b, bits)``.
    """
    rng = np.random.default_rng(seed)
    density = rng.uniform(0.05, 0.95, size=(sequences, 1))
    a = rng.random((sequences, steps)) < density
    b = rng.random((sequences, steps)) < density
    codes = (2 * a.astype(np.int64) + b).T
    carry_in = np.zeros_like(a)
    carry_in[:, 1:] = carries(np.stack([a, b], axis=-1))[:, :-1]
    sum_bit = (a ^ b ^ carry_in).T
    h = np.zeros((sequences, state_dim(w)))
    states = np.empty((steps, sequences, state_dim(w)))
    wrong = None
    for t in range(steps):
        h = states[t] = step(w, h, _INPUTS[codes[t]])
        if wrong is None:
            bad = np.flatnonzero((logits(w, h) > w.threshold) != sum_bit[t])
            if bad.size:
                i = int(bad[0])
                wrong = (sum(int(v) << k for k, v in enumerate(a[i, : t + 1])),
                         sum(int(v) << k for k, v in enumerate(b[i, : t + 1])), t + 1)
    return codes, states, wrong


def _simulate(w: AdderWeights, graph: HistoryGraph, sequences: int, steps: int, seed: int):
    """The state hulls per node of the runs of :func:`_runs`, and their first wrong bit."""
    codes, states, wrong = _runs(w, sequences, steps, seed)
    n = len(graph.nodes)
    lo = np.full((n, state_dim(w)), np.inf)
    hi = np.full((n, state_dim(w)), -np.inf)
    lo[0] = hi[0] = 0.0
    node = np.zeros(sequences, dtype=np.int64)
    for t in range(steps):
        node = graph.target[node, codes[t]]
        np.minimum.at(lo, node, states[t])
        np.maximum.at(hi, node, states[t])
    return lo, hi, wrong


def _grow(w: AdderWeights, graph: HistoryGraph, lo: np.ndarray, hi: np.ndarray, slack: float,
          logit_slack: float, rounds: int, widen: float, bound: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """Grow boxes until every image (plus slack) lands inside its target box.

    ``bound`` holds, per coordinate of the state, the largest absolute value a box may
    reach; growth stops (unclosed) when a box is wider than twice that.
    """
    done = 0
    for done in range(1, rounds + 1):
        new_lo, new_hi = lo.copy(), hi.copy()
        live = np.flatnonzero(np.isfinite(lo[:, 0]))
        for code in range(4):
            ilo, ihi = image(w, lo[live], hi[live], code)
            tgt = graph.target[live, code]
            np.minimum.at(new_lo, tgt, ilo - slack)
            np.maximum.at(new_hi, tgt, ihi + slack)
        grew_lo, grew_hi = new_lo < lo, new_hi > hi
        if not (grew_lo.any() or grew_hi.any()):
            return lo, hi, True, done
        old_lo = np.where(np.isfinite(lo), lo, new_lo)
        old_hi = np.where(np.isfinite(hi), hi, new_hi)
        # grow past the new hull (at least by the slack), so growth stops in few rounds
        lo = np.where(grew_lo, new_lo - np.maximum(widen * (old_lo - new_lo), slack), lo)
        hi = np.where(grew_hi, new_hi + np.maximum(widen * (new_hi - old_hi), slack), hi)
        if np.any(hi - lo > 2 * bound):
            break
        # boxes only grow: once a reached box has a wrong readout, it stays wrong
        reached = np.isfinite(lo[1:, 0]) & np.isfinite(hi[1:, 0])
        if np.any(_readout(w, graph, np.where(np.isfinite(lo), lo, 0),
                           np.where(np.isfinite(hi), hi, 0))[2][reached] <= logit_slack):
            break
    return lo, hi, False, done


def find_certificate(model_or_weights, history: int, *, rounds: int = 300,
                     sequences: int = 2000, steps: int = 200, pad: float = 1e-3,
                     widen: float = 0.3, seed: int = 0) -> tuple[Certificate, dict]:
    """Propose boxes for a :class:`HistoryGraph`; check them with :func:`check_certificate`.

    Start from the hulls of float64 states reached on random sums (``sequences`` x
    ``steps``, mixed bit densities), padded by ``pad``; then repeatedly replace each
    box by the hull of itself and the images that land in it (plus slack), growing
    a box that grew by a further ``widen`` times its growth, until nothing grows
    (closed) or ``rounds`` pass or a box fills the state space.

    Returns
    -------
    tuple
        The proposed :class:`Certificate` (closed or not) and a dict of search
        facts: ``closed``, ``rounds``, ``counterexample`` (``(a, b, bits)`` found by
        the float64 simulation, or None).
    """
    w = verifiable_weights(model_or_weights)
    graph = HistoryGraph(history)
    lo, hi, wrong = _simulate(w, graph, sequences, steps, seed)
    u, dim = w.units, state_dim(w)
    bound = np.full(dim, _H_BOUND)
    c_bound = None
    if dim > u:  # the LSTM's memory: room for half as much again as the runs reached
        seen_c = np.abs(np.where(np.isfinite(lo[:, u:]), lo[:, u:], 0.0)).max(initial=0.0)
        seen_c = max(seen_c, np.abs(np.where(np.isfinite(hi[:, u:]), hi[:, u:], 0.0)).max())
        c_bound = min(_C_CAP, 1.5 * float(seen_c) + 0.5)
        bound[u:] = c_bound
    slack, logit_slack = run_error_bound(w, c_bound=c_bound)
    seen = np.isfinite(lo[:, 0])
    lo[seen] -= pad
    hi[seen] += pad
    lo[0] = hi[0] = 0.0
    with np.errstate(invalid="ignore"):  # inf - inf for boxes not reached yet
        lo, hi, closed, done = _grow(w, graph, lo, hi, slack, logit_slack, rounds, widen,
                                     bound)
    lo = np.clip(np.where(np.isfinite(lo), lo, 0.0), -bound, bound)
    hi = np.clip(np.where(np.isfinite(hi), hi, 0.0), -bound, bound)
    cert = Certificate(history, lo, hi, slack, logit_slack)
    return cert, {"closed": closed, "rounds": done, "counterexample": wrong}


@dataclass
class VerifyResult:
    """Outcome of :func:`verify`.

    Attributes
    ----------
    certified : bool
        True only if a certificate passed :func:`check_certificate`.
    boxes : int
        Size of the certificate (or of the last one tried).
    history : int
        The window length of that certificate.
    seconds : float
        Wall time.
    margin : float or None
        Smallest distance of the readout ``h V + c`` from the model's threshold (0
        for a logit, 0.5 for a linear readout), with the right sign, over the
        certificate's boxes.
    slack, logit_slack : float
        The run-error slacks used.
    failure : str or None
        When not certified: which box and input escape, or a wrong sum found by
        simulation.
    counterexample : tuple or None
        ``(a, b, bits)``: a sum the float64 model gets wrong, if simulation found one.
    certificate : Certificate or None
        The checked certificate, when certified.
    tried : list of dict
        One entry per window length tried.
    """

    certified: bool
    boxes: int
    history: int
    seconds: float
    margin: float | None
    slack: float
    logit_slack: float
    failure: str | None = None
    counterexample: tuple[int, int, int] | None = None
    certificate: Certificate | None = field(default=None, repr=False)
    tried: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary (without the boxes)."""
        out = {k: getattr(self, k) for k in ("certified", "boxes", "history", "margin",
                                              "slack", "logit_slack", "failure", "tried")}
        out["seconds"] = round(self.seconds, 3)
        out["counterexample"] = (None if self.counterexample is None else
                                 {"a": str(self.counterexample[0]),
                                  "b": str(self.counterexample[1]),
                                  "bits": self.counterexample[2]})
        return out


def verify(model, max_history: int = 6, min_history: int = 1) -> VerifyResult:
    """Try to prove that ``model`` adds correctly for every pair of inputs of every length.

    Tries window lengths ``min_history .. max_history`` in turn and stops at the
    first certificate that :func:`check_certificate` accepts.

    Parameters
    ----------
    model : BitAdder or AdderWeights
        The model.
    max_history, min_history : int
        Window lengths to try (1 to 8; 6 means 9,557 boxes).

    Returns
    -------
    VerifyResult
        ``certified`` is true only with a checked certificate. False does not
        prove the model wrong, unless ``counterexample`` is set.

    Examples
    --------
    >>> from gru_tutorial import load_pretrained
    >>> verify(load_pretrained()).certified
    True
    """
    start = time.perf_counter()
    w = verifiable_weights(model)
    max_history = check_int(max_history, "max_history", 1, 8)
    min_history = check_int(min_history, "min_history", 1, max_history)
    result = VerifyResult(False, 0, min_history, 0.0, None, float("nan"), float("nan"))
    for k in range(min_history, max_history + 1):
        cert, facts = find_certificate(w, k)
        result.slack, result.logit_slack = cert.slack, cert.logit_slack
        outcome = check_certificate(w, cert)
        result.tried.append({"history": k, "boxes": cert.boxes, "closed": facts["closed"],
                             "certified": outcome.ok, "failure": outcome.failure})
        result.boxes, result.history = cert.boxes, k
        result.margin, result.failure = outcome.margin, outcome.failure
        if facts["counterexample"] is not None:
            a, b, bits = facts["counterexample"]
            result.counterexample = facts["counterexample"]
            result.failure = (f"counterexample (the shortest the search found): the model "
                              f"gets {a} + {b} ({bits}-bit inputs) wrong, at the sum's bit "
                              f"worth 2^{bits - 1} (float64 simulation)")
            break
        if outcome.ok:
            result.certified, result.certificate = True, cert
            break
    result.seconds = time.perf_counter() - start
    return result
