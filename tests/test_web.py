"""gru_tutorial.web: the bundled model's weights exported for the page "Try it" (no TensorFlow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib import resources

import h5py
import numpy as np
import pytest

from gru_tutorial import adder, web
from gru_tutorial.adder import CONFIG_NAME, PRETRAINED_DIR, WEIGHTS_NAME
from gru_tutorial.checks import ArgumentError, ModelFileError


@pytest.fixture(scope="module")
def bundled():
    return adder.load_pretrained()


def keras_shaped(weights):
    """The arrays of ``weights`` in the model's shapes: the readout V (units, 1), c (1,)."""
    return {name: weights.arrays[name].reshape(-1, 1) if name == "V"
            else weights.arrays[name].reshape(-1) if name == "c" else weights.arrays[name]
            for name in web.WEIGHT_NAMES}


@pytest.fixture(scope="module")
def exported():
    return web.export_adder()


def test_export_holds_the_bundled_weights_exactly(bundled, exported):
    assert set(exported["weights"]) == set(web.WEIGHT_NAMES)
    assert set(bundled.arrays) == set(web.WEIGHT_NAMES)
    for name, array in keras_shaped(bundled).items():
        got = np.array(exported["weights"][name], dtype=np.float64)
        assert got.shape == array.shape, name
        # the exported doubles are the float32 values themselves, not merely close to them
        np.testing.assert_array_equal(got, array, err_msg=name)
        np.testing.assert_array_equal(got.astype(np.float32).astype(np.float64), got,
                                      err_msg=name)


def test_export_round_trips_through_the_js_file_exactly(bundled, exported):
    text = web.adder_js()
    back = web.parse_adder_js(text)
    assert back == exported
    for name, array in keras_shaped(bundled).items():
        values = np.array(back["weights"][name], dtype=np.float64)
        np.testing.assert_array_equal(values, array, err_msg=name)


def test_export_says_what_it_is(bundled, exported):
    assert exported["format_version"] == web.WEB_FORMAT_VERSION == 1
    assert exported["cell"] == "gru" and exported["units"] == bundled.units == 3
    assert exported["dtype"] == "float32"
    info = bundled.info
    assert exported["source"] == {"model": "bundled", "recipe": info["recipe"],
                                  "seed": info["seed"], "converged_at": info["converged_at"],
                                  "iterations": info["iterations"]}
    assert exported["source"]["recipe"] == "small" and exported["source"]["seed"] == 0


def test_export_is_json_with_plain_numbers(exported):
    text = json.dumps(exported, allow_nan=False)
    assert json.loads(text) == exported
    for name, values in exported["weights"].items():
        flat = np.ravel(np.array(values, dtype=object))
        assert all(type(v) is float for v in flat), name


def copy_pretrained(dest):
    dest.mkdir(parents=True)
    with resources.as_file(PRETRAINED_DIR) as src:
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            shutil.copy(src / name, dest / name)
    return dest


def test_export_of_a_saved_directory(tmp_path, exported):
    directory = copy_pretrained(tmp_path / "my-model")
    got = web.export_adder(directory)
    assert got["weights"] == exported["weights"]
    assert got["source"]["model"] == "my-model"
    assert got["source"]["seed"] == 0
    assert web.export_adder(str(directory)) == got


def test_export_of_a_missing_directory_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="nope"):
        web.export_adder(tmp_path / "nope")


def fake_model(directory, cell, units=3):
    """A saved model of another cell in the Keras layout that adder.load reads (no TF needed)."""
    gates = {"rnn": [""], "lstm": ["i", "f", "o", "c"], "gru-noreset": ["z", "h"]}[cell]
    rng = np.random.default_rng(0)
    shapes = {"W": (2, units), "U": (units, units), "b": (units,)}
    directory.mkdir(parents=True)
    with h5py.File(directory / WEIGHTS_NAME, "w") as f:
        readout = f.create_group("vars")
        readout["0"] = rng.normal(size=(units, 1)).astype(np.float32)
        readout["1"] = np.zeros(1, dtype=np.float32)
        group = f.create_group("cell").create_group("vars")
        i = 0
        for kind in "WUb":
            for _ in gates:
                group[str(i)] = rng.normal(size=shapes[kind]).astype(np.float32)
                i += 1
    config = {"format_version": 1, "info": {},
              "model": {"units": units, "dtype": "float32", "init": "keras", "cell": cell}}
    (directory / CONFIG_NAME).write_text(json.dumps(config))
    return directory


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru-noreset"])
def test_export_refuses_other_cells(tmp_path, cell):
    directory = fake_model(tmp_path / cell, cell)
    assert adder.load(directory).cell == cell  # a valid model, just not a GRU
    with pytest.raises(ArgumentError, match=f"cell 'gru' only.*cell is '{cell}'"):
        web.export_adder(directory)
    with pytest.raises(ArgumentError, match="'gru' only"):
        web.write_adder_js(tmp_path / "out.js", directory)
    assert not (tmp_path / "out.js").exists()


def test_export_refuses_non_finite_weights(tmp_path):
    directory = shutil.copytree(PRETRAINED_DIR, tmp_path / "broken")
    with h5py.File(directory / WEIGHTS_NAME, "r+") as f:
        f["cell"]["vars"]["5"][1, 2] = np.nan  # U_h
    with pytest.raises(ModelFileError, match="U_h.*NaN"):
        web.export_adder(directory)


def test_write_adder_js_writes_a_script_that_sets_the_global(tmp_path, exported):
    path = web.write_adder_js(tmp_path / "deep" / "static" / web.JS_NAME)
    assert path == tmp_path / "deep" / "static" / "gru-adder-weights.js"
    text = path.read_text(encoding="utf-8")
    assert text == web.adder_js()
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith(";\n")
    assert lines[0].startswith("// Generated at build time")
    assert lines[1].startswith("window.GRU_ADDER = {")
    assert json.loads(lines[1].removeprefix("window.GRU_ADDER = ").removesuffix(";")) == exported


@pytest.mark.parametrize("text", ["", "var x = 1;", "window.GRU_ADDER = {nope};",
                                  "window.OTHER = {};"])
def test_parse_adder_js_refuses_other_text(text):
    with pytest.raises(ArgumentError):
        web.parse_adder_js(text)


def test_web_imports_neither_tensorflow_nor_keras(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import gru_tutorial
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        import gru_tutorial.web as web
        web.write_adder_js({str(tmp_path / "w.js")!r})
        heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
        print("HEAVY", heavy, file=sys.stderr)
        assert not heavy, heavy
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stderr
    assert (tmp_path / "w.js").read_text(encoding="utf-8") == web.adder_js()


# ----------------------------------------------------------------------------- the page's download


def write_json(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_a_weights_file_of_the_page_loads_as_the_same_network(tmp_path, bundled, exported):
    """The layout the page "Train it" downloads (export_adder's) loads back exactly."""
    loaded = adder.load(write_json(tmp_path / "w.json", exported))
    kind = (loaded.cell, loaded.units, loaded.dtype, loaded.readout)
    assert kind == ("gru", 3, "float32", "logit")
    for name in web.WEIGHT_NAMES:
        np.testing.assert_array_equal(np.ravel(getattr(loaded, name)),
                                      np.ravel(getattr(bundled, name)))
    assert loaded.info["seed"] == exported["source"]["seed"]


def test_the_command_line_takes_a_weights_file(tmp_path, exported):
    path = write_json(tmp_path / "gru-adder-seed0.json", exported)
    a, b = 2**200 - 1, 1
    command = [sys.executable, "-m", "gru_tutorial", "add", str(a), str(b), "--model", path]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(a + b)


def _edited(exported, **changes):
    data = json.loads(json.dumps(exported))
    for key, value in changes.items():
        if key.startswith("w_"):
            data["weights"][key[2:]] = value
        else:
            data[key] = value
    return data


@pytest.mark.parametrize("changes, message", [
    ({"format_version": 2}, "format_version must be 1"),
    ({"cell": "lstm"}, "cell must be 'gru'"),
    ({"dtype": "float64"}, "dtype must be 'float32'"),
    ({"units": 0}, "units must be an integer from 1"),
    ({"units": True}, "units must be an integer"),
    ({"units": 4}, "weight W_z must be numbers of shape (2, 4)"),
    ({"w_W_z": [[1.0, 2.0, 3.0]]}, "weight W_z must be numbers of shape (2, 3)"),
    ({"w_U_h": "none"}, "weight U_h must be a list"),
    ({"w_b_r": [0.0, "x", 0.0]}, "weight b_r must hold numbers only"),
    ({"w_b_r": [0.0, True, 0.0]}, "weight b_r must be numbers"),
    ({"w_c": [0.1]}, "is not a float32 number"),
    ({"w_V": [[1.0], [float("nan")], [0.0]]}, "NaN or infinite"),
    ({"source": "me"}, "source must be a JSON object"),
])
def test_a_bad_weights_file_says_what_is_wrong(tmp_path, exported, changes, message):
    (tmp_path / "w.json").write_text(json.dumps(_edited(exported, **changes)))
    with pytest.raises(ModelFileError) as info:
        adder.load(tmp_path / "w.json")
    assert message in str(info.value) and "w.json" in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not JSON"),
    ("[1, 2]", "no 'weights'"),
    ('{"weights": {}}', "format_version must be 1"),
])
def test_a_file_that_is_not_a_weights_file(tmp_path, text, message):
    (tmp_path / "w.json").write_text(text)
    with pytest.raises(ModelFileError) as info:
        adder.load(tmp_path / "w.json")
    assert message in str(info.value)


def test_missing_or_extra_weights_are_named(tmp_path, exported):
    data = _edited(exported)
    del data["weights"]["U_r"]
    data["weights"]["extra"] = [1.0]
    (tmp_path / "w.json").write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="weights must be exactly"):
        adder.load(tmp_path / "w.json")
