"""The faster paths of the cell (split-based fused step, ``loop='unroll'``) give the same numbers.

The reference below is the slicing-based step the package used before, kept here
so that a change of arrangement can never silently change the arithmetic.
"""

import numpy as np
import pytest
import tensorflow as tf

from gru_tutorial.cell import GRUCell
from gru_tutorial.model import BitAdder


def sliced_scan(cell, x):
    """The previous arrangement: tf.scan over a step that slices instead of splitting."""
    u = cell.units
    x = tf.convert_to_tensor(x, dtype=cell.dtype)
    h0 = tf.zeros([tf.shape(x)[0], u], dtype=cell.dtype)
    xp = tf.transpose(cell.project_inputs(x), [1, 0, 2])
    U_zr = tf.concat([cell.U_z, cell.U_r], axis=1)

    def step(h, xp_t):
        zr = tf.sigmoid(xp_t[:, : 2 * u] + h @ U_zr)
        z, r = zr[:, :u], zr[:, u:]
        h_tilde = tf.tanh(xp_t[:, 2 * u :] + (r * h) @ cell.U_h)
        return (1 - z) * h + z * h_tilde

    return tf.transpose(tf.scan(step, xp, initializer=h0), [1, 0, 2])


def loss_and_grads(model, x, y, forward):
    @tf.function(autograph=False)
    def f(x, y):
        with tf.GradientTape() as tape:
            h = forward(x)
            logits = tf.einsum("btu,uk->btk", h, model.V) + model.c
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        return h, tape.gradient(loss, model.trainable_variables)

    h, grads = f(x, y)
    return h.numpy(), [g.numpy() for g in grads]


def data(dtype, batch=6, time=9, seed=0):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.integers(0, 2, (batch, time, 2)).astype(dtype))
    y = tf.constant(rng.integers(0, 2, (batch, time, 1)).astype(dtype))
    return x, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("unroll", [False, True])
def test_same_states_and_gradients_as_sliced_step(dtype, unroll):
    model = BitAdder(16, dtype=dtype, seed=5)
    x, y = data(dtype)
    h_ref, g_ref = loss_and_grads(model, x, y, lambda x: sliced_scan(model.cell, x))
    h_new, g_new = loss_and_grads(model, x, y, model.cell.run_unrolled if unroll else model.cell)
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(h_new, h_ref, rtol=0, atol=tol)
    for a, b in zip(g_new, g_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def test_scan_path_bit_identical_to_sliced_step():
    # Splitting instead of slicing moves no arithmetic: identical to the last bit.
    model = BitAdder(16, seed=1)
    x, y = data("float32", batch=4, time=20, seed=2)
    h_ref, g_ref = loss_and_grads(model, x, y, lambda x: sliced_scan(model.cell, x))
    h_new, g_new = loss_and_grads(model, x, y, lambda x: model.cell(x))
    assert np.array_equal(h_new, h_ref)
    for a, b in zip(g_new, g_ref, strict=True):
        assert np.array_equal(a, b)


def test_unroll_with_initial_state_and_xla():
    cell = GRUCell(8, 2, seed=3)
    x, _ = data("float32", batch=3, time=5, seed=4)
    h0 = tf.constant(np.random.default_rng(5).normal(size=(3, 8)).astype("float32"))
    looped = cell(x, h0).numpy()
    unrolled = cell.run_unrolled(x, h0).numpy()
    xla = tf.function(cell.run_unrolled, jit_compile=True)(x, h0).numpy()
    np.testing.assert_allclose(unrolled, looped, rtol=0, atol=1e-6)
    np.testing.assert_allclose(xla, looped, rtol=0, atol=1e-6)


def test_model_unroll_matches_loop():
    model, unrolled = BitAdder(16, seed=0), BitAdder(16, seed=0, loop="unroll")
    x, _ = data("float32", batch=5, time=7, seed=6)
    np.testing.assert_allclose(unrolled(x).numpy(), model(x).numpy(), rtol=0, atol=1e-6)


def test_unroll_needs_static_length():
    cell = GRUCell(4, 2, seed=0, loop="unroll")
    f = tf.function(lambda x: cell(x),
                    input_signature=[tf.TensorSpec([None, None, 2], tf.float32)])
    with pytest.raises(ValueError, match="static number of time steps"):
        f.get_concrete_function()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_manual_gradient_matches_automatic(dtype):
    model = BitAdder(16, dtype=dtype, seed=7)
    x, y = data(dtype, batch=5, time=30, seed=8)
    h_ref, g_ref = loss_and_grads(model, x, y, lambda x: model.cell(x))
    h_new, g_new = loss_and_grads(model, x, y, model.cell.run_manual_gradient)
    assert np.array_equal(h_new, h_ref)  # the forward pass is the same arithmetic
    tol = 1e-6 if dtype == "float32" else 1e-12
    for a, b in zip(g_new, g_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


@pytest.mark.slow
def test_manual_gradient_initial_state_and_xla():
    cell = GRUCell(8, 2, seed=9)
    x, _ = data("float32", batch=3, time=12, seed=10)
    h0 = tf.Variable(np.random.default_rng(11).normal(size=(3, 8)).astype("float32"))

    def grads(manual, jit):
        @tf.function(jit_compile=jit, autograph=False)
        def f():
            with tf.GradientTape() as tape:
                run = cell.run_manual_gradient if manual else cell.run_scan
                loss = tf.reduce_mean(tf.sin(run(x, h0)))
            return tape.gradient(loss, [h0, *cell.trainable_variables])
        return [g.numpy() for g in f()]

    ref = grads(False, False)
    for jit in (False, True):
        for a, b in zip(grads(True, jit), ref, strict=True):
            tol = 1e-5 if jit else 1e-6
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("loop, run", [("scan", "run_scan"), ("unroll", "run_unrolled"),
                                       ("manual", "run_manual_gradient")])
def test_the_loop_chosen_at_build_is_the_one_that_runs(loop, run, monkeypatch):
    cell = GRUCell(4, 2, seed=0, loop=loop)
    called = []
    for name in ("run_scan", "run_unrolled", "run_manual_gradient"):
        real = getattr(cell, name)
        monkeypatch.setattr(cell, name, lambda x, h0=None, n=name, f=real: called.append(n)
                            or f(x, h0))
    cell(np.zeros((1, 3, 2), "float32"))
    assert called == [run]


@pytest.mark.parametrize("loop", ["fast", "", None, True])
def test_unknown_loop_is_refused(loop):
    with pytest.raises(ValueError, match="loop"):
        GRUCell(4, 2, loop=loop)
