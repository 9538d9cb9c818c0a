"""Do the stored notebook outputs hold on other floating-point paths?

Usage: ``python benchmarks/fp_paths.py [--quick] [NOTEBOOK ...]`` (``make fp-check``).

nbval compares every stored text output of the chapters with a fresh run, on whatever
x86-64 CPU runs ``make test``. The order in which a CPU's kernels round differs between
instruction sets (AVX2, AVX-512), with oneDNN on or off, and with one thread or several;
a training run can magnify a last-bit difference into another network. This script
executes the notebooks (all of them by default) once per path, in a scratch folder:

``default``      the environment as it is;
``onednn``       ``TF_ENABLE_ONEDNN_OPTS=1`` (the package turns oneDNN off unless set);
``one-thread``   pinned to one core (``taskset -c 0``) with one thread everywhere,

and compares their text outputs (streams, text/plain, text/html and glued values;
nbval ignores images) with the stored ones, after the sanitizers of ``nbval.cfg``. The
executed copies stay in ``benchmarks/out/fp_paths/`` for a closer look. It prints every difference
and writes ``results/fp_paths.json`` and ``.md`` (``results/quick/`` with ``--quick``,
which runs only the default path). The rule it checks is in the README ("Stored outputs
on every CPU").
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import _common  # noqa: F401  (first: quiets TensorFlow)
from _common import Run, parser

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PATHS = {
    "default": ({}, []),
    "onednn": ({"TF_ENABLE_ONEDNN_OPTS": "1"}, []),
    "one-thread": ({"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                    "TF_NUM_INTEROP_THREADS": "1", "NUMBA_NUM_THREADS": "1"},
                   ["taskset", "-c", "0"]),
}


CPP_LOG = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
                     r"|\S+ \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\]"
                     r"|WARNING: All log messages before absl::InitializeLog\(\))")
"""A line of TensorFlow's C++ log (absl's format, or TensorFlow's older one). The C++ runtime
writes it past Python, and pytest's kernel does not capture it, so nbval never compares it."""


def sanitizers() -> list[tuple[re.Pattern, str]]:
    """The regex replacements of ``nbval.cfg``."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "nbval.cfg")
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def text_outputs(path: Path, rules) -> list[list[str]]:
    """Per code cell, its text outputs as nbval compares them: streams of one name joined
    (a kernel may split a print into several stream messages), then each text output, all
    sanitized."""
    nb = json.loads(path.read_text())
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        streams: dict[str, str] = {}
        texts = []
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                text = "".join(out["text"])
                if out["name"] == "stderr":  # TensorFlow's C++ log lines: nbval never sees them
                    text = "".join(line for line in text.splitlines(keepends=True)
                                   if not CPP_LOG.match(line))
                streams[out["name"]] = streams.get(out["name"], "") + text
            for kind, value in sorted(out.get("data", {}).items()):
                if kind.startswith("text/") or kind.startswith("application/papermill"):
                    texts.append(f"{kind}: " + "".join(value))
        texts = [f"{name}: {text}" for name, text in sorted(streams.items()) if text] + texts
        for pattern, replacement in rules:
            texts = [pattern.sub(replacement, t) for t in texts]
        cells.append(texts)
    return cells


def execute(notebook: Path, out_dir: Path, env_extra: dict, prefix: list[str]) -> float:
    """Execute a copy of ``notebook`` (working directory book/) into ``out_dir``; seconds."""
    env = dict(os.environ, **env_extra)
    cmd = [*prefix, str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to",
           "notebook", "--execute", "--ExecutePreprocessor.timeout=900",
           "--output-dir", str(out_dir), str(notebook)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=BOOK, capture_output=True)
    return time.perf_counter() - start


def compare(stored: Path, fresh: Path, rules) -> list[dict]:
    """Every code cell whose text outputs differ, with the first differing lines."""
    diffs = []
    for index, (a, b) in enumerate(zip(text_outputs(stored, rules), text_outputs(fresh, rules),
                                       strict=True)):
        if a != b:
            old = "\n".join(a).splitlines()
            new = "\n".join(b).splitlines()
            pairs = [(x, y) for x, y in zip(old, new, strict=False) if x != y][:3]
            diffs.append({"cell": index, "stored": [x for x, _ in pairs] or old[:3],
                          "computed": [y for _, y in pairs] or new[:3]})
    return diffs


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", help="notebooks to check (default: every chapter)")
    p.add_argument("--compare-only", action="store_true",
                   help="compare the copies kept in benchmarks/out/fp_paths/ without running")
    args = p.parse_args()
    run = Run("fp_paths", args.quick)
    notebooks = [Path(n).resolve() for n in args.notebooks] or sorted(BOOK.glob("*.ipynb"))
    paths = {"default": PATHS["default"]} if args.quick else PATHS
    if shutil.which("taskset") is None:
        paths.pop("one-thread", None)
    rules = sanitizers()
    results = {}
    scratch = ROOT / "benchmarks" / "out" / "fp_paths"  # kept for a look (git ignores it)
    for name, (env_extra, prefix) in paths.items():
        out_dir = scratch / name
        for nb in notebooks:
            seconds = None if args.compare_only else execute(nb, out_dir, env_extra, prefix)
            diffs = compare(nb, out_dir / nb.name, rules)
            results.setdefault(nb.name, {})[name] = {
                "seconds": None if seconds is None else round(seconds, 1), "differences": diffs}
            took = "compared only" if seconds is None else f"{seconds:.0f} s"
            print(f"{name:10s} {nb.name}: {len(diffs)} cell(s) differ ({took})")
            for d in diffs:
                print(f"    cell {d['cell']}: stored {d['stored']} computed {d['computed']}")
    stable = all(not r["differences"] for per in results.values() for r in per.values())
    lines = ["| notebook | " + " | ".join(paths) + " |", "|---" * (len(paths) + 1) + "|"]
    for nb, per in results.items():
        lines.append(f"| {nb} | " + " | ".join(
            "same" if not per[p]["differences"] else f"{len(per[p]['differences'])} cells differ"
            for p in paths) + " |")
    summary = ("Every stored text output came out the same on every path." if stable
               else "Some stored outputs differ: see the JSON for the cells and lines.")
    if args.compare_only:
        summary += " (Compared again without executing: the copies were executed earlier.)"
    run.write({"paths": {k: {"env": v[0], "prefix": v[1]} for k, v in paths.items()},
               "notebooks": results, "stable": stable, "compared_only": args.compare_only},
              "\n".join(lines) + "\n\n" + summary + "\n")
    if not stable:
        sys.exit(1)


if __name__ == "__main__":
    main()
