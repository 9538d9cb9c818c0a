"""gru_tutorial.notebook: what the chapters share."""

import math

import pytest

from gru_tutorial.cell import GRUCell
from gru_tutorial.notebook import as_built, load_results, results_dir, source


def test_source_drops_the_docstrings_only():
    text = source(GRUCell.step)
    assert text.startswith("def step(self") and '"""' not in text
    assert len(text.splitlines()) == 5  # the signature and the four equations
    assert "h_tilde = tf.tanh" in text


def test_source_of_a_class_drops_every_docstring():
    text = source(GRUCell)
    assert '"""' not in text and "def fused_step" in text and "MANUAL_GRADIENT = True" in text


def test_load_results_reads_committed_json():
    data = load_results("convergence")
    assert "machine" in data
    assert (results_dir() / "convergence.json").is_file()
    with pytest.raises(FileNotFoundError, match="convergence"):
        load_results("no-such-benchmark")


@pytest.mark.parametrize("value, reference, tolerance", [
    (317, 317, 0), (320, 317, 30), (0.1146, 0.115, 0.02), (1.80045, 1.8, 0.001),
])
def test_as_built_returns_the_reference_within_the_tolerance(value, reference, tolerance):
    assert as_built(value, reference, tolerance) == reference


@pytest.mark.parametrize("value, reference, tolerance", [
    (348, 317, 30), (0.2, 0.115, 0.02), (math.nan, 1.0, 1.0), (1.0, math.nan, 1.0),
])
def test_as_built_refuses_a_run_outside_the_tolerance(value, reference, tolerance):
    with pytest.raises(AssertionError, match="built with"):
        as_built(value, reference, tolerance)


@pytest.mark.parametrize("tolerance", [-1, math.nan])
def test_as_built_refuses_a_bad_tolerance(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        as_built(1.0, 1.0, tolerance)
