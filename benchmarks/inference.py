"""Inference speed at the keyboard: the command line and the cost of one step, per engine.

Three measurements, each in fresh processes where the process start matters:

1. ``gru-tutorial add 5 7``: wall time from process start to exit, and peak
   memory, for ``--engine numpy`` (the default) and ``--engine tf``; ``--runs``
   runs each (default 5), alternating, median reported.
2. ``gru-tutorial add @a.txt @b.txt`` with two random operands of ``--bits``
   bits (default 10^6, about 301,030 decimal digits each): the same, plus the
   first run with an empty numba cache (a fresh machine compiles the loop once)
   and a check that the printed sum is exact.
3. The cost of one time step of each engine, batch 1, in-process, after a
   warm-up call: the NumPy loop and the numba loop (both timed before any
   TensorFlow computation runs in the process), and the TensorFlow model in
   graph mode and XLA-compiled, for the bundled 3-unit model and for a 16-unit
   GRU (the fast recipe's size, the seed-0 GRU of ``why_gates``). For reference:
   RTNeural, a C++ library, runs a 16-unit GRU step in 0.26 µs (its published
   benchmark; not measured here).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS, Run, log, markdown_table, parser, summary

import numpy as np

from gru_tutorial import adder, engine
from gru_tutorial.saving import load_model, load_pretrained

CLI = [sys.executable, "-m", "gru_tutorial"]
GNU_TIME = "/usr/bin/time"
RTNEURAL_GRU16_US = 0.26


def run_cli(args: list[str], env: dict | None = None) -> tuple[float, str, int]:
    """Wall seconds, stdout and exit status of one ``gru-tutorial`` process."""
    t = time.perf_counter()
    proc = subprocess.run(CLI + args, capture_output=True, text=True, env=env)
    return time.perf_counter() - t, proc.stdout, proc.returncode


def peak_rss_mb(args: list[str]) -> float | None:
    """Peak resident memory of one ``gru-tutorial`` process in MB, by GNU time (None without it).

    Not from this process's ``wait4``: a child forked from a process that has
    TensorFlow loaded counts the parent's pages until it execs.
    """
    if not Path(GNU_TIME).is_file():
        return None
    proc = subprocess.run([GNU_TIME, "-f", "%M", *CLI, *args], capture_output=True, text=True)
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def cli_runs(args_by_engine: dict[str, list[str]], runs: int) -> dict:
    """Median wall time (and all runs) and peak memory per engine, runs alternating."""
    times = {name: [] for name in args_by_engine}
    for _ in range(runs):
        for name, args in args_by_engine.items():
            seconds, _, status = run_cli(args)
            if status != 0:
                raise RuntimeError(f"{args} exited with {status}")
            times[name].append(seconds)
    return {name: {"seconds": summary(ts), "runs": ts,
                   "peak_rss_mb": peak_rss_mb(args_by_engine[name])}
            for name, ts in times.items()}


def per_step_us(fn, steps: int, repeats: int = 3) -> float:
    """Median microseconds per step of ``fn()`` (one call runs ``steps`` steps), after a warm-up."""
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1e6 * statistics.median(ts) / steps


def inputs(numpy_steps: int, long_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs of batch 1 for the per-step timings."""
    rng = np.random.default_rng(0)
    return (rng.integers(0, 2, (1, numpy_steps, 2)).astype(np.float32),
            rng.integers(0, 2, (1, long_steps, 2)).astype(np.float32))


def numpy_adder(directory: Path | None) -> engine.NumpyAdder:
    """The NumPy engine for the bundled model, or the model saved in ``directory``."""
    return engine.NumpyAdder(adder.load_pretrained() if directory is None
                             else adder.load(directory))


def engine_step_costs(directory: Path | None, numpy_steps: int, long_steps: int) -> dict:
    """Microseconds per step of the NumPy and numba loops, batch 1 (before TensorFlow runs:
    its thread pools compete for the cores once they have been used)."""
    np_model = numpy_adder(directory)
    x_short, x_long = inputs(numpy_steps, long_steps)
    k_short = (2 * x_short[..., 0] + x_short[..., 1]).astype(np.int8)
    k_long = (2 * x_long[..., 0] + x_long[..., 1]).astype(np.int8)
    kernel = engine.kernel()
    args = np_model.kernel_args()
    return {"units": np_model.units,
            "numpy_loop": per_step_us(lambda: np_model._logits_numpy(k_short), numpy_steps),
            "numba_loop": per_step_us(lambda: kernel(k_long, *args), long_steps)}


def tf_step_costs(directory: Path | None, numpy_steps: int, long_steps: int) -> dict:
    """Microseconds per step of the TensorFlow model, graph and XLA, batch 1; and the largest
    difference between its logits and the engine's."""
    tf_model = load_pretrained() if directory is None else load_model(directory)
    np_model = numpy_adder(directory)
    x_short, x_long = inputs(numpy_steps, long_steps)
    ref = tf_model(x_short).numpy()[..., 0]
    k_short = (2 * x_short[..., 0] + x_short[..., 1]).astype(np.int8)
    kernel = engine.kernel()
    return {
        "tf_graph": per_step_us(lambda: tf_model.predict_bits(x_short, jit_compile=False),
                                numpy_steps),
        "tf_xla": per_step_us(lambda: tf_model.predict_bits(x_long, jit_compile=True),
                              long_steps),
        "max_logit_diff_numpy": float(np.abs(np_model._logits_numpy(k_short) - ref).max()),
        "max_logit_diff_numba": float(np.abs(kernel(k_short, *np_model.kernel_args())
                                             - ref).max()),
    }


def mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=None, help="runs per command (default 5)")
    p.add_argument("--bits", type=int, default=None,
                   help="bits per operand of the long addition (default 1,000,000)")
    args = p.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    bits = args.bits or (20_000 if args.quick else 1_000_000)
    run = Run("inference", args.quick)
    sys.set_int_max_str_digits(0)
    results: dict = {"runs": runs, "bits": bits, "rtneural_gru16_us": RTNEURAL_GRU16_US}

    log("add 5 7")
    results["add_small"] = cli_runs({"numpy": ["add", "5", "7"],
                                     "tf": ["add", "5", "7", "--engine", "tf"]}, runs)

    log(f"add of two {bits:,}-bit operands")
    rnd = random.Random(2026)
    a = rnd.getrandbits(bits) | (1 << (bits - 1))
    b = rnd.getrandbits(bits) | (1 << (bits - 1))
    with tempfile.TemporaryDirectory() as tmp:
        fa, fb = Path(tmp) / "a.txt", Path(tmp) / "b.txt"
        import gmpy2

        fa.write_text(gmpy2.mpz(a).digits() + "\n")
        fb.write_text(gmpy2.mpz(b).digits() + "\n")
        cli_args = ["add", f"@{fa}", f"@{fb}"]
        cold_env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache"))
        cold, out, status = run_cli(cli_args, env=cold_env)
        exact = status == 0 and int(gmpy2.mpz(out.strip())) == a + b
        long = cli_runs({"numpy": cli_args}, runs)["numpy"]
        long["first_run_empty_numba_cache_seconds"] = cold
        long["exact"] = bool(exact)
        long["digits"] = len(fa.read_text().strip())
        results["add_long"] = long

    log("per-step cost")
    gru16 = RESULTS / "why_gates_models" / "gru"
    steps_numpy, steps_long = (2_000, 20_000) if args.quick else (20_000, 1_000_000)
    models = {"bundled": None, "gru16": gru16}
    costs = {name: engine_step_costs(d, steps_numpy, steps_long) for name, d in models.items()}
    for name, d in models.items():
        costs[name].update(tf_step_costs(d, steps_numpy, steps_long))
    results["per_step_us"] = costs

    small, lg, ps = results["add_small"], results["add_long"], results["per_step_us"]
    rows = [[f"`gru-tutorial add 5 7 --engine {e}`", f"{small[e]['seconds']['median']:.2f}",
             f"{small[e]['seconds']['min']:.2f}-{small[e]['seconds']['max']:.2f}",
             mb(small[e]["peak_rss_mb"])] for e in ("numpy", "tf")]
    rows.append([f"`gru-tutorial add @a @b`, {bits:,}-bit operands",
                 f"{lg['seconds']['median']:.2f}",
                 f"{lg['seconds']['min']:.2f}-{lg['seconds']['max']:.2f}",
                 mb(lg["peak_rss_mb"])])
    table = markdown_table(["command", "median s", "range s", "peak MB"], rows)
    table += (f"\nWall time from process start, {runs} runs each (alternating); the long "
              f"addition was exact: {lg['exact']}; its first run with an empty numba cache "
              f"took {lg['first_run_empty_numba_cache_seconds']:.2f} s.\n\n")
    table += markdown_table(
        ["model", "units", "NumPy loop µs/step", "numba µs/step", "TF graph µs/step",
         "TF XLA µs/step", "RTNeural (C++) µs/step"],
        [[name, d["units"], f"{d['numpy_loop']:.2f}", f"{d['numba_loop']:.3f}",
          f"{d['tf_graph']:.2f}", f"{d['tf_xla']:.3f}",
          f"{RTNEURAL_GRU16_US} (16 units, published)" if d["units"] == 16 else "-"]
         for name, d in ps.items()])
    table += ("\nBatch 1, in-process, median of 3 after a warm-up call; NumPy and TF graph over "
              f"{steps_numpy:,} steps, numba and XLA over {steps_long:,}.\n")
    run.write(results, table)


if __name__ == "__main__":
    main()
