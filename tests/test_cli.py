import io
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gru_tutorial.cli import main
from gru_tutorial.evaluate import evaluate
from gru_tutorial.model import BitAdder
from gru_tutorial.saving import CONFIG_NAME, WEIGHTS_NAME, load_model, save_model

BIG_A, BIG_B = 123456789123456789, 987654321987654321


def run(argv, capsys):
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse exits on bad input and --help
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_usage_error(argv, capsys):
    status, out, err = run(argv, capsys)
    assert status == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "error" in err
    return err


def test_add_prints_exact_sum(capsys):
    status, out, err = run(["add", str(BIG_A), str(BIG_B)], capsys)
    assert status == 0
    assert out == f"{BIG_A + BIG_B}\n"
    assert out.strip() == "1111111111111111110"


def test_add_long_operands(capsys):
    a, b = 2**1500 - 1, 3**700
    status, out, _ = run(["add", str(a), str(b)], capsys)
    assert status == 0 and int(out) == a + b


@pytest.mark.parametrize("argv", [
    ["add", "-5", "3"], ["add", "3", "-5"], ["add", "1.5", "2"], ["add", "abc", "2"],
    ["add", "2", "0x10"], ["add", "1e3", "2"], ["add", "", "2"], ["add", "1"], ["add"],
    [], ["bogus"], ["add", "1", "2", "3"], ["train", "--recipe", "nope"],
    ["train", "--seed", "-1"], ["train", "--max-steps", "0"],
    ["eval", "--bits", "0"], ["eval", "--count", "-1"], ["eval", "--count", "0"],
    ["eval", "--bits", "ten"], ["eval", "--seed", "1.5"],
])
def test_bad_input_is_one_line_on_stderr(argv, capsys):
    assert_usage_error(argv, capsys)


def test_bad_operand_message_names_the_value(capsys):
    err = assert_usage_error(["add", "abc", "2"], capsys)
    assert "'abc'" in err


def test_eval_missing_model(capsys, tmp_path):
    missing = tmp_path / "nonexistent"
    err = assert_usage_error(["eval", "--model", str(missing)], capsys)
    assert str(missing) in err
    err = assert_usage_error(["add", "1", "2", "--model", str(missing)], capsys)
    assert str(missing) in err


def test_corrupt_model_dir(capsys, tmp_path):
    (tmp_path / CONFIG_NAME).write_text("{broken")
    err = assert_usage_error(["eval", "--model", str(tmp_path)], capsys)
    assert CONFIG_NAME in err


@pytest.mark.parametrize("command", [[], ["add"], ["train"], ["eval"]])
def test_help(command, capsys):
    status, out, err = run([*command, "--help"], capsys)
    assert status == 0
    assert "examples" in out
    assert "usage:" in out
    assert err == ""


def test_eval_json(capsys, pretrained):
    status, out, err = run(["eval", "--json", "--bits", "50", "--count", "20"], capsys)
    assert status == 0
    assert out.count("\n") == 1
    result = json.loads(out)
    assert set(result) == {"exact_accuracy", "bit_accuracy", "bits", "count"}
    assert result["bits"] == 50 and result["count"] == 20
    assert result == evaluate(pretrained, bits=50, count=20, seed=0).to_dict()
    assert result["exact_accuracy"] == 1.0


def test_eval_text(capsys):
    status, out, _ = run(["eval", "--bits", "30", "--count", "10", "--seed", "3"], capsys)
    assert status == 0
    assert "10 random sums of two 30-bit numbers" in out
    assert "exact accuracy 1.0000" in out


@pytest.mark.slow
def test_train_json_then_use_the_model(capsys, tmp_path):
    out_dir = tmp_path / "trained"
    status, out, err = run(["train", "--quiet", "--json", "--recipe", "seed", "--seed", "2",
                            "--max-steps", "4", "--out", str(out_dir)], capsys)
    assert status == 1  # saved, but not exact after 4 steps: the stopping rule is not met
    assert out.count("\n") == 1
    result = json.loads(out)
    assert {"iterations", "seconds", "exact_accuracy"} <= set(result)
    assert result["iterations"] == 4
    assert result["seconds"] > 0
    assert 0.0 <= result["exact_accuracy"] < 1.0
    assert result["converged"] is False and result["exact"] is False
    assert err.count("\n") == 1 and str(out_dir) in err
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME])
    config = json.loads((out_dir / CONFIG_NAME).read_text())
    assert config["info"]["recipe"] == "seed" and config["info"]["seed"] == 2
    assert config["info"]["iterations"] == 4
    model = load_model(out_dir)
    assert model.get_config() == {"units": 16, "dtype": "float64", "init": "seed",
                                  "cell": "gru", "readout": "linear"}
    # the saved model is usable from the command line
    status, out, _ = run(["eval", "--json", "--model", str(out_dir), "--bits", "4",
                          "--count", "10"], capsys)
    assert status == 0 and json.loads(out)["bits"] == 4
    status, out, _ = run(["add", "3", "4", "--model", str(out_dir)], capsys)
    assert status == 0 and int(out) == model.add(3, 4)


def test_add_and_eval_use_the_given_model(capsys, tmp_path):
    # a model whose readout always says 0: the CLI must report its (wrong) answers
    broken = BitAdder(units=4, seed=0)
    broken.V.assign(np.zeros(broken.V.shape, np.float32))
    broken.c.assign(-np.ones(broken.c.shape, np.float32))
    save_model(broken, tmp_path / "broken")
    status, out, _ = run(["add", "3", "4", "--model", str(tmp_path / "broken")], capsys)
    assert status == 0 and out == "0\n"
    status, out, _ = run(["eval", "--json", "--model", str(tmp_path / "broken"), "--bits", "10",
                          "--count", "20"], capsys)
    assert status == 0
    assert json.loads(out)["exact_accuracy"] < 0.5


@pytest.mark.slow
def test_train_text_output(capsys, tmp_path):
    out_dir = tmp_path / "m"
    status, out, err = run(["train", "--quiet", "--recipe", "seed", "--max-steps", "2",
                            "--out", str(out_dir)], capsys)
    assert status == 1
    assert "not exact after 2 iterations" in out
    assert f"saved model to {out_dir}" in out
    assert "not exact" in err and str(out_dir) in err and err.count("\n") == 1
    assert (out_dir / WEIGHTS_NAME).is_file()


CPP_LOG = [
    re.compile(r"^[IWEF]\d{4} "),  # absl: I0000 00:00:... file.cc:123] ...
    re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "),  # older TF logging
    re.compile(r"absl::InitializeLog|cpu_feature_guard|oneDNN custom operations|\.cc:\d+\]"),
]


def quiet_env():
    """The caller's environment minus the variables the package sets to silence TF."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    return env


def assert_no_cpp_logs(stderr):
    for line in stderr.splitlines():
        assert not any(p.search(line) for p in CPP_LOG), line


def test_console_script(tmp_path):
    script = Path(sys.executable).parent / "gru-tutorial"
    assert script.exists()
    proc = subprocess.run([str(script), "add", str(BIG_A), str(BIG_B)], capture_output=True,
                          text=True, env=quiet_env(), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{BIG_A + BIG_B}\n"
    assert_no_cpp_logs(proc.stderr)


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gru_tutorial", "eval", "--json", "--bits", "8",
                           "--count", "5"], capture_output=True, text=True, env=quiet_env(),
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["bits"] == 8 and result["count"] == 5
    assert_no_cpp_logs(proc.stderr)


def test_train_out_is_a_file(capsys, tmp_path):
    target = tmp_path / "a_file"
    target.write_text("not a directory")
    err = assert_usage_error(["train", "--quiet", "--max-steps", "1", "--out", str(target)],
                             capsys)
    assert str(target) in err
    assert target.read_text() == "not a directory"


# -- sizes are checked before anything is allocated ----------------------------------


@pytest.mark.parametrize("argv", [
    ["eval", "--bits", "100000000000"], ["eval", "--count", "100000", "--bits", "100000"],
    ["eval", "--count", str(10**40)], ["train", "--seed", "1" + "0" * 5000, "--max-steps", "0"],
])
def test_sizes_beyond_the_limit_are_one_line(argv, capsys):
    err = assert_usage_error(argv, capsys)
    assert "limit" in err or "integer" in err


def test_huge_units_in_a_model_file(capsys, tmp_path):
    model = BitAdder(units=3, seed=0)
    save_model(model, tmp_path)
    config = json.loads((tmp_path / CONFIG_NAME).read_text())
    config["model"]["units"] = 10**12
    (tmp_path / CONFIG_NAME).write_text(json.dumps(config))
    err = assert_usage_error(["add", "1", "2", "--model", str(tmp_path)], capsys)
    assert "units" in err


# -- any argument list: exit 0, 1 or 2, never a traceback ----------------------------

_TOKENS = ["add", "train", "eval", "--model", "--bits", "--count", "--seed", "--json", "--out",
           "--recipe", "--max-steps", "--quiet", "fast", "seed", "-h", "--", "-", "0", "1", "7",
           "-3", "1.5", "1e3", "0x1F", " 12 ", "", "²", "٣", "99999999999999999999",
           "nan", "gru-model", "--bits=3", "--count=2", "--cell", "lstm", "rnn", "GRU",
           "--force", "--version", "--engine", "tf"]


@pytest.fixture
def quick_commands(monkeypatch, tmp_path, pretrained):
    """Fast stand-ins for training and evaluation (the property is about the command line)."""
    import gru_tutorial.evaluate
    import gru_tutorial.train
    from gru_tutorial.evaluate import EvalResult
    from gru_tutorial.recipes import CELLS
    from gru_tutorial.train import RECIPES, History, TrainResult

    def fake_train(recipe, seed=0, max_steps=None, cell=None, progress=True):
        assert recipe in RECIPES and seed >= 0 and (max_steps is None or max_steps >= 1)
        assert cell is None or cell in CELLS
        return TrainResult(pretrained, RECIPES[recipe], seed, 1, 0.0, True, {}, History())

    def fake_evaluate(model, bits, count, seed):
        assert bits >= 1 and count >= 1 and seed >= 0
        return EvalResult(1.0, 1.0, bits, count)

    monkeypatch.setattr(gru_tutorial.train, "train", fake_train)
    monkeypatch.setattr(gru_tutorial.evaluate, "evaluate", fake_evaluate)
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.one_of(st.sampled_from(_TOKENS), st.text(max_size=8)), max_size=7))
def test_any_arguments_exit_cleanly(argv, quick_commands, capsys):
    status, out, err = run(argv, capsys)
    assert status in (0, 1, 2), (argv, status, err)
    assert "Traceback" not in err and "Traceback" not in out
    if status == 2:
        assert err.count("\n") == 1, err


# -- --version ---------------------------------------------------------------------------


def test_version(capsys):
    from gru_tutorial import __version__

    status, out, err = run(["--version"], capsys)
    assert (status, out, err) == (0, f"gru-tutorial {__version__}\n", "")
    assert __version__ == "0.1.0"
    status, out, _ = run(["--help"], capsys)
    assert "--version" in out


# -- train: --out is checked before training; exit 1 when not exact; --force ---------------


@pytest.fixture
def no_training(monkeypatch):
    """Fail if the command gets as far as training (or importing TensorFlow to train)."""
    def fail(*args, **kwargs):
        pytest.fail("trained although --out was refused")

    monkeypatch.setitem(sys.modules, "gru_tutorial.train", types.SimpleNamespace(train=fail))


def saved_model_files(directory):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_NAME).write_text("{}")
    (directory / WEIGHTS_NAME).write_bytes(b"old weights")


@pytest.mark.parametrize("make, out, expected", [
    (None, "/dev/null/x", "/dev/null is not a directory"),
    ("file", "{tmp}/a_file", "exists and is not a directory"),
    ("file", "{tmp}/a_file/sub/model", "a_file is not a directory"),
    ("model", "{tmp}/old-model", "already holds a saved model: use --force"),
    ("other", "{tmp}/notes", "non-empty directory: use --force"),
])
def test_train_refuses_a_bad_out_before_training(capsys, tmp_path, no_training, make, out,
                                                 expected):
    out = out.format(tmp=tmp_path)
    if make == "file":
        (tmp_path / "a_file").write_text("keep me")
    elif make == "model":
        saved_model_files(Path(out))
    elif make == "other":
        Path(out).mkdir()
        (Path(out) / "notes.txt").write_text("keep me")
    err = assert_usage_error(["train", "--quiet", "--out", out], capsys)
    assert expected in err and out in err
    assert err.startswith("gru-tutorial train: error: --out")
    if make == "model":
        assert (Path(out) / WEIGHTS_NAME).read_bytes() == b"old weights"


def test_train_help_shows_force(capsys):
    status, out, _ = run(["train", "--help"], capsys)
    assert status == 0 and "--force" in out


def not_exact_result(pretrained, converged, recipe="fast"):
    from gru_tutorial.evaluate import EvalResult
    from gru_tutorial.train import RECIPES, History, TrainResult

    evaluation = {20: EvalResult(1.0, 1.0, 20, 1000),
                  1000: EvalResult(1.0 if converged else 0.25, 0.99, 1000, 1000)}
    return TrainResult(pretrained, RECIPES[recipe], 0, 7, 0.5, converged, evaluation, History(),
                       converged_at=5 if converged else None)


@pytest.fixture
def fake_train(monkeypatch, pretrained):
    """train() returns at once: a result whose `converged` the test sets."""
    import gru_tutorial.train

    outcome = {"converged": True}
    monkeypatch.setattr(gru_tutorial.train, "train", lambda *a, **k: not_exact_result(
        pretrained, outcome["converged"]))
    return outcome


@pytest.mark.parametrize("as_json", [False, True])
def test_train_that_is_not_exact_exits_1(capsys, tmp_path, fake_train, as_json):
    fake_train["converged"] = False
    out_dir = tmp_path / "unfinished"
    status, out, err = run(["train", "--quiet", "--out", str(out_dir),
                            *(["--json"] if as_json else [])], capsys)
    assert status == 1
    assert err.count("\n") == 1 and "not exact" in err and str(out_dir) in err
    assert (out_dir / WEIGHTS_NAME).is_file()  # saved all the same, and it says where
    if as_json:
        result = json.loads(out)
        assert result["exact"] is False and result["converged"] is False
        assert result["out"] == str(out_dir)
    else:
        assert "not exact after 7 iterations" in out and f"saved model to {out_dir}" in out


def test_train_that_is_exact_exits_0(capsys, tmp_path, fake_train):
    status, out, err = run(["train", "--quiet", "--json", "--out", str(tmp_path / "m")], capsys)
    assert (status, err) == (0, "")
    assert json.loads(out)["exact"] is True


def test_train_force_overwrites_a_saved_model(capsys, tmp_path, fake_train):
    out_dir = tmp_path / "old-model"
    saved_model_files(out_dir)
    assert_usage_error(["train", "--quiet", "--out", str(out_dir)], capsys)
    status, out, err = run(["train", "--quiet", "--force", "--out", str(out_dir)], capsys)
    assert (status, err) == (0, "")
    assert (out_dir / WEIGHTS_NAME).read_bytes() != b"old weights"
    assert json.loads((out_dir / CONFIG_NAME).read_text())["info"]["iterations"] == 7


@pytest.mark.parametrize("out", ["new/deeper/model", "empty-dir"])
def test_train_out_new_or_empty_is_fine(capsys, tmp_path, fake_train, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty-dir").mkdir()
    status, _, err = run(["train", "--quiet", "--out", out], capsys)
    assert (status, err) == (0, "")
    assert sorted(p.name for p in (tmp_path / out).iterdir()) == sorted([CONFIG_NAME,
                                                                        WEIGHTS_NAME])


# -- a closed pipe: exit quietly, as Unix tools do ------------------------------------------


@pytest.mark.slow
def test_closed_pipe_exits_quietly(tmp_path):
    (tmp_path / "a.txt").write_text("9" * 200_000)  # a sum far larger than a pipe's buffer
    script = Path(sys.executable).parent / "gru-tutorial"
    proc = subprocess.Popen([str(script), "add", "@a.txt", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    first = proc.stdout.read(5)  # like `| head -c 5`
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141  # 128 + SIGPIPE, as a shell shows for `yes | head`
    assert first == b"10000"
    assert err == b""


def test_closed_pipe_before_a_short_answer(tmp_path):
    # the answer fits the buffer and is only written when it is flushed
    script = Path(sys.executable).parent / "gru-tutorial"
    proc = subprocess.Popen([str(script), "add", "5", "7"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # long before the answer is ready
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert err == b""


class ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_closed_pipe_in_process(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["add", "5", "7"]) == 141
    assert capsys.readouterr().err == ""
