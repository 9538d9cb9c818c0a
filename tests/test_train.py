import json

import numpy as np
import pytest
from reference import weights_by_path

from gru_tutorial.adder import CONFIG_NAME, PRETRAINED_DIR
from gru_tutorial.evaluate import EvalResult, adversarial_pairs
from gru_tutorial.train import RECIPES, Recipe, train


def check_history(result):
    h = result.history
    n = result.iterations
    assert len(h.iteration) == len(h.loss) == len(h.bit_accuracy) == len(h.exact_accuracy) == n
    assert h.iteration == list(range(1, n + 1))
    assert all(1 <= c <= n for c in h.checks)
    assert all(0.0 <= v <= 1.0 for v in h.bit_accuracy + h.exact_accuracy)
    assert all(np.isfinite(h.loss))


def check_converged(result):
    assert result.converged
    assert result.exact_accuracy == 1.0
    assert result.iterations <= 400  # seed 0: 317; benchmarks/convergence.py measures the spread
    assert set(result.evaluation) == {20, 200, 1000, "adversarial"}
    for key, ev in result.evaluation.items():
        assert isinstance(ev, EvalResult)
        assert ev.exact_accuracy == 1.0 and ev.bit_accuracy == 1.0, key
    assert result.evaluation[1000].count == result.recipe.eval_count == 1000
    # the run stopped at the first held-out check that passed, right after an exact batch
    assert result.history.checks[-1] == result.iterations
    assert result.history.exact_accuracy[-1] == 1.0
    check_history(result)
    # and the model really adds, judged independently of the training code
    rng = np.random.default_rng(2024)
    for _ in range(5):
        a, b = (int.from_bytes(rng.bytes(40), "little") for _ in range(2))
        assert result.model.add(a, b) == a + b


@pytest.mark.slow
def test_fast_converges_seed_0(fast_seed0):
    check_converged(fast_seed0)
    assert fast_seed0.seed == 0 and fast_seed0.recipe == RECIPES["fast"]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.slow
def test_fast_converges(seed, fast_seed0):
    result = train("fast", seed=seed, progress=False)
    check_converged(result)
    assert result.seed == seed
    # a different seed gives a different start and different batches
    assert result.history.loss[:3] != fast_seed0.history.loss[:3]
    assert not np.array_equal(result.model.cell.W_z.numpy(), fast_seed0.model.cell.W_z.numpy())


@pytest.mark.slow
def test_same_seed_same_weights(fast_seed0):
    again = train("fast", seed=0, progress=False)
    assert again.iterations == fast_seed0.iterations
    assert again.history.loss == fast_seed0.history.loss
    one, two = weights_by_path(fast_seed0.model), weights_by_path(again.model)
    assert one.keys() == two.keys() and len(one) == 11
    for key in one:
        assert np.array_equal(one[key], two[key]), key


@pytest.mark.slow
def test_seed_recipe_short_run_not_converged():
    result = train("seed", seed=0, max_steps=50, progress=False)
    assert not result.converged
    assert result.iterations == 50
    assert set(result.evaluation) == {5}
    ev = result.evaluation[5]
    assert ev.count == 100
    assert 0.0 <= ev.exact_accuracy < 1.0
    assert result.exact_accuracy == ev.exact_accuracy
    assert result.recipe.max_steps == 50 and result.recipe.dtype == "float64"
    assert result.model.dtype == "float64"
    check_history(result)
    # full-batch training on one fixed set: the loss goes down
    assert result.history.loss[-1] < result.history.loss[0]


@pytest.mark.slow
def test_seed_recipe_converges_seed_0():
    # the original code trains for a fixed 5,000 iterations; the run records when its
    # validation sample was first exact, and is still exact on it at the end
    result = train("seed", seed=0, progress=False)
    assert result.iterations == RECIPES["seed"].max_steps == 5000
    assert result.converged and 1000 <= result.converged_at < 5000
    assert result.exact_accuracy == 1.0
    assert result.model.readout == "linear"
    check_history(result)
    for a in range(15):  # the seed scheme's operands are 0..14
        for b in range(15):
            assert result.model.add(a, b) == a + b


def test_custom_recipe_with_overrides(capsys):
    recipe = Recipe("tiny", units=4, dtype="float32", init="keras", loss="mse",
                    learning_rate=1e-2, batch_size=10, train_bits=4, fixed_data=False,
                    mixed_density=False, eval_bits=(6,), eval_count=10, eval_adversarial=True,
                    max_steps=50)
    result = train(recipe, seed=1, max_steps=3, eval_bits=(9, 4), eval_count=7, progress=False)
    assert result.iterations == 3 and result.model.units == 4
    assert result.recipe.name == "tiny" and result.recipe.max_steps == 3
    assert set(result.evaluation) == {4, 9, "adversarial"}
    assert {k: (v.bits, v.count) for k, v in result.evaluation.items()} == {
        4: (4, 7), 9: (9, 7), "adversarial": (9, len(adversarial_pairs(9)))}
    check_history(result)
    out, err = capsys.readouterr()  # progress=False: no progress bar, no output
    assert out == "" and err == ""


@pytest.mark.parametrize("kwargs", [
    dict(recipe="nope"), dict(recipe=3), dict(seed=-1), dict(seed=1.5), dict(seed=True),
    dict(max_steps=-1), dict(eval_bits=()), dict(eval_bits=(0,)), dict(eval_count=0),
])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        train(**{"progress": False, **kwargs})


@pytest.mark.slow
def test_bundled_model_is_reproducible(pretrained, small_seed0):
    """The bundled model is what train(recipe, seed) from its config.json produces."""
    config = json.loads((PRETRAINED_DIR / CONFIG_NAME).read_text())
    info = config["info"]
    assert info["recipe"] == "small" and info["seed"] == 0
    assert info["converged"] is True
    small = RECIPES["small"]
    assert config["model"] == {"units": small.units, "dtype": small.dtype, "init": small.init,
                               "cell": small.cell, "readout": small.readout}
    assert pretrained.info == info
    result = small_seed0  # train(info["recipe"], seed=info["seed"])
    assert result.converged and result.exact_accuracy == 1.0
    assert result.iterations == info["iterations"] == info["certified_at"]
    assert result.converged_at == info["converged_at"]
    assert result.certified_at == result.iterations and result.proof.certified
    assert result.restarts == info["restarts"]
    recorded = {k: v["exact_accuracy"] for k, v in info["evaluation"].items()}
    assert recorded == {str(k): v.exact_accuracy for k, v in result.evaluation.items()}
    retrained, bundled = weights_by_path(result.model), weights_by_path(pretrained)
    assert retrained.keys() == bundled.keys()
    for key in bundled:
        assert np.allclose(retrained[key], bundled[key], rtol=0, atol=1e-4), key


@pytest.mark.slow
def test_extra_steps_go_on_after_the_stopping_rule():
    from dataclasses import replace

    # the small recipe stopping at its held-out check, without its proof machinery
    recipe = replace(RECIPES["small"], stop="held-out", contraction=0.0, spread=0.0,
                     restart_after=0, attempts=1, extra_steps=0)
    base = train(replace(recipe, extra_steps=100), seed=4, progress=False)
    first = train(recipe, seed=4, progress=False)
    assert first.iterations == first.converged_at == base.converged_at
    assert base.iterations == base.converged_at + 100
    # the extra steps changed the weights
    assert not np.allclose(first.model.V.numpy(), base.model.V.numpy())


def test_training_batches_and_held_out_sets():
    from itertools import islice

    from gru_tutorial.train import held_out_sets, training_batches

    first, second = islice(training_batches("seed", 0), 2)
    assert first is second and first.x.shape == (100, 5, 2)  # one fixed set, reused
    a, b = islice(training_batches("fast", 0), 2)
    assert a.x.shape == (100, 17, 2) and a.a != b.a  # fresh batches
    again = next(training_batches("fast", 0))
    assert again.a == a.a and again.b == a.b  # same seed, same stream
    sets = held_out_sets("fast", 0)
    assert list(sets) == [20, 200, 1000, "adversarial"]
    assert [len(s) for s in sets.values()][:3] == [1000, 1000, 1000]
    seed_sets = held_out_sets("seed", 0)
    assert list(seed_sets) == [5] and max(max(seed_sets[5].a), max(seed_sets[5].b)) <= 14
    with pytest.raises(ValueError, match="unknown recipe"):
        next(training_batches("nope"))
    with pytest.raises(ValueError, match="seed"):
        held_out_sets("fast", -1)


@pytest.mark.slow
def test_trainer_callbacks_see_every_step_and_can_stop():
    from gru_tutorial.train import Trainer

    trainer = Trainer("fast", seed=1, max_steps=50)
    seen = []

    def observe(tr):
        seen.append((tr.iteration, tr.history.loss[-1]))
        if tr.iteration == 7:
            tr.should_stop = True

    trainer.add_callback(observe)
    result = trainer.run()
    assert [i for i, _ in seen] == list(range(1, 8)) and result.iterations == 7
    assert [loss for _, loss in seen] == result.history.loss
    assert not result.converged and set(result.evaluation) == {20, 200, 1000, "adversarial"}


@pytest.mark.slow
def test_trainer_can_go_on_after_the_stopping_rule(fast_seed0):
    from gru_tutorial.train import Trainer

    trainer = Trainer("fast", seed=0, stop_when_converged=False,
                      max_steps=fast_seed0.iterations + 3)
    result = trainer.run()
    # the same run as train(): the rule is met at the same step, then it goes on
    assert trainer.converged_at == fast_seed0.iterations
    assert result.iterations == trainer.converged_at + 3
    assert result.history.loss[: fast_seed0.iterations] == fast_seed0.history.loss
    assert result.converged and result.history.checks == fast_seed0.history.checks


def test_trainer_takes_another_model_and_checks_overrides():
    from gru_tutorial.checks import ArgumentError
    from gru_tutorial.model import BitAdder
    from gru_tutorial.train import Trainer

    model = BitAdder(units=4, seed=0)
    trainer = Trainer("fast", seed=0, model=model, max_steps=2, eval_bits=(8,), eval_count=10)
    assert trainer.run().model is model and trainer.iteration == 2
    with pytest.raises(ArgumentError, match="dtype"):
        Trainer("seed", model=BitAdder(units=4, seed=0))  # float32 model, float64 recipe
    with pytest.raises(ArgumentError, match="unknown recipe field"):
        Trainer("fast", learning_rat=0.1)
    with pytest.raises(ArgumentError, match="max_steps"):
        Trainer("fast", max_steps=0)


@pytest.mark.slow
def test_train_step_agrees_across_loops():
    """Every loop over time (chosen when the model is built) trains alike, and it learns."""
    import tensorflow as tf

    from gru_tutorial.data import random_batch
    from gru_tutorial.model import BitAdder
    from gru_tutorial.train import make_train_step

    batch = random_batch(8, 6, 0)
    x, y = tf.constant(batch.x), tf.constant(batch.y)
    losses = {}
    for loop in ("scan", "unroll", "manual"):
        step = make_train_step(BitAdder(units=5, seed=2, loop=loop), learning_rate=0.05)
        losses[loop] = [float(step(x, y)[0]) for _ in range(4)]
    for loop in ("unroll", "manual"):
        np.testing.assert_allclose(losses[loop], losses["scan"], rtol=1e-5)
    assert losses["scan"][-1] < losses["scan"][0]  # it learns


@pytest.mark.slow
def test_held_out_check_decides_as_tensorflow_along_a_run():
    """At every step of a short run, the NumPy check passes exactly when TensorFlow's does."""
    from gru_tutorial.evaluate import evaluate_sets
    from gru_tutorial.train import Trainer

    trainer = Trainer("fast", seed=3, eval_bits=(6, 12, 40), eval_count=200)
    decisions = []
    for _ in range(120):
        trainer.train_step()
        ours = trainer.check(trainer.model)
        theirs = evaluate_sets(trainer.model, trainer.sets, stop_early=True)
        assert (ours is None) == (theirs is None), trainer.iteration
        if ours is not None:
            assert ours == theirs
        decisions.append(ours is not None)
    assert True in decisions and False in decisions  # both outcomes were tried


def test_held_out_check_hands_close_calls_to_tensorflow(monkeypatch, pretrained):
    from dataclasses import replace

    import gru_tutorial.evaluate as evaluate_module
    from gru_tutorial.train import Trainer

    calls = []
    real = evaluate_module.evaluate_sets

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate_sets", spy)
    trainer = Trainer(replace(RECIPES["small"], restart_after=0), seed=4, model=pretrained)
    assert isinstance(trainer.check, evaluate_module.NumpyCheck)  # the recipe's choice
    assert trainer.check(pretrained) is not None and calls == []  # clear margins: NumPy decides
    monkeypatch.setattr(evaluate_module, "CHECK_MARGIN", float("inf"))
    assert trainer.check(pretrained) is not None and calls == [1]  # every call is close


@pytest.mark.slow
def test_trainer_check_hook_default_and_custom():
    from dataclasses import replace

    from gru_tutorial.evaluate import NumpyCheck
    from gru_tutorial.train import Trainer

    plain = Trainer(replace(RECIPES["fast"], check="plain"), 0, max_steps=1, eval_bits=(4,),
                    eval_count=5)
    assert not isinstance(plain.check, NumpyCheck)
    seen = []

    def check(model):
        seen.append(model)
        return {}  # "every held-out sum exact"

    trainer = Trainer("fast", 0, check=check, max_steps=200, eval_bits=(4,), eval_count=5)
    trainer.run()
    assert seen and all(m is trainer.model for m in seen)
    # the hook ran once, at the first all-exact batch, and its verdict stopped the run
    assert len(seen) == 1 and trainer.converged_at == trainer.history.checks[0]
    assert trainer.iteration == trainer.converged_at < 200


@pytest.mark.parametrize("recipe, cell, override, expected", [
    ("fast", None, None, "manual"), ("small", None, None, "manual"), ("seed", None, None, "scan"),
    ("fast", None, False, "scan"), ("fast", "rnn", None, "scan"), ("fast", "lstm", True, "scan"),
    ("seed", None, True, "manual"),
])
@pytest.mark.slow
def test_trainer_uses_the_hand_derived_gradient_where_the_recipe_and_cell_allow(
        recipe, cell, override, expected):
    from gru_tutorial.train import Trainer

    trainer = Trainer(recipe, 0, cell=cell, manual_gradient=override, max_steps=2,
                      eval_bits=(4,), eval_count=5)
    assert trainer.model.cell.loop == expected
    trainer.run()


@pytest.mark.slow
def test_both_gradients_train_alike():
    """The hand-derived and TensorFlow's gradients give the same run up to rounding."""
    from gru_tutorial.train import Trainer

    runs = [Trainer("fast", 5, manual_gradient=m, max_steps=30, eval_bits=(8,), eval_count=20)
            .run() for m in (True, False)]
    manual, auto = (r.history.loss for r in runs)
    assert manual != auto  # not the same code path
    assert np.allclose(manual, auto, rtol=1e-4, atol=0)


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_manual_gradient_must_be_a_bool(bad):
    from dataclasses import replace

    from gru_tutorial.checks import ArgumentError

    with pytest.raises(ArgumentError, match="manual_gradient"):
        replace(RECIPES["fast"], manual_gradient=bad)


def test_held_out_check_tries_the_last_wrong_sums_first(monkeypatch):
    from gru_tutorial.engine import NumpyAdder
    from gru_tutorial.train import Trainer

    trainer = Trainer("fast", seed=3, eval_bits=(6, 40), eval_count=300)
    while trainer.check(trainer.model) is not None or trainer.check.suspects is None:
        trainer.train_step()  # until a check fails
    sizes = []
    real = NumpyAdder.all_exact

    def spy(self, x, y):
        sizes.append(len(x))
        return real(self, x, y)

    monkeypatch.setattr(NumpyAdder, "all_exact", spy)
    suspects = len(trainer.check.suspects[0])
    assert trainer.check(trainer.model) is None  # the same weights: the same sums are wrong
    assert sizes == [suspects] and suspects < 300  # decided by the suspects alone


def test_failing_close_calls_go_to_tensorflow_too(monkeypatch):
    """A NumPy check that fails with a logit near 0 lets the model decide, as a passing one does."""
    import gru_tutorial.evaluate as evaluate_module
    from gru_tutorial.train import Trainer

    trainer = Trainer("fast", seed=3, eval_bits=(6, 40), eval_count=300)  # untrained: fails
    calls = []
    real = evaluate_module.evaluate_sets
    monkeypatch.setattr(evaluate_module, "evaluate_sets",
                        lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    monkeypatch.setattr(evaluate_module, "CHECK_MARGIN", 0.0)  # no call is close
    assert trainer.check(trainer.model) is None and calls == []
    monkeypatch.setattr(evaluate_module, "CHECK_MARGIN", float("inf"))  # every call is close
    assert trainer.check(trainer.model) is None and calls == [1]  # the model decided
    assert trainer.check(trainer.model) is None and calls == [1, 1]  # also through the suspects
