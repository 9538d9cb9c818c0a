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
