"""Checkers for the exercises in which you write the GRU yourself.

Explained in the chapters "The GRU equations" (``book/02_gru_equations.ipynb``,
:func:`check_gru_step`) and "The cell in TensorFlow"
(``book/04_cell_in_tensorflow.ipynb``, :func:`check_gru_run`).

Each checker calls your function on a few named cases, compares what it returns
with the package's :class:`~gru_tutorial.cell.GRUCell`, and returns a
:class:`CheckReport`; print it to read the verdict. The step cases pin the gates
at 0 or 1 with large biases, so the pattern of failing cases points at the
equation to fix: with the update gate shut the new state must be the old one,
with it fully open the new state is the candidate, and with the reset gate
closed the candidate must not see the old state at all. A function that raises
or returns the wrong shape fails its case with a one-line message, never a
traceback.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .cell import GRUCell

__all__ = ["CaseResult", "CheckReport", "check_gru_step", "check_gru_run"]

STEP_TOL = 1e-9
"""Largest difference :func:`check_gru_step` accepts (the arithmetic is float64)."""

RUN_TOL = {"float32": 1e-5, "float64": 1e-9}
"""Largest difference :func:`check_gru_run` accepts, per dtype of the cell."""

_PIN = 40.0
"""A gate bias this large pins the sigmoid to 0 or 1 within about 1e-15."""

_SEED = 2017


@dataclass(frozen=True)
class CaseResult:
    """The verdict on one case of a check.

    Explained in the chapters "The GRU equations" and "The cell in TensorFlow".

    Attributes
    ----------
    name : str
        What the case tests.
    passed : bool
        Whether the output matched the package within ``tol``.
    max_diff : float
        Largest absolute difference from the package; ``nan`` when there was
        no output of the right shape to compare.
    tol : float
        The tolerance used.
    message : str
        Why there was nothing to compare (the exception, or the wrong shape);
        empty otherwise.
    hint : str
        Where to look when the case fails; empty when it passes.
    """

    name: str
    passed: bool
    max_diff: float
    tol: float
    message: str = ""
    hint: str = ""

    def line(self, width: int = 0) -> str:
        """One line: pass/fail, the case name and the difference (or the message)."""
        if self.message:
            detail = self.message
        elif self.passed:
            # Rounding-level differences change between CPUs: print the bound, not the digits.
            detail = f"max |difference| < {self.tol:.0e}"
        else:
            detail = f"max |difference| = {self.max_diff:.3g}"
        return f"{'ok  ' if self.passed else 'FAIL'}  {self.name:<{width}}  {detail}"


@dataclass(frozen=True)
class CheckReport:
    """What a checker found: one :class:`CaseResult` per case.

    ``str(report)`` is one line per case, a hint under each failing case, and a
    summary line. Explained in the chapters "The GRU equations" and "The cell in
    TensorFlow".

    Attributes
    ----------
    title : str
        What was checked, against what.
    cases : tuple of CaseResult
        The cases, in the order they ran.
    """

    title: str
    cases: tuple[CaseResult, ...]

    @property
    def passed(self) -> bool:
        """True when every case passed (and there was at least one)."""
        return bool(self.cases) and all(c.passed for c in self.cases)

    @property
    def failed(self) -> list[str]:
        """Names of the cases that failed."""
        return [c.name for c in self.cases if not c.passed]

    def __str__(self) -> str:
        width = max((len(c.name) for c in self.cases), default=0)
        lines, shown = [self.title], set()
        for case in self.cases:
            lines.append(case.line(width))
            if not case.passed and case.hint and case.hint not in shown:
                shown.add(case.hint)  # a hint repeated for several cases is printed once
                lines += textwrap.wrap(case.hint, 92, initial_indent="      hint: ",
                                       subsequent_indent="            ")
        n = len(self.cases)
        if self.passed:
            lines.append(f"PASSED: all {n} cases.")
        else:
            lines.append(f"FAILED: {len(self.failed)} of {n} cases. "
                         "Start with the first failing case.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"CheckReport(passed={self.passed}, failed={self.failed!r})"


def _one_line(exc: BaseException) -> str:
    """``Type: message`` on one short line, without TensorFlow's node decorations."""
    text = re.sub(r"\{\{[^}]*\}\}", "", str(exc))
    text = re.sub(r"\s*\[Op:[^\]]*\].*", "", text, flags=re.S)
    text = " ".join(text.split()) or "(no message)"
    if len(text) > 100:
        text = text[:97] + "..."
    return f"raised {type(exc).__name__}: {text}"


def _compare(name: str, fn: Callable[[], object], expected: np.ndarray, tol: float,
             hint: str, error_hint: str, shape_hint: Callable[[tuple], str]) -> CaseResult:
    """Call ``fn()`` and compare its output with ``expected``.

    ``hint`` is for wrong values, ``error_hint`` for an exception, ``shape_hint``
    maps a wrong output shape to advice.
    """
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - any error in the reader's code is a failed case
        return CaseResult(name, False, float("nan"), tol, _one_line(exc), error_hint)
    if result is None:
        return CaseResult(name, False, float("nan"), tol, "returned None (a missing return?)",
                          "")
    try:
        out = np.asarray(result, dtype=np.float64)
    except Exception as exc:  # noqa: BLE001
        return CaseResult(name, False, float("nan"), tol,
                          f"returned {type(result).__name__}, not an array ({_one_line(exc)})",
                          "")
    if out.shape != expected.shape:
        return CaseResult(name, False, float("nan"), tol,
                          f"returned shape {out.shape}, expected {expected.shape}",
                          shape_hint(out.shape) or hint)
    diff = float(np.max(np.abs(out - expected))) if out.size else 0.0
    passed = bool(diff <= tol)  # False for nan
    return CaseResult(name, passed, diff, tol, "", "" if passed else hint)


# -- one step -------------------------------------------------------------------

@dataclass(frozen=True)
class _StepCase:
    name: str
    batch: int
    input_dim: int
    units: int
    b_z: float | None  # None: random bias
    b_r: float | None
    hint: str
    needs: tuple[int, ...] = ()  # cases that must pass for the hint to apply


_STEP_CASES = (
    _StepCase(
        "update gate shut (z = 0)", 4, 3, 5, -_PIN, None,
        "With z_t = 0 the new state must be h_{t-1}, unchanged. Check the new-state "
        "equation h_t = (1 - z_t) * h_{t-1} + z_t * h_tilde: (1 - z_t) multiplies the old "
        "state and z_t the candidate, not the other way round (that is Keras's convention)."),
    _StepCase(
        "z = 1, reset gate closed (r = 0)", 4, 3, 5, _PIN, -_PIN,
        "Here h_t is the candidate with the old state reset away: tanh(x_t W_h + b_h). "
        "Check the candidate's tanh and input term, and that r_t multiplies h_{t-1} inside "
        "the candidate: without the reset gate the old state leaks in.", (0,)),
    _StepCase(
        "z = 1, reset gate open (r = 1)", 4, 3, 5, _PIN, _PIN,
        "Here h_t is tanh(x_t W_h + h_{t-1} U_h + b_h). Check the candidate's recurrent "
        "term: h_{t-1} times U_h, with the weights on the right.", (0,)),
    _StepCase(
        "z = 1, reset gate in between", 4, 3, 5, _PIN, None,
        "Here h_t is the candidate tanh(x_t W_h + (r_t * h_{t-1}) U_h + b_h). If r = 0 and "
        "r = 1 pass, the reset gate is in the wrong place: it scales h_{t-1} before the "
        "product with U_h, not after. Otherwise check r_t = sigmoid(x_t W_r + h_{t-1} U_r + b_r).",
        (0,)),
    _StepCase(
        "random gates, batch 1 (2 inputs, 3 units)", 1, 2, 3, None, None,
        "The cases with pinned gates pass, so look at the update gate itself: "
        "z_t = sigmoid(x_t W_z + h_{t-1} U_z + b_z), and at the new-state equation "
        "h_t = (1 - z_t) * h_{t-1} + z_t * h_tilde.", (0, 1, 2, 3)),
    _StepCase(
        "random gates, batch 6 (3 inputs, 5 units)", 6, 3, 5, None, None,
        "Right for one example but not for a batch? Examples are rows: multiply x_t W and "
        "h U with the weights on the right (@), use * for the elementwise products, and add "
        "each bias to every row.", (4,)),
)

_STEP_LATER_HINT = "Fix the failing cases above first: this case builds on them."

_STEP_ERROR_HINT = ("Your function raised an error; the message usually names the shapes that "
                    "do not fit. Examples are rows: x_t is (batch, input_dim), h is (batch, "
                    "units), W_* is (input_dim, units), U_* is (units, units), b_* is (units,), "
                    "so x_t @ W_z and h @ U_z are both (batch, units).")


def _step_shape_hint(expected: tuple[int, int]) -> Callable[[tuple], str]:
    def hint(shape: tuple) -> str:
        if len(shape) == 2 and shape == expected[::-1]:
            return ("The result is transposed: with examples in rows the new state has shape "
                    "(batch, units).")
        return ("Return the new state h_t only, one row per example: shape (batch, units), "
                "the same as h.")
    return hint


def check_gru_step(fn: Callable[..., object]) -> CheckReport:
    """Check your GRU step against :meth:`GRUCell.step <gru_tutorial.cell.GRUCell.step>`.

    Explained in the chapter "The GRU equations" (``book/02_gru_equations.ipynb``).

    Parameters
    ----------
    fn : callable
        ``fn(x_t, h, W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h)`` returning the
        new state. It receives NumPy float64 arrays: ``x_t`` of shape
        ``(batch, input_dim)``, ``h`` of shape ``(batch, units)`` and the weights
        shaped as in :class:`~gru_tutorial.cell.GRUCell` (``W_*`` is
        ``(input_dim, units)``, ``U_*`` is ``(units, units)``, ``b_*`` is
        ``(units,)``). It may return a NumPy array or a tensor of shape
        ``(batch, units)``.

    Returns
    -------
    CheckReport
        One case per gate setting and batch shape; ``report.passed`` is True when
        every new state is within ``1e-9`` of the package's.
    """
    results = []
    for k, case in enumerate(_STEP_CASES):
        rng = np.random.default_rng(_SEED + k)
        cell = GRUCell(case.units, case.input_dim, seed=_SEED + k, dtype="float64")
        for gate, pinned in (("z", case.b_z), ("r", case.b_r), ("h", None)):
            bias = rng.normal(size=case.units) if pinned is None else np.full(case.units, pinned)
            getattr(cell, f"b_{gate}").assign(bias)
        x_t = rng.normal(size=(case.batch, case.input_dim))
        h = rng.uniform(-0.9, 0.9, size=(case.batch, case.units))
        expected = cell.step(tf.constant(x_t), tf.constant(h)).numpy()
        weights = [getattr(cell, f"{kind}_{gate}").numpy()
                   for gate in "zrh" for kind in "WUb"]
        args = [x_t.copy(), h.copy(), *weights]
        earlier_failed = any(not results[i].passed for i in case.needs)
        results.append(_compare(case.name, lambda args=args: fn(*args), expected, STEP_TOL,
                                _STEP_LATER_HINT if earlier_failed else case.hint,
                                _STEP_ERROR_HINT, _step_shape_hint(expected.shape)))
    return CheckReport(f"check_gru_step: your step against GRUCell.step, {len(results)} cases",
                       tuple(results))


# -- the loop over time ---------------------------------------------------------

@dataclass(frozen=True)
class _RunCase:
    name: str
    batch: int
    time: int
    dtype: str
    hint: str


_SCAN_HINT = ("tf.scan walks along the first axis. Transpose x from (batch, time, input_dim) "
              "to (time, batch, input_dim) before the scan, and the states back to "
              "(batch, time, units) after it.")

_RUN_CASES = (
    _RunCase("batch 3, time 5, float32", 3, 5, "float32", _SCAN_HINT),
    _RunCase("batch 4 = time 4, float32", 4, 4, "float32",
             "The shapes happen to fit when batch = time, so a loop over the batch axis runs "
             "instead of failing: it carries the state from one example to the next. Transpose "
             "to time-major before tf.scan and back after it."),
    _RunCase("time 1, batch 3, float32", 3, 1, "float32",
             "With one step the result must be h_1 = step(x_1, h_0) with h_0 = 0: return the "
             "states after each step (h_1 .. h_T), not before (h_0 .. h_{T-1})."),
    _RunCase("batch 1, time 6, float64", 1, 6, "float64",
             "Keep the cell's dtype (float64 here: do not cast to float32) and start from "
             "h_0 = zeros of shape (batch, units)."),
    _RunCase("long: batch 2, time 300, float64", 2, 300, "float64",
             "Short sequences pass but a long one does not? Each step must start from the state "
             "the previous step returned, and the dtype must stay float64."),
)

_RUN_ERROR_HINT = ("Your function raised an error. If the shapes in the message have the number "
                   "of time steps where the batch size belongs, the loop runs over the batch "
                   "axis: " + _SCAN_HINT)

_RUN_SHAPE_HINT = ("Wrong shape: if the loop ran over the batch axis, transpose to time-major "
                   "before tf.scan and back after it.")


def _run_shape_hint(batch: int, time: int, units: int) -> Callable[[tuple], str]:
    def hint(shape: tuple) -> str:
        if shape == (batch, units):
            return ("Only one state per sequence: return every state h_1 .. h_T, stacked to "
                    "shape (batch, time, units).")
        if shape == (time, batch, units):
            return ("Time-major states: transpose them back to (batch, time, units) after "
                    "the scan.")
        return _RUN_SHAPE_HINT
    return hint


def check_gru_run(fn: Callable[[GRUCell, tf.Tensor], object]) -> CheckReport:
    """Check your loop over time against the package's ``cell(x)``.

    Explained in the chapter "The cell in TensorFlow"
    (``book/04_cell_in_tensorflow.ipynb``).

    Parameters
    ----------
    fn : callable
        ``fn(cell, x)`` returning all states ``h_1 .. h_T``, shape
        ``(batch, time, units)``, from the initial state ``h_0 = 0``. ``cell``
        is a float32 or float64 :class:`~gru_tutorial.cell.GRUCell` and ``x`` a
        tensor of the cell's dtype, shape ``(batch, time, input_dim)``.

    Returns
    -------
    CheckReport
        One case per sequence shape and dtype; ``report.passed`` is True when every
        state is within ``1e-5`` (float32) or ``1e-9`` (float64) of the package's.
    """
    units, input_dim = 7, 2
    results = []
    for k, case in enumerate(_RUN_CASES):
        rng = np.random.default_rng(_SEED + 100 + k)
        cell = GRUCell(units, input_dim, seed=_SEED + 100 + k, dtype=case.dtype)
        for gate in "zrh":
            getattr(cell, f"b_{gate}").assign(rng.normal(size=units).astype(case.dtype))
        x = tf.constant(rng.normal(size=(case.batch, case.time, input_dim)), case.dtype)
        expected = cell(x).numpy().astype(np.float64)
        results.append(_compare(case.name, lambda cell=cell, x=x: fn(cell, x), expected,
                                RUN_TOL[case.dtype], case.hint, _RUN_ERROR_HINT,
                                _run_shape_hint(case.batch, case.time, units)))
    return CheckReport(f"check_gru_run: your loop against cell(x), {len(results)} cases",
                       tuple(results))
