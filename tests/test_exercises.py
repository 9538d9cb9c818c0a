"""The exercise checkers accept correct code and reject planted bugs, pointing at the right case."""

import math

import numpy as np
import pytest
import tensorflow as tf

import gru_tutorial as gt
from gru_tutorial import exercises
from gru_tutorial.cell import GRUCell
from gru_tutorial.exercises import CaseResult, CheckReport, check_gru_run, check_gru_step

SHUT, CLOSED, OPEN, BETWEEN, RANDOM_1, RANDOM_6 = (c.name for c in exercises._STEP_CASES)


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def make_step(candidate="reset before", mix="ours", squash=np.tanh):
    """A NumPy GRU step, written independently of the package, with optional planted bugs."""

    def step(x_t, h, W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h):
        z = sigmoid(x_t @ W_z + h @ U_z + b_z)
        r = sigmoid(x_t @ W_r + h @ U_r + b_r)
        recurrent = {"reset before": (r * h) @ U_h,
                     "reset after": r * (h @ U_h),
                     "no reset gate": h @ U_h}[candidate]
        h_tilde = squash(x_t @ W_h + recurrent + b_h)
        return (1 - z) * h + z * h_tilde if mix == "ours" else z * h + (1 - z) * h_tilde

    return step


def package_step(x_t, h, W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h):
    """The package's own step, loaded with the given weights (returns a tensor)."""
    cell = GRUCell(h.shape[1], x_t.shape[1], dtype="float64")
    for name, value in zip(("W_z", "U_z", "b_z", "W_r", "U_r", "b_r", "W_h", "U_h", "b_h"),
                           (W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h), strict=True):
        getattr(cell, name).assign(value)
    return cell.step(tf.constant(x_t), tf.constant(h))


def failed(report):
    return set(report.failed)


# -- check_gru_step ----------------------------------------------------------------

@pytest.mark.parametrize("fn", [make_step(), package_step], ids=["numpy", "package"])
def test_step_accepts_correct_implementations(fn):
    report = check_gru_step(fn)
    assert report.passed, str(report)
    assert len(report.cases) == 6
    assert all(c.max_diff <= c.tol == 1e-9 for c in report.cases)
    assert "PASSED" in str(report) and "FAIL" not in str(report)


def test_step_rejects_missing_reset_gate():
    report = check_gru_step(make_step(candidate="no reset gate"))
    assert not report.passed
    # r = 1 hides the bug; r = 0 exposes it, and the hint names the reset gate
    assert {SHUT, OPEN}.isdisjoint(failed(report))
    assert CLOSED in failed(report)
    closed = next(c for c in report.cases if c.name == CLOSED)
    assert "reset" in closed.hint and closed.max_diff > 0.1


def test_step_rejects_reset_after():
    report = check_gru_step(make_step(candidate="reset after"))
    assert failed(report) == {BETWEEN, RANDOM_1, RANDOM_6}  # the two readings agree at r = 0, 1
    between = next(c for c in report.cases if c.name == BETWEEN)
    assert "before the product with U_h" in between.hint


def test_step_rejects_z_on_the_wrong_side():
    report = check_gru_step(make_step(mix="keras"))
    assert SHUT in failed(report)
    shut = next(c for c in report.cases if c.name == SHUT)
    assert "(1 - z_t) multiplies the old state" in shut.hint
    # the later cases point back at the first failure instead of at their own equation
    closed = next(c for c in report.cases if c.name == CLOSED)
    assert closed.hint == exercises._STEP_LATER_HINT
    assert str(report).count("hint:") == 2


def test_step_rejects_sigmoid_for_tanh():
    report = check_gru_step(make_step(squash=sigmoid))
    assert SHUT not in failed(report)  # the candidate does not matter when z = 0
    assert {CLOSED, OPEN, BETWEEN} <= failed(report)
    assert "tanh" in next(c for c in report.cases if c.name == CLOSED).hint


def test_step_rejects_a_function_that_raises_without_a_traceback():
    def broken(*args):
        raise ValueError("shapes do not fit\nsecond line")

    report = check_gru_step(broken)
    assert not report.passed and len(report.failed) == 6
    assert all(c.message == "raised ValueError: shapes do not fit second line"
               for c in report.cases)
    assert all(math.isnan(c.max_diff) for c in report.cases)
    text = str(report)
    assert "Traceback" not in text
    assert text.count("hint:") == 1  # the same hint is printed once


@pytest.mark.parametrize("bad", [lambda x_t, h, *w: h.T, lambda x_t, h, *w: h[0],
                                 lambda x_t, h, *w: np.stack([h, h])],
                         ids=["transposed", "one row", "extra axis"])
def test_step_rejects_wrong_shapes(bad):
    report = check_gru_step(bad)
    assert not report.passed and len(report.failed) == 6
    assert all(c.message.startswith("returned shape") for c in report.cases)


def test_step_rejects_none_and_non_arrays():
    assert not check_gru_step(lambda *a: None).passed
    report = check_gru_step(lambda *a: "h")
    assert not report.passed and "not an array" in report.cases[0].message


def test_step_rejects_nan():
    assert not check_gru_step(lambda x_t, h, *w: np.full_like(h, np.nan)).passed


def test_step_rejects_a_tiny_error():
    good = make_step()
    report = check_gru_step(lambda *a: good(*a) + 1e-7)
    assert len(report.failed) == 6


def test_step_does_not_let_fn_change_its_reference():
    def mutating(x_t, h, *weights):
        out = make_step()(x_t, h, *weights)
        h[:] = 0.0
        for w in weights:
            w[...] = 0.0
        return out

    assert check_gru_step(mutating).passed


# -- check_gru_run -----------------------------------------------------------------

def run_scan(cell, x):
    x = tf.convert_to_tensor(x, cell.dtype)
    h0 = tf.zeros((tf.shape(x)[0], cell.units), cell.dtype)
    hs = tf.scan(lambda h, x_t: cell.step(x_t, h), tf.transpose(x, [1, 0, 2]), initializer=h0)
    return tf.transpose(hs, [1, 0, 2])


def run_python_loop(cell, x):
    h = np.zeros((x.shape[0], cell.units))
    states = []
    for t in range(x.shape[1]):
        h = cell.step(x[:, t, :], h)
        states.append(h)
    return np.stack(states, axis=1)


@pytest.mark.parametrize("fn", [run_scan, run_python_loop, lambda cell, x: cell.run_stepwise(x)],
                         ids=["scan", "python loop", "package"])
def test_run_accepts_correct_implementations(fn):
    report = check_gru_run(fn)
    assert report.passed, str(report)
    assert {c.tol for c in report.cases} == {1e-5, 1e-9}


def test_run_rejects_scan_without_transpose():
    def no_transpose(cell, x):
        h0 = tf.zeros((tf.shape(x)[0], cell.units), cell.dtype)
        return tf.scan(lambda h, x_t: cell.step(x_t, h), x, initializer=h0)

    report = check_gru_run(no_transpose)
    assert len(report.failed) == len(report.cases)
    same = next(c for c in report.cases if c.name.startswith("batch 4 = time 4"))
    assert same.message == "" and same.max_diff > 0.01  # runs, but computes the wrong thing
    assert "batch axis" in same.hint and "time-major" in same.hint
    assert "Traceback" not in str(report)


def test_run_rejects_last_state_only():
    report = check_gru_run(lambda cell, x: run_scan(cell, x)[:, -1])
    assert len(report.failed) == len(report.cases)
    assert "every state" in report.cases[0].hint


def test_run_rejects_time_major_output():
    report = check_gru_run(lambda cell, x: tf.transpose(run_scan(cell, x), [1, 0, 2]))
    assert not report.passed
    assert "transpose them back" in report.cases[0].hint


def test_run_rejects_states_before_each_step():
    def shifted(cell, x):  # h_0 .. h_{T-1} instead of h_1 .. h_T
        hs = run_scan(cell, x)
        return tf.concat([tf.zeros_like(hs[:, :1]), hs[:, :-1]], axis=1)

    report = check_gru_run(shifted)
    assert any(c.name.startswith("time 1") for c in report.cases if not c.passed)


def test_run_rejects_float32_arithmetic_on_float64_cells():
    def in_float32(cell, x):
        if cell.dtype == "float32":
            return run_scan(cell, x)
        cell32 = GRUCell(cell.units, cell.input_dim, dtype="float32")
        for w32, w in zip(cell32.weights, cell.weights, strict=True):
            w32.assign(tf.cast(w, tf.float32))
        return run_scan(cell32, tf.cast(x, tf.float32))

    report = check_gru_run(in_float32)
    assert {c.name for c in report.cases if not c.passed} == {
        c.name for c in report.cases if c.tol == 1e-9}


def test_run_rejects_a_function_that_raises():
    def broken(cell, x):
        raise RuntimeError("no")

    report = check_gru_run(broken)
    assert not report.passed
    assert all(c.message == "raised RuntimeError: no" for c in report.cases)


# -- the report and the package exports ---------------------------------------------

def test_report_text_has_one_line_per_case_and_a_summary():
    cases = (CaseResult("a", True, 1e-17, 1e-9), CaseResult("bb", False, 0.5, 1e-9, hint="look"))
    report = CheckReport("title", cases)
    assert not report.passed and report.failed == ["bb"]
    assert str(report).splitlines() == [
        "title",
        "ok    a   max |difference| < 1e-09",
        "FAIL  bb  max |difference| = 0.5",
        "      hint: look",
        "FAILED: 1 of 2 cases. Start with the first failing case.",
    ]
    assert not CheckReport("empty", ()).passed


def test_exported_lazily_from_the_package():
    assert gt.check_gru_step is check_gru_step
    assert gt.check_gru_run is check_gru_run
    assert gt.CheckReport is CheckReport
    for name in ("check_gru_step", "check_gru_run", "CheckReport"):
        assert name in gt.__all__
    for fn in (check_gru_step, check_gru_run, CheckReport, CaseResult):
        assert "Explained in the chapter" in fn.__doc__
