"""Step speed: median time of one training step, our cell against keras.layers.GRU.

One training step = forward over the sequence, a per-step readout to one logit,
binary cross-entropy, backward, and one Adam update: the package's
``make_train_step`` for every variant, Keras's GRU included. Every variant uses
the same optimizer, ``keras.optimizers.Adam`` (one more row shows the package's
own hand-written Adam, the step ``train()`` uses). Units 16, input 2, three shapes:
batch 100 x 5 steps (the seed tutorial's size), 100 x 17 (the fast recipe's
training batch) and 256 x 64 steps.

Variants are timed interleaved: in every round each variant runs a few steps, in
a rotating order, so that a busy machine slows all of them alike. The first call
(tracing and, with XLA, compiling) and a few warm-up calls are timed separately.
"""

from __future__ import annotations

import time

from _common import Run, log, markdown_table, parser, summary

import keras
import numpy as np
import tensorflow as tf

import gru_tutorial as gt
from gru_tutorial.data import random_batch
from gru_tutorial.model import BitAdder
from gru_tutorial.train import RECIPES, loss_function, make_train_step

UNITS = 16
TRAIN_STEP = "train()'s step: manual gradient, hand-written Adam"
SHAPES = ((100, 5), (100, 17), (256, 64))
RUN_STEPS = 100  # about the iterations of a training run with the fast recipe


def keras_adam_step(model, jit: bool, eager: bool = False):
    """A training step (the package's loss) with keras.optimizers.Adam(1e-3), for any Keras
    model: traced per shape, compiled unless ``eager``, with XLA if ``jit``."""
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    variables = model.trainable_variables
    optimizer.build(variables)
    loss_fn = loss_function("bce")

    def step(x, y):
        with tf.GradientTape() as tape:
            value = loss_fn(model(x), y)
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables, strict=True))
        return (value,)

    return step if eager else tf.function(step, autograph=False, jit_compile=jit)


def keras_gru(reset_after: bool, time_steps: int):
    return keras.Sequential([
        keras.Input((time_steps, 2)),
        keras.layers.GRU(UNITS, return_sequences=True, reset_after=reset_after),
        keras.layers.Dense(1),
    ])


def variants(time_steps: int, quick: bool) -> dict:
    """Name -> (training step function, family), all with freshly initialised weights."""
    out = {}

    def ours(jit: bool = False, eager: bool = False, loop: str = "scan"):
        return keras_adam_step(BitAdder(UNITS, seed=0, loop=loop), jit=jit, eager=eager)

    out["ours, tf.function"] = (ours(), "ours")
    out["ours, tf.function + XLA"] = (ours(jit=True), "ours")
    if time_steps <= 16:  # one copy of the step per time step: only for short sequences
        out["ours, unrolled, tf.function"] = (ours(loop="unroll"), "ours")
        out["ours, unrolled, tf.function + XLA"] = (ours(jit=True, loop="unroll"), "ours")
    out["ours, manual gradient, tf.function"] = (ours(loop="manual"), "ours")
    out["ours, manual gradient, tf.function + XLA"] = (
        ours(jit=True, loop="manual"), "ours")
    out["ours, eager (no tf.function)"] = (ours(eager=True), "eager")
    for ra in (False, True):
        for jit in (False, True):
            name = f"Keras GRU(reset_after={ra})" + (" + XLA" if jit else "")
            out[name] = (keras_adam_step(keras_gru(ra, time_steps), jit=jit), "keras")
    fast = RECIPES["fast"]
    out[TRAIN_STEP] = (make_train_step(BitAdder(UNITS, seed=0, loop="manual"), loss=fast.loss,
                                       learning_rate=fast.learning_rate), "extra")
    out["ours, TensorFlow's gradient, hand-written Adam"] = (
        make_train_step(BitAdder(UNITS, seed=0), loss=fast.loss, learning_rate=fast.learning_rate),
        "extra")
    return out


def measure(shape: tuple[int, int], rounds: int, per_round: int, eager_rounds: int,
            quick: bool) -> dict:
    batch_size, time_steps = shape
    data = random_batch(batch_size, time_steps - 1, np.random.default_rng(0))
    x, y = tf.constant(data.x), tf.constant(data.y)
    fns = variants(time_steps, quick)
    res = {}
    for name, (fn, family) in fns.items():
        t = time.perf_counter()
        fn(x, y)[0].numpy()
        first = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(3):
            fn(x, y)
        warm = (time.perf_counter() - t) / 3
        res[name] = {"family": family, "first_call_seconds": first,
                     "warmup_seconds_per_step": warm, "times": [], "cpu_times": []}
        log(shape, name, f"first call {first:.2f} s")
    names = list(fns)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            fn, family = fns[name]
            if family == "eager" and r >= eager_rounds:
                continue
            for _ in range(1 if family == "eager" else per_round):
                t, c = time.perf_counter(), time.process_time()
                fn(x, y)[0].numpy()
                res[name]["times"].append(time.perf_counter() - t)
                res[name]["cpu_times"].append(time.process_time() - c)
    for v in res.values():
        v.update({f"{k}_ms": round(1e3 * s, 4) for k, s in summary(v["times"]).items()
                  if k != "n"})
        v["n"] = len(v["times"])
        v["cpu_median_ms"] = round(1e3 * summary(v["cpu_times"])["median"], 4)
    keras_best = min((n for n in res if res[n]["family"] == "keras"),
                     key=lambda n: res[n]["median_ms"])
    ours_best = min((n for n in res if res[n]["family"] == "ours"),
                    key=lambda n: res[n]["median_ms"])
    keras_min = min(v["min_ms"] for v in res.values() if v["family"] == "keras")
    for v in res.values():
        v["ratio_to_best_keras"] = v["median_ms"] / res[keras_best]["median_ms"]
        v["min_ratio_to_best_keras_min"] = v["min_ms"] / keras_min
        v["run_seconds"] = v["first_call_seconds"] + RUN_STEPS * v["median_ms"] / 1e3
    keras_best_run = min((n for n in res if res[n]["family"] == "keras"),
                         key=lambda n: res[n]["run_seconds"])
    for v in res.values():
        v["run_ratio_to_best_keras"] = v["run_seconds"] / res[keras_best_run]["run_seconds"]
    return {"batch": batch_size, "time_steps": time_steps, "variants": res,
            "best_keras": keras_best, "best_ours": ours_best, "best_keras_run": keras_best_run,
            "train_step_ratio": res[TRAIN_STEP]["ratio_to_best_keras"],
            "train_step_run_ratio": res[TRAIN_STEP]["run_ratio_to_best_keras"],
            "ratio_best_ours_to_best_keras": res[ours_best]["median_ms"]
            / res[keras_best]["median_ms"],
            "ratio_of_fastest_steps": min(v["min_ms"] for v in res.values()
                                          if v["family"] == "ours") / keras_min}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, nargs=3, default=[60, 40, 20],
                   help="timing rounds for each shape, shortest first")
    p.add_argument("--per-round", type=int, default=3)
    args = p.parse_args()
    run = Run("step_speed", args.quick)
    gt.set_seed(0, deterministic_ops=False)
    shapes = {}
    for shape, rounds in zip(SHAPES, [2, 2, 2] if args.quick else args.rounds, strict=True):
        shapes[f"{shape[0]}x{shape[1]}"] = measure(
            shape, rounds, args.per_round, eager_rounds=min(rounds, 6 if shape[1] < 10 else 4),
            quick=args.quick)
    text = ("Milliseconds per training step (forward + backward + Adam), median and min-max "
            "over the timed steps; ratio = median / median of the fastest Keras variant "
            "in the same run. CPU ms = process CPU time per step (all threads), less "
            "sensitive to other processes than wall time. All rows use "
            "keras.optimizers.Adam except the last two (the package's hand-written Adam). "
            f"Run s = first call + {RUN_STEPS} steps at the median: what the steps of a "
            "training run of about that many iterations cost, tracing and compiling "
            "included.\n\n")
    for s in shapes.values():
        rows = [[n, f"{v['median_ms']:.2f}", f"{v['min_ms']:.2f}-{v['max_ms']:.2f}", v["n"],
                 f"{v['ratio_to_best_keras']:.2f}", f"{v['cpu_median_ms']:.2f}",
                 f"{v['first_call_seconds']:.2f}", f"{v['run_seconds']:.2f}",
                 f"{v['run_ratio_to_best_keras']:.2f}"]
                for n, v in s["variants"].items()]
        text += (f"## batch {s['batch']} x {s['time_steps']} steps\n\n"
                 + markdown_table(["variant", "median ms", "min-max ms", "steps timed",
                                   "ratio to best Keras", "CPU ms (median)",
                                   "first call s", "run s", "run ratio"], rows)
                 + f"\nBest ours: {s['best_ours']}; best Keras: {s['best_keras']}; ratio of "
                 f"medians {s['ratio_best_ours_to_best_keras']:.2f}; ratio of the fastest "
                 f"single steps (ours / Keras) {s['ratio_of_fastest_steps']:.2f}. "
                 f"train()'s step: {s['train_step_ratio']:.2f} x the best Keras step, "
                 f"{s['train_step_run_ratio']:.2f} x the best Keras run "
                 f"({s['best_keras_run']}).\n\n")
    run.write({"units": UNITS, "optimizer": "keras.optimizers.Adam(1e-3)", "shapes": shapes},
              text)


if __name__ == "__main__":
    main()
