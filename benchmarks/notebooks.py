"""Notebook run times: each chapter executed top to bottom in a fresh kernel.

Every ``book/*.ipynb`` (or those named with ``--only``) is copied to a temporary
directory and executed from there with nbclient, one notebook at a time, each in a
new kernel, with the working directory set to ``book/`` so that relative paths
resolve as they do in the book (each notebook's first cell imports ``gru_tutorial``,
which keeps TensorFlow quiet). The notebooks in
``book/`` are only read, never written. A notebook's time runs from starting its
kernel to the end of its last cell; the longest-running cell is recorded too.
Each notebook runs once. The chapter "Performance" (``book/08_performance.ipynb``)
prints the table.

``--only`` measures a subset (the JSON says which notebooks it covers);
``--quick`` runs only the first notebook and writes to ``results/quick/``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import Run, log, markdown_table, parser

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

BOOK = Path(__file__).resolve().parent.parent / "book"


def run_notebook(path: Path, timeout: int) -> dict:
    """Execute a copy of ``path`` in a fresh kernel with cwd ``book/``; return its times."""
    cell_start: dict[int, float] = {}
    cell_seconds: dict[int, float] = {}

    def on_cell_execute(cell, cell_index, **_):
        cell_start[cell_index] = time.perf_counter()

    def on_cell_executed(cell, cell_index, **_):
        cell_seconds[cell_index] = time.perf_counter() - cell_start[cell_index]

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        nb = nbformat.read(copy, as_version=4)
        client = NotebookClient(
            nb, timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", ""),
            resources={"metadata": {"path": str(BOOK)}}, record_timing=False,
            on_cell_execute=on_cell_execute, on_cell_executed=on_cell_executed)
        start = time.perf_counter()
        client.execute()  # each notebook's first cell imports gru_tutorial: quiet TensorFlow
        seconds = time.perf_counter() - start
    slowest = max(cell_seconds, key=cell_seconds.get)
    return {"notebook": path.stem, "seconds": seconds, "code_cells": len(cell_seconds),
            "cells_seconds": sum(cell_seconds.values()),
            "slowest_cell": {"index": slowest, "seconds": cell_seconds[slowest]}}


def main() -> int:
    available = sorted(p.stem for p in BOOK.glob("*.ipynb"))
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=available, metavar="NOTEBOOK",
                   help=f"run only these notebooks (stems, e.g. {available[0]})")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = p.parse_args()
    names = available[:1] if args.quick else (args.only or available)
    names = [n for n in available if n in names]  # book order
    run = Run("notebooks", args.quick)
    rows_json, failed = [], []
    for name in names:
        log("executing", name)
        try:
            rows_json.append(run_notebook(BOOK / f"{name}.ipynb", args.timeout))
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
            log(f"{name}: FAILED\n{e}")
            failed.append(name)
            continue
        log(f"{name}: {rows_json[-1]['seconds']:.1f} s")
    if not rows_json:
        return 1
    rows = [[r["notebook"], f"{r['seconds']:.1f}", r["code_cells"],
             f"{r['seconds'] - r['cells_seconds']:.1f}",
             f"{r['slowest_cell']['seconds']:.1f} (cell {r['slowest_cell']['index']})"]
            for r in rows_json]
    table = markdown_table(["notebook", "seconds", "code cells", "outside cells s",
                            "slowest cell s (its index)"], rows)
    covered = [r["notebook"] for r in rows_json]
    table += (f"\n{len(covered)} of {len(available)} notebooks in book/"
              + (f"; failed: {', '.join(failed)}" if failed else "") + ".\n")
    run.write({"book_notebooks": available, "notebooks": covered,
               "complete": covered == available, "failed": failed,
               "timeout_per_cell": args.timeout, "rows": rows_json}, table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
