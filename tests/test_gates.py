"""The measurements of the chapter "Why gates?" (gru_tutorial.gates)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gru_tutorial.cell import GRUCell
from gru_tutorial.cells import KerasGRU
from gru_tutorial.checks import ArgumentError
from gru_tutorial.gates import (
    GRU_CONVENTIONS,
    accuracy_by_length,
    decay_rate,
    gru_parameter_count,
    jacobian_norms,
)
from gru_tutorial.model import BitAdder
from gru_tutorial.recipes import CELLS

KEYS = {"uniform", "mixed", "adversarial"}


def randomise(layer, seed, scale=0.8):
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign((rng.normal(size=v.shape) * scale).astype(v.dtype))


# -- jacobian_norms ---------------------------------------------------------------------


def tape_log10_norms(model, x):
    """Mean over the batch of log10 ||dh_t/dx_1||_F, from the full Jacobian of the cell."""
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        h = model.cell(xt)
    jac = tape.jacobian(h, xt, experimental_use_pfor=False).numpy()  # (b, t, u, b, t, 2)
    batch, time = x.shape[:2]
    # sequences are independent: no sequence's state depends on another's inputs
    assert np.all(jac[0, :, :, 1] == 0) and np.all(jac[1, :, :, 0] == 0)
    return np.array([np.mean([np.log10(np.linalg.norm(jac[b, t, :, b, 0, :]))
                              for b in range(batch)]) for t in range(time)])


@pytest.mark.slow
@pytest.mark.parametrize("kind", CELLS)
def test_jacobian_norms_match_tape_jacobian(kind):
    model = BitAdder(3, dtype="float64", seed=1, cell=kind)
    randomise(model, seed=2)
    x = np.random.default_rng(3).normal(size=(2, 6, 2))
    ref = tape_log10_norms(model, x)
    assert np.all(np.isfinite(ref)) and np.ptp(ref) > 0.1  # it changes over time
    got = jacobian_norms(model, x)
    assert got.shape == (6,) and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


def numpy_rnn_log10_norms(cell, x):
    """log10 ||dh_t/dx_1||_F of a plain RNN in NumPy: the chain rule, renormalised per step.

    With h_t = tanh(x_t W + h_{t-1} U + b): dh_1/dx_1 = D_1 W^T and
    dh_t/dh_{t-1} = D_t U^T, where D_t = diag(1 - h_t^2).
    """
    W, U, b = (np.asarray(v.numpy(), np.float64) for v in (cell.W, cell.U, cell.b))
    out = []
    for seq in x:
        h = np.tanh(seq[0] @ W + b)
        m = (1 - h * h)[:, None] * W.T
        log10 = []
        naive = m.copy()
        scale = 0.0
        for t in range(len(seq)):
            if t:
                h = np.tanh(seq[t] @ W + h @ U + b)
                m = (1 - h * h)[:, None] * (U.T @ m)
                naive = (1 - h * h)[:, None] * (U.T @ naive)
            norm = np.linalg.norm(m)
            log10.append(scale + np.log10(norm))
            scale += np.log10(norm)
            m = m / norm
        out.append(log10)
    return np.mean(out, axis=0), np.linalg.norm(naive)


def test_jacobian_norms_do_not_underflow():
    model = BitAdder(16, dtype="float64", seed=0, cell="rnn")
    model.cell.U.assign(0.05 * model.cell.U.numpy())  # orthogonal, shrunk: fast forgetting
    x = np.random.default_rng(5).integers(0, 2, size=(2, 600, 2)).astype("float64")
    got = jacobian_norms(model, x)
    assert got.shape == (600,)
    assert np.all(np.isfinite(got))
    assert got[-1] < -300  # the true norm is far below 1e-300 ...
    ref, naive = numpy_rnn_log10_norms(model.cell, x)
    assert naive == 0.0  # ... so the plain product of Jacobians underflows to exactly 0
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8)
    # ||U|| = 0.05 and tanh' <= 1: the norm shrinks by a factor 20 or more every step
    assert np.all(np.diff(got) < -1.3)
    assert decay_rate(got) < -1.3


def test_jacobian_norms_rejects_bad_arguments():
    model = BitAdder(3, seed=0)
    for x in (np.zeros((2, 5, 3)), np.zeros((2, 5)), np.zeros((0, 5, 2)), np.zeros((2, 0, 2))):
        with pytest.raises(ArgumentError, match="shape"):
            jacobian_norms(model, x)
    with pytest.raises(ArgumentError, match="BitAdder"):
        jacobian_norms(object(), np.zeros((1, 3, 2)))


# -- decay_rate ---------------------------------------------------------------------------


def test_decay_rate_of_a_straight_line():
    t = np.arange(1, 51)
    assert decay_rate(3.0 - 0.25 * t) == pytest.approx(-0.25, abs=1e-12)
    assert decay_rate(-1.0 + 0.5 * t) == pytest.approx(0.5, abs=1e-12)
    # a broken line: the fit range picks one piece (1-based, inclusive)
    bent = np.where(t <= 10, -1.0 * t, -10.0 - 0.1 * (t - 10))
    assert decay_rate(bent, start=1, stop=10) == pytest.approx(-1.0, abs=1e-12)
    assert decay_rate(bent, start=10) == pytest.approx(-0.1, abs=1e-12)
    assert decay_rate(bent, start=10, stop=11) == pytest.approx(-0.1, abs=1e-12)
    assert -1.0 < decay_rate(bent) < -0.1


@pytest.mark.parametrize("kwargs", [
    {"start": 0}, {"start": -1}, {"stop": 0}, {"stop": 51}, {"start": 50},
    {"start": 20, "stop": 20}, {"start": 30, "stop": 20}, {"start": 1.5}, {"stop": True},
    {"start": "1"},
])
def test_decay_rate_rejects_bad_ranges(kwargs):
    y = -0.25 * np.arange(1, 51)
    with pytest.raises(ArgumentError):
        decay_rate(y, **kwargs)


def test_decay_rate_needs_two_points():
    with pytest.raises(ArgumentError):
        decay_rate(np.array([1.0]))
    assert decay_rate(np.array([1.0, 3.0])) == pytest.approx(2.0)


# -- accuracy_by_length -------------------------------------------------------------------


def test_accuracy_by_length_of_the_bundled_model(pretrained):
    result = accuracy_by_length(pretrained, (10, 300), count=20)
    assert list(result) == [10, 300]
    for bits, scores in result.items():
        assert set(scores) == KEYS, bits
        assert all(v == 1.0 for v in scores.values()), (bits, scores)


def test_accuracy_by_length_of_an_untrained_model():
    result = accuracy_by_length(BitAdder(16, seed=0), (10, 40), count=20, seed=1)
    assert set(result) == {10, 40}
    for bits, scores in result.items():
        assert set(scores) == KEYS
        assert all(0.0 <= v < 1.0 for v in scores.values()), (bits, scores)
    again = accuracy_by_length(BitAdder(16, seed=0), (10, 40), count=20, seed=1)
    assert again == result


@pytest.mark.parametrize("kwargs", [{"bits": (1,)}, {"bits": (10, 0)}, {"bits": (2.5,)},
                                    {"count": 0}, {"count": 1.0}, {"seed": -1}])
def test_accuracy_by_length_rejects_bad_arguments(pretrained, kwargs):
    args = {"bits": (10,), "count": 5, "seed": 0, **kwargs}
    with pytest.raises(ArgumentError):
        accuracy_by_length(pretrained, **args)


# -- GRU conventions and parameter counts ---------------------------------------------


def keras_gru_params(reset_after, units=16, input_dim=2):
    layer = keras.layers.GRU(units, reset_after=reset_after)
    layer.build((None, None, input_dim))
    return layer.count_params()


def test_gru_parameter_count():
    assert [gru_parameter_count(16, 2, b) for b in (0, 1, 2)] == [864, 912, 960]
    assert gru_parameter_count(16, 2, 1) == keras_gru_params(False) == 912
    assert gru_parameter_count(16, 2, 2) == keras_gru_params(True) == 960
    assert gru_parameter_count(16, 2, 1) == GRUCell(16, 2).count_params()
    assert gru_parameter_count(16, 2, 2) == KerasGRU(16, 2).count_params()
    assert gru_parameter_count(5, 7, 2) == keras_gru_params(True, 5, 7)
    assert gru_parameter_count(5, 7, 1) == keras_gru_params(False, 5, 7)


def test_conventions_table_matches_real_layers():
    by_name = {c.name: c for c in GRU_CONVENTIONS}
    assert len(by_name) == len(GRU_CONVENTIONS)
    assert all(c.biases_per_gate in (0, 1, 2) for c in GRU_CONVENTIONS)
    keras_false = by_name["Keras GRU(reset_after=False)"]
    keras_true = by_name["Keras GRU(reset_after=True), the default"]
    book = by_name["This book (Chung et al. 2014 + biases)"]
    assert gru_parameter_count(16, 2, keras_false.biases_per_gate) == keras_gru_params(False)
    assert gru_parameter_count(16, 2, keras_true.biases_per_gate) == keras_gru_params(True)
    assert gru_parameter_count(16, 2, book.biases_per_gate) == GRUCell(16, 2).count_params()
    assert keras_false.reset == book.reset == "before U_h" and keras_true.reset == "after U_h"


@pytest.mark.parametrize("args", [(16, 2, 3), (16, 2, -1), (16, 2, 1.0), (16, 2, True),
                                  (0, 2, 1), (16, 0, 1), (16.0, 2, 1), ("16", 2, 1)])
def test_gru_parameter_count_rejects_bad_arguments(args):
    with pytest.raises(ArgumentError):
        gru_parameter_count(*args)
