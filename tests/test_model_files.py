"""One loader of saved models (``gru_tutorial.adder.load``): every command and engine says the same.

A broken model directory must give one clear line and exit status 2, naming the file and
what is wrong, whichever command reads it (add, eval, verify) and whichever engine runs it;
never a silent wrong answer (a NaN weight used to print ``0`` and exit 0) and never Keras's
cut-off "A total of 2 objects could not be loaded".
"""

import json
import shutil

import h5py
import numpy as np
import pytest

from gru_tutorial import adder
from gru_tutorial.adder import CONFIG_NAME, PRETRAINED_DIR, WEIGHTS_NAME, AdderWeights
from gru_tutorial.checks import ArgumentError, ModelFileError
from gru_tutorial.cli import main
from gru_tutorial.saving import load_model

COMMANDS = [
    ["add", "5", "7", "--engine", "numpy"],
    ["add", "5", "7", "--engine", "tf"],
    ["eval", "--bits", "8", "--count", "3", "--engine", "numpy"],
    ["eval", "--bits", "8", "--count", "3", "--engine", "tf"],
    ["verify", "--max-history", "1"],
]
IDS = ["add-numpy", "add-tf", "eval-numpy", "eval-tf", "verify"]


def run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def bundled_copy(tmp_path):
    return shutil.copytree(PRETRAINED_DIR, tmp_path / "model")


def poison(directory, variable, index, value):
    """Write ``value`` into one entry of a cell weight (``variable``: its index in the file)."""
    with h5py.File(directory / WEIGHTS_NAME, "r+") as f:
        f["cell"]["vars"][str(variable)][index] = value


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_non_finite_weight_is_refused_by_every_command(bundled_copy, capsys, command, value):
    poison(bundled_copy, 5, (1, 2), value)  # U_h
    status, out, err = run([*command, "--model", str(bundled_copy)], capsys)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert "U_h" in err and "NaN or infinite" in err and WEIGHTS_NAME in err


def test_non_finite_readout_is_refused(bundled_copy):
    with h5py.File(bundled_copy / WEIGHTS_NAME, "r+") as f:
        f["vars"]["1"][0] = np.nan  # c
    with pytest.raises(ModelFileError, match="weight c holds NaN"):
        adder.load(bundled_copy)
    with pytest.raises(ModelFileError, match="weight c holds NaN"):
        load_model(bundled_copy)


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_config_that_does_not_match_the_weights_gives_one_clear_line(bundled_copy, capsys,
                                                                      command):
    config = json.loads((bundled_copy / CONFIG_NAME).read_text())
    config["model"]["units"] = 5  # the weights have 3
    (bundled_copy / CONFIG_NAME).write_text(json.dumps(config))
    status, out, err = run([*command, "--model", str(bundled_copy)], capsys)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert "does not match its config" in err and "5 units" in err and "have 3" in err
    assert "could not be loaded" not in err


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_missing_model_directory_is_one_line(tmp_path, capsys, command):
    status, out, err = run([*command, "--model", str(tmp_path / "nope")], capsys)
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert "no model directory" in err and "nope" in err


def test_loader_and_model_agree_on_every_weight(pretrained):
    """The TensorFlow model is built from the loader's weights: the same numbers."""
    weights = adder.load_pretrained()
    again = AdderWeights.from_model(pretrained)
    assert weights.names == again.names == adder.weight_names("gru")
    for name in (*weights.names, "V", "c"):
        np.testing.assert_array_equal(weights.arrays[name], again.arrays[name], err_msg=name)


@pytest.mark.parametrize("cell, count", [("rnn", 3), ("gru-noreset", 6), ("gru", 9),
                                         ("lstm", 12), ("keras-gru", 3)])
def test_weight_names_follow_the_cells(cell, count):
    names = adder.weight_names(cell)
    assert len(names) == len(set(names)) == count


def test_adder_weights_are_read_only_and_checked():
    w = adder.load_pretrained()
    with pytest.raises(ValueError):
        w.U_h[0, 0] = 1.0
    with pytest.raises(ArgumentError, match="needs the weights"):
        AdderWeights("gru", {k: v for k, v in w.arrays.items() if k != "b_r"})
    with pytest.raises(ArgumentError, match="readout"):
        AdderWeights("gru", w.arrays, readout="probit")
    with pytest.raises(ArgumentError, match="not finite in float32"):
        w.replace(c=1e300)  # finite in float64, infinite in the model's float32
    changed = w.replace(c=w.c + 1.0)
    assert changed.c == w.c + 1.0 and w.c != changed.c
    with pytest.raises(AttributeError):
        w.not_a_weight  # noqa: B018
