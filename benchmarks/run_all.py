"""Run every benchmark, each in a fresh Python process, and report the total time.

Usage: ``python benchmarks/run_all.py [--quick] [--only NAME ...]`` (``make bench``).
Results go to ``benchmarks/results/<name>.json`` and ``.md``; with ``--quick``,
tiny settings and ``benchmarks/results/quick/``. ``notebooks`` executes every chapter
in ``book/``, one after another: run it on a quiet machine. ``train_page`` needs the built
site (``make bench`` builds it first) and Chromium.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["long_inference", "step_speed", "scaling", "convergence", "ablation", "size_sweep",
              "why_gates", "proof_stop", "inference", "train_speed", "train_page",
              "notebooks"]
EXTRA_RUNS = {  # further runs of a benchmark, with their own results files
    "size_sweep": [["--cells", "rnn", "gru-noreset", "lstm", "--units", "3", "2",
                    "--seeds", "10", "--name", "size_sweep_cells"]],
    "proof_stop": [["--ablation"]],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny settings (smoke test)")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    args = p.parse_args()
    start = time.perf_counter()
    failed = []
    for name in args.only or BENCHMARKS:
        t = time.perf_counter()
        print(f"== {name}", flush=True)
        quick = ["--quick"] if args.quick else []
        rc = 0
        for extra in [[], *EXTRA_RUNS.get(name, [])]:
            rc = rc or subprocess.call([sys.executable, str(HERE / f"{name}.py"), *quick, *extra],
                                       cwd=HERE)
        print(f"== {name}: {'ok' if rc == 0 else f'FAILED ({rc})'} in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        if rc:
            failed.append(name)
    print(f"== all done in {time.perf_counter() - start:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
