"""The NumPy engine (``gru_tutorial.engine``) computes what the TensorFlow model computes.

For every cell kind, on trained models and on untrained random ones (float32 and
float64), the engine's logits must agree with the Keras model's to 1e-5 relative
(or absolute, below 1) and its bits must be the same, on both of its loops over
time: the numba kernel and the NumPy loop.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from gru_tutorial import engine
from gru_tutorial.bits import BitsError
from gru_tutorial.checks import MAX_STEPS, ArgumentError, ModelFileError
from gru_tutorial.data import encode_pairs, random_batch
from gru_tutorial.evaluate import adversarial_pairs
from gru_tutorial.model import BitAdder, trace_once_per_instance
from gru_tutorial.recipes import CELLS
from gru_tutorial.saving import CONFIG_NAME, WEIGHTS_NAME, load_model, load_pretrained, save_model

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "benchmarks" / "results" / "why_gates_models"
RTOL = 1e-5


def assert_logits_close(actual, expected, what):
    """|actual - expected| <= RTOL * max(1, |expected|) everywhere."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    assert np.all(np.isfinite(actual)), what
    err = np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err[worst] <= RTOL, (what, worst, actual[worst], expected[worst], err[worst])


def step_index(x):
    """The engine's per-step input code 2 a + b, computed independently."""
    x = np.asarray(x)
    return (2 * x[..., 0].astype(np.int64) + x[..., 1].astype(np.int64)).astype(np.int8)


# -- the models ----------------------------------------------------------------------------


def randomise(model, seed):
    """Every weight random, biases included (Keras's zero biases would hide bias mistakes).

    Recurrent matrices get std 0.8 / sqrt(units), so the dynamics contract and
    float32 and float64 runs stay close over thousands of steps.
    """
    rng = np.random.default_rng(seed)
    for v in model.weights:
        recurrent = v.name in ("U", "recurrent_kernel") or v.name.startswith("U_")
        std = 0.8 / np.sqrt(model.units) if recurrent else 0.8
        v.assign(rng.normal(0.0, std, tuple(v.shape)).astype(model.dtype))


SOURCES = ["trained"] + ["random-float32", "random-float64"]
MODEL_PARAMS = [(kind, source) for kind in CELLS for source in SOURCES]


class Pair:
    """The same saved model loaded twice: Keras (with a compiled logits function) and NumPy."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.tf_model = load_model(directory)
        self.np_model = engine.load(directory)
        spec = [tf.TensorSpec([None, None, 2], self.tf_model.dtype)]
        self._fn = tf.function(self.tf_model.call, input_signature=spec, autograph=False)
        trace_once_per_instance(self._fn)
        self._cache = {}

    def tf_logits(self, name, x):
        if name not in self._cache:
            xt = tf.constant(np.asarray(x, dtype=self.tf_model.dtype))
            self._cache[name] = self._fn(xt).numpy()[..., 0]
        return self._cache[name]


@pytest.fixture(scope="module", params=MODEL_PARAMS, ids=[f"{k}-{s}" for k, s in MODEL_PARAMS])
def pair(request, tmp_path_factory):
    kind, source = request.param
    if source == "trained":
        directory = TRAINED / kind
    else:
        dtype = source.split("-")[1]
        model = BitAdder(16, dtype=dtype, cell=kind, seed=CELLS.index(kind))
        randomise(model, seed=100 + CELLS.index(kind))
        directory = save_model(model, tmp_path_factory.mktemp(f"{kind}-{dtype}"))
    p = Pair(directory)
    assert p.tf_model.cell_kind == kind and p.np_model.cell == kind
    assert p.tf_model.dtype == ("float32" if source == "trained" else source.split("-")[1])
    return p


def _inputs():
    adv = adversarial_pairs(1000)
    long = random_batch(4, 4999, 3, mixed_density=True).x  # 4 x 5,000 = NUMBA_MIN_STEPS
    assert long.shape[0] * long.shape[1] >= engine.NUMBA_MIN_STEPS
    return {
        "uniform": random_batch(64, 40, 1).x,
        "mixed": random_batch(64, 40, 2, mixed_density=True).x,
        "adversarial": encode_pairs([a for a, _ in adv.values()], [b for _, b in adv.values()]).x,
        "long": long,
    }


INPUTS = _inputs()


@pytest.mark.parametrize("name", list(INPUTS))
def test_logits_and_bits_match_tensorflow(pair, name, monkeypatch):
    x = INPUTS[name]
    expected = pair.tf_logits(name, x)
    m = pair.np_model
    k = step_index(x)

    numpy_loop = m._logits_numpy(k)
    numba_loop = engine.kernels()[m.cell](k, *m._kernel_args())
    for got, what in [(numpy_loop, "numpy loop"), (numba_loop, "numba kernel")]:
        assert got.dtype == np.float32, what
        assert_logits_close(got, expected, f"{what} vs tf on {name}")
    assert_logits_close(numba_loop, numpy_loop, f"numba vs numpy on {name}")

    # the public entry point, on whichever path it picks, and with numba switched off
    public = m.logits(x)
    assert public.dtype == np.float32
    assert_logits_close(public, expected, f"logits() vs tf on {name}")
    monkeypatch.setenv("GRU_TUTORIAL_NO_NUMBA", "1")
    assert_logits_close(m.logits(x), expected, f"logits() without numba vs tf on {name}")
    monkeypatch.delenv("GRU_TUTORIAL_NO_NUMBA")

    # the same bits: exactly, wherever TensorFlow's logit is not within rounding of 0
    # (untrained models have logits of exactly 0, e.g. at the first step of 0 + 0)
    bits = m.predict_bits(x)
    assert bits.dtype == np.uint8 and bits.shape == expected.shape
    clear = np.abs(expected) > RTOL * np.maximum(1.0, np.abs(expected))
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(bits[clear], (expected > 0)[clear])
    if pair.dir.parent == TRAINED and x.shape[1] < 1025:  # Keras's own bits (no XLA here)
        np.testing.assert_array_equal(bits, pair.tf_model.predict_bits(x))


def test_trained_models_have_margins_and_make_the_test_meaningful(pair):
    """The comparison above is only as strong as the logits are varied: make sure they are."""
    expected = pair.tf_logits("mixed", INPUTS["mixed"])
    bits = expected > 0
    assert 0.2 < bits.mean() < 0.8
    assert np.std(expected) > 0.1


def test_float64_model_runs_in_float32(tmp_path):
    model = BitAdder(16, dtype="float64", cell="gru", seed=0)
    randomise(model, seed=1)
    save_model(model, tmp_path)
    m = engine.load(tmp_path)
    assert json.loads((tmp_path / CONFIG_NAME).read_text())["model"]["dtype"] == "float64"
    assert all(w.dtype == np.float32 for w in m.weights.values())
    assert m.table.dtype == np.float32 and m.U.dtype == np.float32
    x = INPUTS["mixed"][:4]
    assert m.logits(x).dtype == np.float32
    # the float32 weights are the float64 ones rounded
    np.testing.assert_array_equal(m.weights["U_h"], model.cell.U_h.numpy().astype(np.float32))


# -- which loop runs ---------------------------------------------------------------------


@pytest.fixture
def bundled():
    return engine.load_pretrained()


def spy_kernels(monkeypatch):
    calls = []
    real = engine.kernels

    def spy():
        calls.append(1)
        return real()

    monkeypatch.setattr(engine, "kernels", spy)
    return calls


def test_numba_runs_from_numba_min_steps(bundled, monkeypatch):
    assert engine.have_numba()
    monkeypatch.delenv("GRU_TUTORIAL_NO_NUMBA", raising=False)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (2, engine.NUMBA_MIN_STEPS // 2, 2)).astype(np.uint8)
    k = step_index(x)
    numpy_loop = bundled._logits_numpy(k)
    numba_loop = engine.kernels()[bundled.cell](k, *bundled._kernel_args())
    assert not np.array_equal(numpy_loop, numba_loop)  # else this test could not tell them apart

    calls = spy_kernels(monkeypatch)
    np.testing.assert_array_equal(bundled.logits(x), numba_loop)
    assert calls
    calls.clear()
    np.testing.assert_array_equal(bundled.logits(x[:, :-1]), numpy_loop[:, :-1])  # one step short
    assert not calls


@pytest.mark.parametrize("value", ["1", "yes"])
def test_env_switches_numba_off(bundled, monkeypatch, value):
    monkeypatch.setenv("GRU_TUTORIAL_NO_NUMBA", value)
    assert not engine.have_numba()
    monkeypatch.setattr(engine, "kernels", lambda: pytest.fail("numba used despite the env"))
    x = np.random.default_rng(1).integers(0, 2, (1, engine.NUMBA_MIN_STEPS + 5, 2))
    np.testing.assert_array_equal(bundled.logits(x), bundled._logits_numpy(step_index(x)))


def test_without_numba_installed_the_numpy_loop_runs(bundled, monkeypatch):
    monkeypatch.delenv("GRU_TUTORIAL_NO_NUMBA", raising=False)
    monkeypatch.setitem(sys.modules, "numba", None)  # find_spec -> None: as if not installed
    assert not engine.have_numba()
    monkeypatch.setattr(engine, "kernels", lambda: pytest.fail("numba used though missing"))
    a = 2**25_000 - 1
    assert bundled.add(a, 1) == a + 1


@pytest.mark.xfail(strict=True, reason="bug: engine.have_numba() only checks find_spec, so a "
                   "numba that is installed but fails to import (e.g. built for another NumPy) "
                   "makes long additions raise ImportError instead of using the NumPy loop")
def test_numba_that_fails_to_import_falls_back_to_numpy(tmp_path):
    broken = tmp_path / "numba"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('Numba needs NumPy 1.x')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT / "src")]))
    env.pop("GRU_TUTORIAL_NO_NUMBA", None)
    code = "from gru_tutorial import engine; print(engine.load_pretrained().add(2**30000 - 1, 1)" \
           " == 2**30000)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "True\n", proc.stderr[-500:]


# -- add and add_many: the same integers as Keras ----------------------------------------

EDGE_PAIRS = [
    (0, 0), (0, 1), (1, 0), (1, 1), (2, 2),
    *[(2**k - 1, 1) for k in (1, 2, 7, 8, 31, 32, 63, 64, 100, 1000, 1024, 3000)],
    (1, 2**3000 - 1), (2**3000 - 1, 2**3000 - 1), (2**3000 - 1, 0),
    (2**500 + 12345, 3), (7, 3**600), (2**2999, 2**2999), (1, 2**64),
    (3**1800, 5**1200), (10**1200 - 1, 10**900 + 7),
]
assert max(max(a, b) for a, b in EDGE_PAIRS).bit_length() < 4096  # one XLA bucket per model

ADD_MODELS = ["bundled", *CELLS]


@pytest.mark.parametrize("which", ADD_MODELS)
def test_add_gives_the_same_integers_as_keras(which):
    if which == "bundled":
        tf_model, np_model = load_pretrained(), engine.load_pretrained()
    else:
        tf_model, np_model = load_model(TRAINED / which), engine.load(TRAINED / which)
    a = [p for p, _ in EDGE_PAIRS]
    b = [q for _, q in EDGE_PAIRS]
    for p, q in EDGE_PAIRS:
        assert np_model.add(p, q) == tf_model.add(p, q), (which, p.bit_length(), q.bit_length())
    assert np_model.add_many(a, b) == tf_model.add_many(a, b)
    if which == "bundled":
        assert np_model.add_many(a, b) == [p + q for p, q in EDGE_PAIRS]


def test_bundled_model_adds_exactly(bundled):
    rng = np.random.default_rng(7)
    cases = [(0, 0), (2**100_000 - 1, 1), (1, 2**100_000 - 1), (2**99_999, 2**99_999),
             (10**20_000, 10**20_000 - 1)]
    cases += [(int(rng.integers(1, 2**62)) ** 50, int(rng.integers(1, 2**62)) ** 37)
              for _ in range(5)]
    for a, b in cases:
        assert bundled.add(a, b) == a + b
    assert bundled.add_many([a for a, _ in cases], [b for _, b in cases]) == \
        [a + b for a, b in cases]
    assert bundled.add(np.int64(5), np.uint8(7)) == 12  # NumPy integers are integers too
    assert bundled.add_many([], []) == []


@settings(max_examples=60, deadline=None)
@given(a=st.integers(0, 2**300), b=st.integers(0, 2**300))
def test_bundled_model_adds_any_pair(a, b):
    assert engine.load_pretrained().add(a, b) == a + b


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, name", [
    (-1, 2, "a"), (2, -1, "b"), (1.0, 2, "a"), (2, 2.5, "b"), (True, 2, "a"), (2, False, "b"),
    ("5", 2, "a"), (2, "7", "b"), (None, 2, "a"), (2, np.float64(3.0), "b"), (2, np.bool_(1), "b"),
    (-(2**3000), 1, "a"),
])
def test_add_refuses_non_operands(bundled, a, b, name):
    with pytest.raises(BitsError) as info:
        bundled.add(a, b)
    assert isinstance(info.value, ArgumentError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{name} must be")


def test_add_many_refuses_bad_operands(bundled):
    with pytest.raises(ArgumentError, match="same length"):
        bundled.add_many([1, 2], [3])
    with pytest.raises(ArgumentError, match="same length"):
        bundled.add_many([], [3])
    with pytest.raises(BitsError, match="^b must"):
        bundled.add_many([1, 2], [3, -4])
    with pytest.raises(BitsError, match="^a must"):
        bundled.add_many([1, 2.0], [3, 4])


def test_add_refuses_sums_above_the_step_limit_before_allocating(bundled):
    with pytest.raises(ArgumentError, match="limit"):
        bundled.add(1 << MAX_STEPS, 0)
    with pytest.raises(ArgumentError, match="limit"):
        bundled.add_many([1 << (MAX_STEPS // 4)] * 4, [0] * 4)


@pytest.mark.parametrize("shape", [(5, 2), (1, 5, 3), (1, 5, 1), (0, 5, 2), (1, 0, 2),
                                   (1, 1, 5, 2), (2,), ()])
def test_logits_refuses_wrong_shapes(bundled, shape):
    with pytest.raises(ArgumentError, match="shape"):
        bundled.logits(np.zeros(shape, np.float32))
    with pytest.raises(ArgumentError, match="shape"):
        bundled.predict_bits(np.zeros(shape, np.float32))


def test_logits_refuses_too_many_steps_before_allocating(bundled):
    x = np.broadcast_to(np.zeros((1, 1, 2), np.uint8), (1, MAX_STEPS + 1, 2))  # a view, no memory
    with pytest.raises(ArgumentError, match="limit"):
        bundled.logits(x)


def test_numpy_adder_refuses_unknown_cell(bundled):
    with pytest.raises(ArgumentError, match="cell"):
        engine.NumpyAdder("transformer", bundled.weights)


# -- load: bad model directories -----------------------------------------------------------


def copy_model(kind, dest, weights_of=None):
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(TRAINED / kind / CONFIG_NAME, dest / CONFIG_NAME)
    shutil.copy(TRAINED / (weights_of or kind) / WEIGHTS_NAME, dest / WEIGHTS_NAME)
    return dest


def test_load_reads_every_kind(tmp_path):
    for kind in CELLS:
        m = engine.load(copy_model(kind, tmp_path / kind))
        assert m.cell == kind and m.units == 16
        assert m.info["cell"] == kind


def test_load_missing_directory(tmp_path):
    with pytest.raises(ModelFileError, match="nope"):
        engine.load(tmp_path / "nope")


def test_load_missing_config(tmp_path):
    copy_model("gru", tmp_path)
    (tmp_path / CONFIG_NAME).unlink()
    with pytest.raises(ModelFileError, match=CONFIG_NAME):
        engine.load(tmp_path)


def test_load_missing_weights(tmp_path):
    copy_model("gru", tmp_path)
    (tmp_path / WEIGHTS_NAME).unlink()
    with pytest.raises(ModelFileError, match="missing"):
        engine.load(tmp_path)
    (tmp_path / WEIGHTS_NAME).mkdir()  # a directory where the file should be
    with pytest.raises(ModelFileError, match="missing"):
        engine.load(tmp_path)


@pytest.mark.parametrize("corruption", ["garbage", "empty", "truncated", "not-keras"])
def test_load_corrupt_weights(tmp_path, corruption):
    copy_model("lstm", tmp_path)
    path = tmp_path / WEIGHTS_NAME
    if corruption == "garbage":
        path.write_bytes(b"this is not an HDF5 file\n" * 100)
    elif corruption == "empty":
        path.write_bytes(b"")
    elif corruption == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        import h5py

        path.unlink()
        with h5py.File(path, "w") as f:
            f.create_dataset("something", data=np.zeros(3))
    with pytest.raises(ModelFileError, match=WEIGHTS_NAME):
        engine.load(tmp_path)


@pytest.mark.parametrize("config_kind, weights_kind",
                         [(c, w) for c in CELLS for w in CELLS if c != w])
def test_load_refuses_weights_of_another_cell(tmp_path, config_kind, weights_kind):
    copy_model(config_kind, tmp_path, weights_of=weights_kind)
    with pytest.raises(ModelFileError, match="does not match"):
        engine.load(tmp_path)


def test_load_refuses_weights_of_another_size(tmp_path):
    copy_model("gru", tmp_path)
    config = json.loads((tmp_path / CONFIG_NAME).read_text())
    config["model"]["units"] = 4
    (tmp_path / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="does not match"):
        engine.load(tmp_path)


def test_load_refuses_config_without_cell_for_non_gru_weights(tmp_path):
    copy_model("lstm", tmp_path)
    config = json.loads((tmp_path / CONFIG_NAME).read_text())
    del config["model"]["cell"]  # old configs have no cell: they mean a GRU
    (tmp_path / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="does not match"):
        engine.load(tmp_path)


# -- no TensorFlow ---------------------------------------------------------------------

NO_TF = """
import sys
{body}
heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print("HEAVY", heavy, file=sys.stderr)
assert not heavy, heavy
"""


def run_python(body, timeout=120):
    env = dict(os.environ)
    env.pop("GRU_TUTORIAL_NO_NUMBA", None)
    code = NO_TF.format(body=textwrap.dedent(body))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_engine_add_imports_neither_tensorflow_nor_keras():
    proc = run_python("""
        import gru_tutorial.engine as e
        print(e.load_pretrained().add(5, 7))
        assert "numba" not in sys.modules  # short sums do not pay for numba either
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "12\n"
    assert "HEAVY []" in proc.stderr


def test_cli_add_imports_neither_tensorflow_nor_keras():
    proc = run_python("""
        from gru_tutorial.cli import main
        assert main(["add", "5", "7"]) == 0
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "12\n"
    assert "HEAVY []" in proc.stderr


@pytest.mark.parametrize("argv", [["--help"], ["add", "--help"], ["eval", "--help"]])
def test_cli_help_imports_neither_tensorflow_nor_keras(argv):
    proc = run_python(f"""
        from gru_tutorial.cli import main
        try:
            main({argv!r})
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        else:
            raise AssertionError("--help did not exit")
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: gru-tutorial" in proc.stdout
    assert "HEAVY []" in proc.stderr


def test_the_no_tensorflow_check_can_fail():
    proc = run_python("import gru_tutorial.model")
    assert proc.returncode != 0 and "tensorflow" in proc.stderr
