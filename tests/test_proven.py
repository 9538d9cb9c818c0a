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

# the small recipe without its training terms and restarts, stopping at the first
# certificate, tried every 20 steps from the step at which the held-out check passes
# (seed 4 of this recipe passes it at 207)
PROVEN = replace(RECIPES["small"], name="small-plain", verify_every=20, verify_history=4,
                 max_steps=600, proof_steps=500, contraction=0.0, spread=0.0,
                 restart_after=0, attempts=1)


def test_a_proven_stop_needs_a_verifiable_cell_and_sane_settings():
    with pytest.raises(ArgumentError, match="keras-gru"):
        replace(PROVEN, cell="keras-gru")
    for cell in ("rnn", "gru-noreset", "lstm"):
        assert replace(PROVEN, cell=cell, contraction=0.3, spread=5.0).cell == cell
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


# -- the training terms and the restarts of the recipe "small" -------------------------------

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


@pytest.mark.parametrize("kind", ["gru", "rnn", "gru-noreset", "lstm"])
def test_every_cells_step_jacobian_matches_finite_differences(kind):
    import numpy as np
    import tensorflow as tf

    from gru_tutorial.model import BitAdder
    from gru_tutorial.provable import step_jacobian

    cell = BitAdder(3, dtype="float64", seed=5, cell=kind).cell
    rng = np.random.default_rng(1)
    for v in cell.trainable_variables:
        v.assign(rng.normal(size=v.shape))
    dim = 6 if kind == "lstm" else 3
    x = tf.constant(rng.integers(0, 2, size=(4, 2)), tf.float64)
    s = rng.uniform(-0.9, 0.9, size=(4, dim))

    def step(state):
        state = tf.constant(state)
        new = cell.step(x, tuple(tf.split(state, 2, axis=-1)) if kind == "lstm" else state)
        return (tf.concat(new, -1) if isinstance(new, tuple) else new).numpy()

    eps = 1e-6
    numeric = np.stack([(step(s + eps * e) - step(s - eps * e)) / (2 * eps)
                        for e in np.eye(dim)], axis=-1)
    np.testing.assert_allclose(step_jacobian(cell, x, tf.constant(s)).numpy(), numeric,
                               atol=1e-7)


def test_the_lstm_visits_h_and_c():
    import numpy as np
    import tensorflow as tf

    from gru_tutorial.data import random_batch
    from gru_tutorial.model import BitAdder
    from gru_tutorial.provable import visited_states

    cell = BitAdder(2, dtype="float64", seed=3, cell="lstm").cell
    x = tf.constant(random_batch(5, 6, 0).x, tf.float64)
    states = visited_states(cell, x).numpy()
    h, c = cell.initial_state(5)
    for t in range(x.shape[1]):
        h, c = cell.step(x[:, t], (h, c))
        np.testing.assert_allclose(states[:, t], np.concatenate([h, c], -1), rtol=1e-12)


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
        replace(RECIPES["small"], contraction=-1.0)
    with pytest.raises(ArgumentError, match="keras-gru"):
        replace(RECIPES["small"], spread=1.0, stop="held-out", cell="keras-gru")
    with pytest.raises(ArgumentError, match="attempts"):
        replace(RECIPES["small"], attempts=0)
    with pytest.raises(ArgumentError, match="proof_steps"):
        replace(RECIPES["small"], proof_steps=0)


def test_a_run_restarts_when_the_held_out_check_has_not_passed():
    recipe = replace(PROVEN, restart_after=20, attempts=3, max_steps=70)
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


def test_a_network_that_will_not_prove_is_dropped_for_new_weights(monkeypatch):
    attempts = never_proven(monkeypatch)
    restarted = []
    real = Trainer._restart

    def restart(self):
        restarted.append((self.iteration, self.converged_at, len(attempts)))
        real(self)

    monkeypatch.setattr(Trainer, "_restart", restart)
    trainer = Trainer(replace(PROVEN, proof_steps=30, attempts=2, max_steps=400), 4)
    first = trainer.model
    result = trainer.run()
    # the first network passed its check, was refused at that step and 20 steps later,
    # and was dropped 30 steps after the check; its successor starts from scratch
    assert len(restarted) == 1 and result.restarts == 1 and trainer.model is not first
    at, converged, tried = restarted[0]
    assert converged is not None and at == converged + 30 and tried == 2
    assert result.certified_at is None
    assert result.converged_at is None or result.converged_at > at


@pytest.mark.slow
def test_the_small_recipe_ends_certified():
    result = Trainer("small", 114).run()
    assert result.certified_at is not None and result.proof.certified
    assert verify(result.model, max_history=3).certified
    assert result.model.add(2**300 - 1, 1) == 2**300
