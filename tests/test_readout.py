"""The linear readout of the original code, and every bit decided by the model's own rule.

The original code (``jacobs2017code``) reads each sum bit from a linear output
``h_t W_output + b_output``, regresses it onto the 0/1 targets with
``0.5 * sum((output - y)**2) / batch`` and calls a bit 1 when the output is above 0.5. Here:

1. one training step of that model in float64 (loss, every gradient, the Adam update of
   ``tf.train.AdamOptimizer``) against plain NumPy written from those formulas, to 1e-12;
2. a model whose readout is linear decides its bits at 0.5 everywhere: the TensorFlow model,
   the NumPy engine, the command line, the proof and the look inside.
"""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from gru_tutorial import adder, inside
from gru_tutorial.adder import AdderWeights
from gru_tutorial.checks import ArgumentError
from gru_tutorial.cli import main
from gru_tutorial.data import training_batches
from gru_tutorial.engine import NumpyAdder
from gru_tutorial.model import BitAdder
from gru_tutorial.recipes import RECIPES
from gru_tutorial.saving import save_model
from gru_tutorial.train import loss_function, make_train_step
from gru_tutorial.verify import verify

ORIGINAL = RECIPES["seed"]  # the original code's recipe


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_step(w, x, y, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Loss, gradients and weights after one Adam step, from the formulas, in float64.

    The GRU of chapter 2 (reset before U_h), a linear readout o_t = h_t V + c, the loss
    0.5 * sum((o - y)**2) / batch, backpropagation through time written out, and the first
    step of Adam as tf.train.AdamOptimizer takes it: lr_t = lr sqrt(1 - b2) / (1 - b1),
    w -= lr_t m / (sqrt(v) + eps) with m = (1 - b1) g and v = (1 - b2) g**2.
    """
    batch, time, _ = x.shape
    units = w["U_z"].shape[0]
    h = np.zeros((batch, units))
    cache, outputs = [], []
    for t in range(time):
        xt = x[:, t]
        z = sigmoid(xt @ w["W_z"] + h @ w["U_z"] + w["b_z"])
        r = sigmoid(xt @ w["W_r"] + h @ w["U_r"] + w["b_r"])
        ht = np.tanh(xt @ w["W_h"] + (r * h) @ w["U_h"] + w["b_h"])
        new = (1 - z) * h + z * ht
        cache.append((xt, h, z, r, ht))
        outputs.append(new @ w["V"] + w["c"])  # (batch,)
        h = new
    o = np.stack(outputs, axis=1)  # (batch, time)
    loss = 0.5 * np.sum((o - y) ** 2) / batch
    g = {k: np.zeros_like(v) for k, v in w.items()}
    d_o = (o - y) / batch
    dh_next = np.zeros((batch, units))
    for t in reversed(range(time)):
        xt, hp, z, r, ht = cache[t]
        h_t = (1 - z) * hp + z * ht
        g["V"] += h_t.T @ d_o[:, t]
        g["c"] += d_o[:, t].sum()
        dh = np.outer(d_o[:, t], w["V"]) + dh_next
        d_ah = dh * z * (1 - ht**2)  # candidate pre-activation
        d_az = dh * (ht - hp) * z * (1 - z)
        d_rh = d_ah @ w["U_h"].T
        d_ar = d_rh * hp * r * (1 - r)
        for gate, d_a, inp in (("z", d_az, hp), ("r", d_ar, hp), ("h", d_ah, r * hp)):
            g[f"W_{gate}"] += xt.T @ d_a
            g[f"U_{gate}"] += inp.T @ d_a
            g[f"b_{gate}"] += d_a.sum(axis=0)
        dh_next = dh * (1 - z) + d_rh * r + d_az @ w["U_z"].T + d_ar @ w["U_r"].T
    step = lr * np.sqrt(1 - b2) / (1 - b1)
    after = {k: w[k] - step * ((1 - b1) * g[k]) / (np.sqrt((1 - b2) * g[k] ** 2) + eps)
             for k in w}
    return loss, g, after


@pytest.mark.parametrize("loop", ["scan", "manual"])
def test_one_training_step_agrees_with_plain_numpy(loop):
    model = BitAdder(16, dtype="float64", init="seed", seed=3, loop=loop, readout="linear")
    batch = next(training_batches(ORIGINAL, 3))
    x, y = batch.x.astype(np.float64), batch.y.astype(np.float64)
    before = AdderWeights.from_model(model).arrays
    loss, grads, after = numpy_step(dict(before), x, y[..., 0])

    # the loss and every gradient, from TensorFlow (automatic, or the hand-derived backward pass)
    names = {v.path.split("/")[-1]: v for v in model.trainable_variables}
    with tf.GradientTape() as tape:
        value = loss_function("mse", "linear")(model(tf.constant(x)), tf.constant(y))
    tf_grads = dict(zip(names, tape.gradient(value, list(names.values())), strict=True))
    assert abs(float(value) - loss) <= 1e-12 * max(1.0, abs(loss))
    assert set(names) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(np.reshape(tf_grads[name].numpy(), g.shape), g,
                                   rtol=1e-12, atol=1e-15, err_msg=name)

    # one step of the package's training step: the same loss, then the Adam update
    step = make_train_step(model, loss="mse", learning_rate=1e-3)
    reported, _, _ = step(tf.constant(x), tf.constant(y))
    assert abs(float(reported) - loss) <= 1e-12 * max(1.0, abs(loss))
    now = AdderWeights.from_model(model).arrays
    for name in after:
        np.testing.assert_allclose(now[name], after[name], rtol=1e-12, atol=1e-15,
                                   err_msg=name)
        assert not np.array_equal(now[name], before[name]), name  # every weight moved


def test_the_seed_recipe_is_the_original_codes():
    r = RECIPES["seed"]
    assert (r.units, r.dtype, r.init, r.readout, r.loss, r.learning_rate) == (
        16, "float64", "seed", "linear", "mse", 1e-3)
    assert (r.batch_size, r.train_bits, r.fixed_data, r.mixed_density) == (100, 5, True, False)
    assert (r.max_steps, r.stop) == (5000, "max-steps")  # for epoch in range(5000)


def test_the_trainer_takes_the_original_codes_step():
    # what `gru-tutorial train --recipe seed` runs: its first step against plain NumPy
    from gru_tutorial.train import Trainer

    trainer = Trainer("seed", 3, max_steps=1)
    before = AdderWeights.from_model(trainer.model).arrays
    assert trainer.model.readout == "linear" and trainer.model.dtype == "float64"
    batch = next(training_batches("seed", 3))
    loss, _, after = numpy_step(dict(before), batch.x.astype(np.float64),
                                batch.y[..., 0].astype(np.float64))
    reported, _, _ = trainer.train_step()
    assert abs(reported - loss) <= 1e-12 * loss
    now = AdderWeights.from_model(trainer.model).arrays
    for name in after:
        np.testing.assert_allclose(now[name], after[name], rtol=1e-12, atol=1e-15,
                                   err_msg=name)


def test_a_max_steps_recipe_trains_every_step_and_records_when_it_was_exact():
    from gru_tutorial.train import train

    recipe = replace(RECIPES["small"], stop="max-steps", max_steps=400, extra_steps=0)
    result = train(recipe, seed=4, eval_count=50, progress=False)
    assert result.iterations == 400
    assert result.converged and result.converged_at < 400
    with pytest.raises(ArgumentError, match="stop"):
        replace(RECIPES["fast"], stop="never")


def test_bce_needs_a_logit():
    with pytest.raises(ArgumentError, match="readout"):
        replace(RECIPES["fast"], readout="linear")
    with pytest.raises(ArgumentError, match="readout"):
        loss_function("bce", "linear")
    with pytest.raises(ArgumentError, match="readout"):
        BitAdder(4, readout="probit")


# -- every bit decided by the model's own rule ------------------------------------------------

def shifted(readout):
    """The bundled model with its readout scaled by 1/100 and raised by 0.5 (output
    ``0.5 + logit / 100``), read with ``readout``.

    With ``'linear'`` (threshold 0.5) this decides every bit as the bundled adder does; read
    as a logit (threshold 0) the same outputs are all positive, and it adds wrong.
    """
    w = adder.load_pretrained()
    return w.replace(V=w.V / 100, c=w.c / 100 + 0.5, readout=readout)


@pytest.fixture(scope="module")
def saved_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("readouts")
    return {r: save_model(BitAdder.from_weights(shifted(r)), root / r) for r in ("linear", "logit")}


SUMS = [(2**200 - 1, 1), (123456789123456789, 987654321987654321), (5, 7), (0, 0)]


def test_the_saved_config_says_which_readout(saved_pair):
    for readout, directory in saved_pair.items():
        assert json.loads((directory / "config.json").read_text())["model"]["readout"] == readout
        assert adder.load(directory).readout == readout


def test_engines_decide_at_the_models_threshold(saved_pair):
    right = NumpyAdder(adder.load(saved_pair["linear"]))
    wrong = NumpyAdder(adder.load(saved_pair["logit"]))
    assert right.threshold == 0.5 and wrong.threshold == 0.0
    tf_model = BitAdder.from_weights(adder.load(saved_pair["linear"]))
    for a, b in SUMS:
        assert right.add(a, b) == tf_model.add(a, b) == a + b
    assert any(wrong.add(a, b) != a + b for a, b in SUMS)


@pytest.mark.parametrize("engine", ["numpy", "tf"])
def test_command_line_uses_the_models_rule(saved_pair, capsys, engine):
    for readout, expect_right in (("linear", True), ("logit", False)):
        answers = []
        for a, b in SUMS:
            status = main(["add", str(a), str(b), "--model", str(saved_pair[readout]),
                           "--engine", engine])
            out = capsys.readouterr().out
            assert status == 0
            answers.append(int(out) == a + b)
        assert all(answers) if expect_right else not all(answers)
    status = main(["eval", "--bits", "300", "--count", "50", "--json", "--engine", engine,
                   "--model", str(saved_pair["linear"])])
    assert status == 0 and json.loads(capsys.readouterr().out)["exact_accuracy"] == 1.0


def test_the_proof_and_the_look_inside_use_the_threshold(saved_pair):
    bundled = verify(adder.load_pretrained())
    linear = verify(adder.load(saved_pair["linear"]))
    assert linear.certified and linear.boxes == bundled.boxes
    assert linear.margin == pytest.approx(bundled.margin / 100, rel=1e-4)  # distance from 0.5
    logit = verify(adder.load(saved_pair["logit"]))
    assert not logit.certified
    w = adder.load(saved_pair["linear"])
    tr = inside.trace(w, 2**30 - 1, 1)
    assert (tr["predicted"] == tr["sum"]).all()


def test_the_web_page_refuses_a_linear_readout(saved_pair, tmp_path):
    from gru_tutorial import web

    with pytest.raises(ArgumentError, match="readout"):
        web.export_adder(saved_pair["linear"])


def test_models_saved_before_the_readout_load_as_logit(tmp_path):
    # a model saved before the readout was a choice: its config names none
    directory = shutil.copytree(adder.PRETRAINED_DIR, tmp_path / "old")
    config = json.loads((directory / "config.json").read_text())
    del config["model"]["readout"]
    (directory / "config.json").write_text(json.dumps(config))
    assert adder.load(directory).readout == "logit"
    assert BitAdder.from_weights(adder.load(directory)).readout == "logit"
