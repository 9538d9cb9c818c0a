"""Shared helpers for the benchmarks: machine facts, timing, and writing results.

Every benchmark writes ``results/<name>.json`` (raw numbers plus the machine they
were measured on) and ``results/<name>.md`` (a summary table). Numbers are only
compared with numbers from the same run: the machine may be shared and busy.

Every benchmark imports this module before TensorFlow (ruff's import order puts
it first, see ``pyproject.toml``), and this module imports ``gru_tutorial``, which
sets TensorFlow's quiet environment as the book's notebooks get it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import gru_tutorial  # noqa: F401  (first: quiets TensorFlow before anything loads it)

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


class Run:
    """One benchmark run: records the machine at the start and writes the results.

    Parameters
    ----------
    name : str
        Result file stem, e.g. ``'step_speed'``.
    quick : bool
        A smoke-test run with tiny settings; its results go to ``results/quick/``.
    """

    def __init__(self, name: str, quick: bool = False) -> None:
        import keras
        import numpy as np
        import tensorflow as tf

        self.name, self.quick = name, quick
        self.t0 = time.perf_counter()
        self.machine = {
            "cpu_model": cpu_model(),
            "cores": os.cpu_count(),
            "load_average_start": load_average(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": quick,
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        }

    def write(self, results: dict, table: str) -> Path:
        """Write ``<name>.json`` (machine + results) and ``<name>.md`` (title + table)."""
        self.machine["load_average_end"] = load_average()
        self.machine["benchmark_seconds"] = round(time.perf_counter() - self.t0, 1)
        out = RESULTS / "quick" if self.quick else RESULTS
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.name}.json"
        path.write_text(json.dumps({"machine": self.machine, **results}, indent=1) + "\n")
        m = self.machine
        header = (f"# {self.name}\n\n{m['date']}, {m['cpu_model']}, {m['cores']} cores, "
                  f"load average {m['load_average_start']} -> {m['load_average_end']}, "
                  f"Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}, "
                  f"NumPy {m['numpy']}; took {m['benchmark_seconds']} s.\n\n")
        (out / f"{self.name}.md").write_text(header + table.rstrip() + "\n")
        print(header + table, flush=True)
        return path


def summary(values: list[float]) -> dict:
    """Median, min, max and count of a list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the common ``--quick`` flag."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="tiny settings for a smoke test; writes to results/quick/")
    return p


def log(*args) -> None:
    """Progress line on stderr (stdout carries the tables)."""
    print(*args, file=sys.stderr, flush=True)
