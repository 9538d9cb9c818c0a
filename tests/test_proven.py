"""The proof as a stopping rule: ``Recipe(stop='proven')`` (issue 21, part 1)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gru_tutorial.checks import ArgumentError
from gru_tutorial.cli import main
from gru_tutorial.recipes import RECIPES
from gru_tutorial.saving import load_model
from gru_tutorial.train import Trainer
from gru_tutorial.verify import verify

# the small recipe, stopping at the first certificate, tried every 20 steps from the step
# at which the held-out check passes (seed 4 of this recipe passes it at 207)
PROVEN = replace(RECIPES["small"], name="small-proven", stop="proven", verify_every=20,
                 max_steps=600)


def test_a_proven_stop_needs_the_gru_and_sane_settings():
    with pytest.raises(ArgumentError, match="gru"):
        replace(PROVEN, cell="lstm")
    with pytest.raises(ArgumentError, match="verify_every"):
        replace(PROVEN, verify_every=0)
    with pytest.raises(ArgumentError, match="verify_history"):
        replace(PROVEN, verify_history=9)


@pytest.mark.slow
def test_training_stops_at_the_first_certificate():
    trainer = Trainer(PROVEN, 4)
    result = trainer.run()
    assert result.converged_at is not None and result.certified_at is not None
    assert result.iterations == result.certified_at
    assert (result.certified_at - result.converged_at) % PROVEN.verify_every == 0
    assert result.proof.certified
    # the model it returns is the one that was proven: verify agrees again
    assert verify(result.model, max_history=PROVEN.verify_history).certified


def never_proven(monkeypatch):
    """Make every proof attempt fail, whatever the network (the rest of the run is real)."""
    import gru_tutorial.verify as V

    real = V.verify
    attempts = []

    def refuse(model, max_history=6, min_history=1):
        attempts.append(max_history)
        result = real(model, max_history=1)
        result.certified, result.failure = False, "refused by the test"
        return result

    monkeypatch.setattr(V, "verify", refuse)
    return attempts


@pytest.mark.slow
def test_a_run_that_is_not_proven_within_its_cap_says_so(monkeypatch):
    attempts = never_proven(monkeypatch)
    result = Trainer(PROVEN, 4, max_steps=300).run()
    assert result.converged_at is not None and result.certified_at is None
    assert result.iterations == 300
    assert result.proof is not None and result.proof.failure == "refused by the test"
    # an attempt at the step the held-out check passed, then every verify_every steps
    assert len(attempts) == (300 - result.converged_at) // PROVEN.verify_every + 1


@pytest.mark.slow
@pytest.mark.parametrize("status", [0, 1])
def test_the_command_line_exits_1_when_not_proven(monkeypatch, capsys, tmp_path, status):
    monkeypatch.setitem(RECIPES, "small", PROVEN)
    if status == 1:
        never_proven(monkeypatch)
    args = ["train", "--quiet", "--recipe", "small", "--seed", "4", "--out", str(tmp_path),
            "--max-steps", "600" if status == 0 else "300"]
    assert main(args) == status
    out, err = capsys.readouterr()
    info = json.loads((tmp_path / "config.json").read_text())["info"]
    if status == 0:
        assert "proven at iteration" in out and err == ""
        assert info["certified_at"] is not None
        assert verify(load_model(tmp_path), max_history=4).certified
    else:
        assert "not proven by iteration 300 (last attempt: refused by the test)" in out
        assert "not proven within 300 iterations (exit status 1)" in err
        assert info["certified_at"] is None


# -- the training terms and the restarts of the recipe "proven" ------------------------------

def test_the_step_jacobian_is_the_derivative_of_the_step():
    import numpy as np
    import tensorflow as tf

    from gru_tutorial.model import BitAdder
    from gru_tutorial.provable import step_jacobian

    cell = BitAdder(3, dtype="float64", seed=5).cell
    rng = np.random.default_rng(0)
    for v in cell.trainable_variables:  # weights far from the initial ones
        v.assign(rng.normal(size=v.shape) * 1.5)
    x = tf.constant(rng.integers(0, 2, size=(16, 2)), tf.float64)
    h = tf.constant(rng.uniform(-1, 1, size=(16, 3)))
    with tf.GradientTape() as tape:
        tape.watch(h)
        new = cell.step(x, h)
    np.testing.assert_allclose(step_jacobian(cell, x, h).numpy(),
                               tape.batch_jacobian(new, h).numpy(), rtol=1e-10, atol=1e-12)


def test_history_nodes_follow_the_graph():
    from gru_tutorial.data import random_batch
    from gru_tutorial.provable import history_nodes
    from gru_tutorial.verify import HistoryGraph

    graph = HistoryGraph(3)
    batch = random_batch(20, 30, 1, mixed_density=True)
    nodes = history_nodes(batch.x, graph)
    a, b = batch.x[..., 0].astype(int), batch.x[..., 1].astype(int)
    for n in range(20):
        carry = 0
        for t in range(batch.x.shape[1]):
            start = max(0, t - 2)
            c_before = 0  # the carry before the window
            for s in range(start):
                c_before = (a[n, s] + b[n, s] + c_before) // 2
            window = tuple(int(2 * a[n, s] + b[n, s]) for s in range(start, t + 1))
            assert graph.nodes[nodes[n, t]] == (c_before, window)
            carry = (a[n, t] + b[n, t] + carry) // 2
        assert graph.carry[nodes[n, -1]] == carry


def test_the_spread_is_zero_for_clustered_states_and_a_mean_square_otherwise():
    import numpy as np
    import tensorflow as tf

    from gru_tutorial.provable import spread_penalty

    nodes = tf.constant([[0, 1, 0, 1]], tf.int64)
    same = tf.constant([[[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [3.0, 4.0]]])
    assert float(spread_penalty(same, nodes, 2)) == 0.0
    apart = tf.constant([[[0.0, 0.0], [3.0, 4.0], [2.0, 0.0], [3.0, 4.0]]])
    # node 0: states (0, 0) and (2, 0) around (1, 0): squared distances 1 and 1
    np.testing.assert_allclose(float(spread_penalty(apart, nodes, 2)), 2 / 4)


def test_the_new_fields_are_checked():
    with pytest.raises(ArgumentError, match="contraction"):
        replace(RECIPES["proven"], contraction=-1.0)
    with pytest.raises(ArgumentError, match="gru"):
        replace(RECIPES["small"], spread=1.0, cell="rnn")
    with pytest.raises(ArgumentError, match="attempts"):
        replace(RECIPES["proven"], attempts=0)
    with pytest.raises(ArgumentError, match="proof_steps"):
        replace(RECIPES["proven"], proof_steps=0)


def test_a_run_restarts_when_the_held_out_check_has_not_passed():
    recipe = replace(RECIPES["small"], restart_after=20, attempts=3, max_steps=70)
    trainer = Trainer(recipe, 0)
    first = trainer.model
    result = trainer.run()
    assert result.converged_at is None and result.restarts == 2 and result.iterations == 70
    assert trainer.model is not first and result.model is trainer.model
    with pytest.raises(ArgumentError, match="restart"):
        Trainer(recipe, 0, model=first)


def test_proofs_stop_being_tried_after_proof_steps(monkeypatch):
    never_proven(monkeypatch)
    result = Trainer(replace(PROVEN, proof_steps=30), 4).run()
    assert result.certified_at is None
    assert result.iterations == result.converged_at + 30


@pytest.mark.slow
def test_the_proven_recipe_ends_certified():
    result = Trainer("proven", 114).run()
    assert result.certified_at is not None and result.proof.certified
    assert verify(result.model, max_history=3).certified
    assert result.model.add(2**300 - 1, 1) == 2**300
