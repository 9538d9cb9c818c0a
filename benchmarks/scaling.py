"""Scaling: time of one training step against sequence length (8 .. 4,096) and batch size.

The step is the package's training step (``gru_tutorial.train.make_train_step``:
forward with ``tf.scan``, BCE, TensorFlow's automatic gradient, hand-written Adam),
traced once with unknown batch and length, so every shape runs the same graph. For
one batch size the same step with the cell's hand-written backward pass
(``loop='manual'``, which ``train`` uses for the GRU recipes) is timed alongside. The
largest batch stops at ``--max-len-large`` steps to keep the run short. A recurrent
network has to walk through the time steps one after the other, so the cost
should grow linearly with length; the batch is processed in parallel within
each step, so small batches cost about the same as one example.
"""

from __future__ import annotations

import time

from _common import Run, log, markdown_table, parser, summary

import numpy as np
import tensorflow as tf

import gru_tutorial as gt
from gru_tutorial.data import random_batch
from gru_tutorial.model import BitAdder
from gru_tutorial.train import RECIPES, make_train_step


def fit_power(lengths: list[int], seconds: list[float]) -> float:
    """Slope of log(time) against log(length): 1 means linear."""
    return float(np.polyfit(np.log(lengths), np.log(seconds), 1)[0])


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-len-large", type=int, default=1024)
    args = p.parse_args()
    run = Run("scaling", args.quick)
    gt.set_seed(0, deterministic_ops=False)
    lengths = [8, 64, 512] if args.quick else [2**k for k in range(3, 13)]
    batches = [1, 32] if args.quick else [1, 32, 256]
    repeats = 2 if args.quick else args.repeats
    manual_batch = batches[1]
    fast = RECIPES["fast"]
    loops = {"automatic": "scan", "manual": "manual"}
    steps = {g: make_train_step(BitAdder(16, seed=0, loop=loop), loss=fast.loss,
                                learning_rate=fast.learning_rate)
             for g, loop in loops.items()}
    rng = np.random.default_rng(0)
    shapes = [("automatic", b, n) for b in batches for n in lengths
              if b < batches[-1] or n <= args.max_len_large]
    shapes += [("manual", manual_batch, n) for n in lengths]
    data = {(b, n): random_batch(b, n - 1, rng) for _, b, n in shapes}
    data = {k: (tf.constant(v.x), tf.constant(v.y)) for k, v in data.items()}
    t = time.perf_counter()
    steps["automatic"](*data[(batches[0], lengths[0])])[0].numpy()
    trace_seconds = time.perf_counter() - t
    times = {k: [] for k in shapes}
    for g, b, n in shapes:  # warm-up: first run of each shape
        steps[g](*data[(b, n)])[0].numpy()
    for r in range(repeats):  # interleave shapes, so load changes hit all of them
        for k in (shapes if r % 2 == 0 else shapes[::-1]):
            t = time.perf_counter()
            steps[k[0]](*data[k[1:]])[0].numpy()
            times[k].append(time.perf_counter() - t)
        log("repeat", r + 1, "of", repeats)
    rows_json = []
    for (g, b, n), ts in times.items():
        s = summary(ts)
        rows_json.append({"gradient": g, "batch": b, "length": n, "seconds": ts, **s,
                          "us_per_time_step": 1e6 * s["median"] / n})
    slopes = {}
    for g, b in [("automatic", b) for b in batches] + [("manual", manual_batch)]:
        rs = [r for r in rows_json if r["batch"] == b and r["gradient"] == g]
        long = [r for r in rs if r["length"] >= 64]  # fixed per-call overhead dominates below
        slopes[f"{g}, batch {b}"] = {
            "gradient": g, "batch": b,
            "all": fit_power([r["length"] for r in rs], [r["median"] for r in rs]),
            "length>=64": fit_power([r["length"] for r in long], [r["median"] for r in long])
            if len(long) >= 2 else None}
    rows = [[r["gradient"], r["batch"], r["length"], f"{1e3 * r['median']:.2f}",
             f"{1e3 * r['min']:.2f}-{1e3 * r['max']:.2f}", f"{r['us_per_time_step']:.1f}"]
            for r in rows_json]
    table = markdown_table(["gradient", "batch", "length", "median ms per training step",
                            "min-max ms", "us per time step"], rows)
    table += "\nSlope of log(time) against log(length) (1 = linear): " + ", ".join(
        f"{b}: {s['all']:.2f} over all lengths"
        + (f", {s['length>=64']:.2f} for length >= 64" if s["length>=64"] is not None else "")
        for b, s in slopes.items()) + f". Tracing the step once took {trace_seconds:.2f} s.\n"
    run.write({"lengths": lengths, "batches": batches, "repeats": repeats,
               "manual_batch": manual_batch, "max_len_large": args.max_len_large,
               "trace_seconds": trace_seconds, "step": "gru_tutorial.train.make_train_step (fast)",
               "rows": rows_json, "slopes": slopes}, table)


if __name__ == "__main__":
    main()
