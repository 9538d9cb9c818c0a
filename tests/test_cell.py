import keras
import numpy as np
import pytest
import tensorflow as tf
from reference import finite_difference_check

from gru_tutorial.cell import GRUCell, copy_keras_gru_weights, from_keras_gru

UNITS, INPUT_DIM = 8, 3
TOL = {"float32": 1e-6, "float64": 1e-12}


def random_keras_gru(dtype, seed=0, units=UNITS, input_dim=INPUT_DIM):
    """A built Keras GRU(reset_after=False) with random, non-saturating weights."""
    rng = np.random.default_rng(seed)
    layer = keras.layers.GRU(units, reset_after=False, return_sequences=True, dtype=dtype)
    layer(np.zeros((1, 2, input_dim), dtype))
    kernel, recurrent, bias = layer.get_weights()
    layer.set_weights([
        rng.normal(size=kernel.shape) * 0.6 / np.sqrt(input_dim),
        rng.normal(size=recurrent.shape) * 0.6 / np.sqrt(units),
        rng.normal(size=bias.shape) * 0.3,
    ])
    return layer


def inputs(dtype, batch=2, steps=1000, seed=1):
    return np.random.default_rng(seed).normal(size=(batch, steps, INPUT_DIM)).astype(dtype)


@pytest.fixture(scope="module", params=["float32", "float64"])
def keras_case(request):
    """(dtype, layer, x, Keras output) for a 2 x 1000-step sequence."""
    dtype = request.param
    layer = random_keras_gru(dtype)
    x = inputs(dtype)
    ref = tf.function(layer)(x).numpy()  # graph mode: eager Keras GRU is slow over 1000 steps
    assert ref.dtype == dtype
    # the weights really are non-trivial and the states not saturated
    assert 0.1 < ref.std() and np.abs(ref).max() < 0.999
    return dtype, layer, x, ref


def test_from_keras_gru_matches_keras(keras_case):
    dtype, layer, x, ref = keras_case
    cell = from_keras_gru(layer)
    assert cell.dtype == dtype
    assert (cell.units, cell.input_dim) == (UNITS, INPUT_DIM)
    out = tf.function(cell)(x).numpy()
    assert out.shape == ref.shape == (2, 1000, UNITS)
    assert out.dtype == dtype
    assert np.max(np.abs(out - ref)) <= TOL[dtype]


def test_copy_keras_gru_weights_matches_keras(keras_case):
    dtype, layer, x, ref = keras_case
    cell = GRUCell(UNITS, INPUT_DIM, dtype=dtype, seed=5)
    before = tf.function(cell)(x).numpy()
    assert np.max(np.abs(before - ref)) > 1e-2  # different weights, different function
    copy_keras_gru_weights(layer, cell)
    out = tf.function(cell)(x).numpy()
    assert np.max(np.abs(out - ref)) <= TOL[dtype]


def test_without_z_flip_outputs_differ(keras_case):
    dtype, layer, x, ref = keras_case
    cell = from_keras_gru(layer)
    # undo the negation of the update gate: Keras's z used as if it were ours
    kernel, recurrent, bias = layer.get_weights()
    cell.W_z.assign(kernel[:, :UNITS])
    cell.U_z.assign(recurrent[:, :UNITS])
    cell.b_z.assign(bias[:UNITS])
    out = tf.function(cell)(x).numpy()
    assert np.max(np.abs(out - ref)) > 1e-2


def test_converted_weights_follow_the_sign_convention():
    layer = random_keras_gru("float64", seed=3)
    kernel, recurrent, bias = layer.get_weights()
    cell = from_keras_gru(layer)
    u = UNITS
    for g, (gate, sign) in enumerate((("z", -1), ("r", 1), ("h", 1))):
        cols = slice(g * u, (g + 1) * u)
        assert np.array_equal(getattr(cell, f"W_{gate}").numpy(), sign * kernel[:, cols])
        assert np.array_equal(getattr(cell, f"U_{gate}").numpy(), sign * recurrent[:, cols])
        assert np.array_equal(getattr(cell, f"b_{gate}").numpy(), sign * bias[cols])


def numpy_gru(cell, x):
    """The four equations in NumPy, float64, independent of TensorFlow."""
    w = {v.name: v.numpy().astype(np.float64) for v in cell.weights}

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    h = np.zeros((x.shape[0], cell.units))
    states = []
    for t in range(x.shape[1]):
        xt = x[:, t].astype(np.float64)
        z = sigmoid(xt @ w["W_z"] + h @ w["U_z"] + w["b_z"])
        r = sigmoid(xt @ w["W_r"] + h @ w["U_r"] + w["b_r"])
        h_tilde = np.tanh(xt @ w["W_h"] + (r * h) @ w["U_h"] + w["b_h"])
        h = (1 - z) * h + z * h_tilde
        states.append(h)
    return np.stack(states, axis=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_call_matches_numpy_equations(dtype):
    cell = GRUCell(5, INPUT_DIM, dtype=dtype, seed=2, bias_initializer="truncated_normal_0.01")
    x = inputs(dtype, batch=3, steps=40)
    ref = numpy_gru(cell, x)
    assert np.max(np.abs(cell(x).numpy() - ref)) <= TOL[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_run_stepwise_equals_fused_scan(dtype):
    cell = from_keras_gru(random_keras_gru(dtype, seed=4))
    x = inputs(dtype, batch=2, steps=120, seed=7)
    h0 = np.random.default_rng(8).uniform(-0.5, 0.5, size=(2, UNITS)).astype(dtype)
    fused_fn = tf.function(cell, autograph=False)
    fused = fused_fn(x).numpy()
    stepwise = cell.run_stepwise(x).numpy()
    assert np.max(np.abs(fused - stepwise)) <= TOL[dtype]
    # with a given initial state too (and that state matters)
    fused_h0 = fused_fn(x, tf.constant(h0)).numpy()
    stepwise_h0 = cell.run_stepwise(x, tf.constant(h0)).numpy()
    assert np.max(np.abs(fused_h0 - stepwise_h0)) <= TOL[dtype]
    assert np.max(np.abs(fused_h0[:, 0] - fused[:, 0])) > 1e-3


def test_step_is_one_time_step_of_call():
    cell = GRUCell(4, 2, dtype="float64", seed=1)
    x = inputs("float64", batch=3, steps=1)[..., :2]
    h0 = tf.zeros((3, 4), "float64")
    assert np.max(np.abs(cell.step(x[:, 0], h0).numpy() - cell(x).numpy()[:, 0])) <= 1e-12


def test_gradients_match_finite_differences():
    """Central differences in float64 on a small cell (3 units, 6 steps)."""
    cell = GRUCell(3, 2, dtype="float64", seed=11, bias_initializer="truncated_normal_0.01")
    rng = np.random.default_rng(12)
    for v in cell.weights:  # larger random weights so every gate matters
        v.assign(rng.normal(size=v.shape) * 0.8)
    x = tf.constant(rng.normal(size=(2, 6, 2)))
    probe = tf.constant(rng.normal(size=(2, 6, 3)))

    @tf.function(autograph=False)
    def loss():
        return tf.reduce_sum(cell(x) * probe)

    finite_difference_check(cell.weights, loss, min_norm=1e-3)


def test_input_gradient_with_compute_gradient():
    cell = GRUCell(3, 2, dtype="float64", seed=13, bias_initializer="truncated_normal_0.01")
    x = np.random.default_rng(14).normal(size=(1, 6, 2))
    theoretical, numerical = tf.test.compute_gradient(
        tf.function(lambda t: cell(t), autograph=False), [x], delta=1e-6)
    err = np.max(np.abs(theoretical[0] - numerical[0]))
    assert err < 1e-6 * max(1.0, np.max(np.abs(theoretical[0])))
    assert np.max(np.abs(theoretical[0])) > 1e-2


def test_weight_names_and_shapes():
    cell = GRUCell(5, 3)
    for gate in "zrh":
        assert getattr(cell, f"W_{gate}").shape == (3, 5)
        assert getattr(cell, f"U_{gate}").shape == (5, 5)
        assert getattr(cell, f"b_{gate}").shape == (5,)
    assert sorted(v.name for v in cell.weights) == sorted(
        f"{k}_{g}" for k in "WUb" for g in "zrh")
    assert len(cell.trainable_variables) == 9


def test_seed_makes_initial_weights_reproducible():
    one, two, other = GRUCell(4, 2, seed=3), GRUCell(4, 2, seed=3), GRUCell(4, 2, seed=4)
    for a, b in zip(one.weights, two.weights, strict=True):
        assert np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(one.W_z.numpy(), other.W_z.numpy())


def test_rejects_reset_after_true():
    layer = keras.layers.GRU(4, reset_after=True)
    layer(np.zeros((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="reset_after"):
        from_keras_gru(layer)
    with pytest.raises(ValueError, match="reset_after"):
        copy_keras_gru_weights(layer, GRUCell(4, 3))


def test_rejects_unbuilt_layer():
    layer = keras.layers.GRU(4, reset_after=False)
    with pytest.raises(ValueError, match="built"):
        from_keras_gru(layer)
    with pytest.raises(ValueError, match="built"):
        copy_keras_gru_weights(layer, GRUCell(4, 3))


def test_rejects_other_layers_and_activations():
    dense = keras.layers.Dense(3)
    dense(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError):
        from_keras_gru(dense)
    relu = keras.layers.GRU(4, reset_after=False, activation="relu")
    relu(np.zeros((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="tanh"):
        from_keras_gru(relu)


@pytest.mark.parametrize("units, input_dim", [(5, 3), (4, 2), (4, 4)])
def test_rejects_wrong_shapes(units, input_dim):
    layer = random_keras_gru("float32", units=4, input_dim=3)
    with pytest.raises(ValueError, match="shape"):
        copy_keras_gru_weights(layer, GRUCell(units, input_dim))


@pytest.mark.parametrize("kwargs", [dict(units=0, input_dim=2), dict(units=2, input_dim=0),
                                    dict(units=2.0, input_dim=2), dict(units=True, input_dim=2),
                                    dict(units=2, input_dim=2, dtype="float16"),
                                    dict(units=2, input_dim=2, kernel_initializer="nope")])
def test_cell_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        GRUCell(**kwargs)
