"""What the book's notebooks share: source listings, benchmark results, numbers that hold.

The chapters show the package's code rather than copy it (:func:`show_source`),
plot measurements that ``make bench`` committed to ``benchmarks/results/``
(:func:`load_results`), and print numbers of float32 training runs as the book
was built with them, checked against the run in front of the reader
(:func:`as_built`; the README's rule "Stored outputs on every CPU"). None of
them needs TensorFlow.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from pathlib import Path

__all__ = ["show_source", "source", "load_results", "results_dir", "as_built"]


def source(obj: object) -> str:
    """The source code of a function, method or class without its docstring, dedented.

    Parameters
    ----------
    obj : function, method or class
        What to show.

    Returns
    -------
    str
        The code, ending in a newline.
    """
    text = textwrap.dedent(inspect.getsource(obj))
    tree = ast.parse(text)
    node = tree.body[0]
    lines = text.splitlines(keepends=True)
    drop: set[int] = set()
    for item in ast.walk(node):
        body = getattr(item, "body", None)
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                or not body:
            continue
        first = body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                and isinstance(first.value.value, str):
            drop.update(range(first.lineno - 1, first.end_lineno))
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def show_source(obj: object) -> None:
    """Print :func:`source` of ``obj``: its code without the docstring."""
    print(source(obj), end="")


def results_dir() -> Path:
    """The folder of committed benchmark results, ``benchmarks/results/`` in the repository.

    Found next to the package's source tree (an editable install, as ``make``
    makes it), else from the current folder or its parent (a notebook runs in
    ``book/``).
    """
    candidates = [Path(__file__).resolve().parents[2], Path.cwd(), Path.cwd().parent]
    for root in candidates:
        folder = root / "benchmarks" / "results"
        if folder.is_dir():
            return folder
    raise FileNotFoundError("benchmarks/results/ not found: run from a clone of the repository")


def load_results(name: str) -> dict:
    """The committed results of benchmark ``name`` (``benchmarks/results/<name>.json``).

    Parameters
    ----------
    name : str
        The benchmark, e.g. ``'convergence'``.

    Returns
    -------
    dict
        The parsed JSON.
    """
    path = results_dir() / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in results_dir().glob("*.json"))
        raise FileNotFoundError(f"no results {name!r}; committed: {known}")
    return json.loads(path.read_text())


def as_built(value: float, reference: float, tolerance: float) -> float:
    """``reference``, the value the book was built with, once ``value`` is within ``tolerance``.

    A float32 training run depends on the order in which the CPU rounds, and training
    magnifies a last-bit difference: on another machine the same seed can end a little
    differently. A chapter prints the number it was built with, after checking that the
    run in front of the reader agrees within the stated tolerance; if it does not, the
    cell fails and says by how much.

    Parameters
    ----------
    value : float
        What this run computed.
    reference : float
        What the book was built with (and prints).
    tolerance : float
        How far ``value`` may be from ``reference`` (non-negative).

    Returns
    -------
    float
        ``reference``.

    Raises
    ------
    AssertionError
        If ``|value - reference| > tolerance``.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number, got {tolerance!r}")
    if not abs(value - reference) <= tolerance:
        raise AssertionError(f"this run gives {value}, the book was built with {reference}: "
                             f"more than {tolerance} apart")
    return reference
