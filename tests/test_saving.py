import json
import shutil

import h5py
import numpy as np
import pytest
from reference import weights_by_path

from gru_tutorial.data import random_batch
from gru_tutorial.model import BitAdder
from gru_tutorial.saving import (
    CONFIG_NAME,
    PRETRAINED_DIR,
    WEIGHTS_NAME,
    ModelFileError,
    load_model,
    save_model,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small untrained model saved once; tests copy the directory before damaging it."""
    model = BitAdder(units=6, seed=3, init="seed")
    directory = save_model(model, tmp_path_factory.mktemp("saved") / "model",
                           info={"recipe": "test", "seed": 3})
    return model, directory


@pytest.fixture
def copy(saved, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(saved[1], target)
    return target


def assert_same_model(one, two):
    a, b = weights_by_path(one), weights_by_path(two)
    assert a.keys() == b.keys() and len(a) == 11
    for key in a:
        assert a[key].dtype == b[key].dtype
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("init", ["keras", "seed"])
def test_round_trip(tmp_path, dtype, init):
    model = BitAdder(units=5, dtype=dtype, init=init, seed=8)
    # make the weights distinguishable from a fresh model with the same seed
    for v in model.weights:
        v.assign(v.numpy() + np.random.default_rng(0).normal(size=v.shape) * 0.3)
    info = {"recipe": "fast", "seed": 8, "iterations": 12}
    returned = save_model(model, tmp_path / "nested" / "dir", info=info)
    assert returned == tmp_path / "nested" / "dir"
    loaded = load_model(returned)
    assert isinstance(loaded, BitAdder)
    assert loaded.get_config() == {"units": 5, "dtype": dtype, "init": init, "cell": "gru",
                                   "readout": "logit"}
    assert loaded.info == info
    assert_same_model(model, loaded)
    x = random_batch(10, 30, 1).x
    assert np.array_equal(model(x).numpy(), loaded(x).numpy())
    assert np.array_equal(model.predict_bits(x), loaded.predict_bits(x))


def test_saved_files_and_no_pickle(saved):
    _, directory = saved
    assert sorted(p.name for p in directory.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME])
    assert not any(p.suffix in (".pkl", ".pickle", ".npy", ".npz") for p in directory.rglob("*"))
    config = json.loads((directory / CONFIG_NAME).read_text())
    assert config["model"] == {"units": 6, "dtype": "float32", "init": "seed", "cell": "gru",
                               "readout": "logit"}
    assert config["info"] == {"recipe": "test", "seed": 3}
    with h5py.File(directory / WEIGHTS_NAME, "r") as f:  # a real HDF5 file
        assert len(f.keys()) > 0


def test_save_overwrites(saved, tmp_path):
    model, _ = saved
    other = BitAdder(units=6, seed=99, init="seed")
    save_model(other, tmp_path / "m")
    save_model(model, tmp_path / "m")
    assert_same_model(model, load_model(tmp_path / "m"))


def test_pretrained_dir_is_a_saved_model():
    assert (PRETRAINED_DIR / CONFIG_NAME).is_file()
    assert (PRETRAINED_DIR / WEIGHTS_NAME).is_file()


def expect_error(directory, names):
    with pytest.raises(ModelFileError) as info:
        load_model(directory)
    assert isinstance(info.value, ValueError)
    assert str(names) in str(info.value)
    return str(info.value)


def test_missing_directory(tmp_path):
    expect_error(tmp_path / "nope", tmp_path / "nope")


def test_directory_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    expect_error(tmp_path / "file", tmp_path / "file")


def test_missing_config(copy):
    (copy / CONFIG_NAME).unlink()
    expect_error(copy, copy / CONFIG_NAME)


def test_missing_weights(copy):
    (copy / WEIGHTS_NAME).unlink()
    expect_error(copy, copy / WEIGHTS_NAME)


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", "null", '{"model": 3}',
                                  '{"format_version": 1}', '{"format_version": 1, "model": {}}'])
def test_corrupt_config(copy, text):
    (copy / CONFIG_NAME).write_text(text)
    expect_error(copy, copy / CONFIG_NAME)


def test_binary_garbage_config(copy):
    (copy / CONFIG_NAME).write_bytes(b"\xff\xfe\x00\x81garbage")
    expect_error(copy, copy / CONFIG_NAME)


def edit_config(directory, **changes):
    path = directory / CONFIG_NAME
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "format_version":
            config[key] = value
        else:
            config["model"][key] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("changes", [
    {"units": 0}, {"units": -4}, {"units": "6"}, {"units": 6.0}, {"units": True},
    {"units": None}, {"units": 10**9}, {"units": 1025}, {"dtype": "float16"}, {"dtype": 32},
    {"init": "magic"},
    {"format_version": 2}, {"format_version": None},
])
def test_bad_config_values(copy, changes):
    edit_config(copy, **changes)
    expect_error(copy, copy / CONFIG_NAME)


def test_unexpected_config_key(copy):
    edit_config(copy, activation="relu")
    expect_error(copy, copy / CONFIG_NAME)


def test_units_not_matching_weights(copy):
    edit_config(copy, units=7)
    expect_error(copy, copy / WEIGHTS_NAME)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "empty_hdf5", "other_model"])
def test_bad_weights_file(copy, tmp_path, damage):
    path = copy / WEIGHTS_NAME
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "empty_hdf5":
        path.unlink()
        with h5py.File(path, "w"):
            pass
    else:  # weights of a different architecture
        save_model(BitAdder(units=9, seed=1), tmp_path / "other")
        shutil.copy(tmp_path / "other" / WEIGHTS_NAME, path)
    expect_error(copy, path)
