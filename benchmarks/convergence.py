"""Convergence: iterations and wall time until the network adds exactly, per recipe and seed.

For each seed, the ``fast`` recipe is trained with ``gru_tutorial.train.train``;
it stops only when exact on 1,000 held-out random sums at each of 20, 200 and
1,000 bits plus adversarial 1,000-bit sums, so its iteration count is "until
exact on 1,000 random 1,000-bit sums" (and more).

The ``seed`` recipe stops when exact on its own 5-bit test set. Its loop here is
``train('seed')``'s own (same weights, data, step function and check; a
cross-check with ``train`` itself for the first seed is recorded) but it keeps
going to 6,000 iterations, checking 1,000 random 1,000-bit sums every
``--check-every`` iterations, to ask whether it ever adds long numbers.

Every trained model is then scored on fresh random sums of 20, 200 and 1,000 bits
(1,000 each, not the sets training stopped on); for the seed recipe, at the
moment its own criterion was met.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import tensorflow as tf
from _common import Run, log, markdown_table, parser, summary

import gru_tutorial as gt
from gru_tutorial.data import random_batch, seed_dataset
from gru_tutorial.evaluate import evaluate
from gru_tutorial.model import BitAdder
from gru_tutorial.train import RECIPES, _evaluate_sets, _make_step, train

TEST_BITS = (20, 200, 1000)
SEED_CAP = 6000


def test_scores(model, seed: int, count: int) -> dict:
    """Exact and bit accuracy on fresh random sums (seeds disjoint from training's)."""
    out = {}
    for bits in TEST_BITS:
        r = evaluate(model, bits=bits, count=count, seed=10_000 + 7 * seed + bits)
        out[str(bits)] = {"exact_accuracy": r.exact_accuracy, "bit_accuracy": r.bit_accuracy}
    return out


def seed_run(seed: int, cap: int, every: int, count: int, go_on: bool) -> dict:
    """The seed recipe exactly as ``train('seed', seed=seed)`` runs it, continued to ``cap``.

    Same initial weights, fixed data, optimizer, step function and stopping check
    as :func:`gru_tutorial.train.train`; records when its own criterion (exact on
    its 5-bit test set) is first met and the scores on fresh long sums then, and
    keeps training to ``cap`` iterations, checking ``count`` random 1,000-bit sums
    every ``every`` iterations. Without ``go_on``, stops at its own criterion like
    ``train`` does.
    """
    recipe = RECIPES["seed"]
    start = time.perf_counter()
    model = BitAdder(recipe.units, dtype=recipe.dtype, init=recipe.init, seed=seed)
    train_rng, eval_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    fixed = seed_dataset(train_rng, recipe.batch_size, recipe.train_bits)
    sets = {b: seed_dataset(eval_rng, recipe.eval_count, b) for b in recipe.eval_bits}
    step = _make_step(model, recipe)
    x, y = tf.constant(fixed.x, recipe.dtype), tf.constant(fixed.y, recipe.dtype)
    long = random_batch(count, 1000, np.random.default_rng([seed, 2]))
    out = {"seed": seed, "iterations": None, "seconds": None, "converged": False,
           "went_on": go_on, "long_iterations": None, "long_checks": []}
    for it in range(1, cap + 1):
        _, _, exact = step(x, y)
        if not out["converged"] and float(exact) == 1.0:
            if _evaluate_sets(model, sets, stop_early=True) is not None:
                out.update(iterations=it, seconds=time.perf_counter() - start, converged=True)
                out["test"] = test_scores(model, seed, count)
                if not go_on:
                    break
        if go_on and it % every == 0:
            pred = model.predict_bits(long.x[:100])  # cheap first look, then all
            frac = float((pred == long.y[:100, :, 0]).all(axis=1).mean())
            if frac == 1.0:
                frac = float((model.predict_bits(long.x) == long.y[..., 0]).all(axis=1).mean())
            out["long_checks"].append([it, frac if frac == 1.0 else f"<1 ({frac:.2f} of 100)"])
            if frac == 1.0:
                out["long_iterations"] = it
                break
    out["total_seconds"] = time.perf_counter() - start
    out["total_iterations"] = it
    if not out["converged"]:
        out.update(iterations=cap, seconds=out["total_seconds"],
                   test=test_scores(model, seed, count))
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--check-every", type=int, default=500)
    p.add_argument("--long-seeds", type=int, default=2,
                   help="seed-recipe runs (the first N seeds) that go on to 6,000 iterations")
    args = p.parse_args()
    seeds = list(range(3 if args.quick else args.seeds))
    count = 100 if args.quick else 1000
    cap = 300 if args.quick else SEED_CAP
    run = Run("convergence", args.quick)
    gt.set_seed(0)
    results: dict = {"seeds": seeds, "test_count": count, "seed_cap": cap, "runs": {}}
    runs = []
    for s in seeds:
        t = time.perf_counter()
        r = train("fast", seed=s, progress=False)
        runs.append({"seed": s, "iterations": r.iterations, "seconds": r.seconds,
                     "wall_seconds": time.perf_counter() - t, "converged": r.converged,
                     "test": test_scores(r.model, s, count)})
        log("fast", s, r.iterations, f"{r.seconds:.2f}s", runs[-1]["test"])
    results["runs"]["fast"] = runs
    runs = []
    for s in seeds:
        runs.append(seed_run(s, cap, args.check_every, count, go_on=s < args.long_seeds))
        log("seed", s, runs[-1]["iterations"], runs[-1]["long_iterations"],
            f"{runs[-1]['seconds']:.2f}s", runs[-1]["test"])
    results["runs"]["seed"] = runs
    # Cross-check: the loop above reproduces train('seed') (same iterations for seed 0).
    r = train("seed", seed=seeds[0], progress=False, max_steps=cap)
    results["crosscheck_train_seed"] = {
        "seed": seeds[0], "train_iterations": r.iterations, "train_converged": r.converged,
        "train_seconds": r.seconds, "loop_iterations": runs[0]["iterations"],
        "same": r.iterations == runs[0]["iterations"] and r.converged == runs[0]["converged"]}
    log("crosscheck", results["crosscheck_train_seed"])

    rows, summ = [], {}
    for name, runs in results["runs"].items():
        for r in runs:
            long = r.get("long_iterations", "-")
            if name == "seed" and not r["went_on"]:
                long = "not run"
            rows.append([name, r["seed"], r["iterations"], "yes" if r["converged"] else "no",
                         f"{r['seconds']:.2f}",
                         *(f"{r['test'][str(b)]['exact_accuracy']:.3f}" for b in TEST_BITS),
                         long if long is not None else f"never (<= {cap})"])
        conv = [r for r in runs if r["converged"]]
        its = [r["iterations"] for r in conv]
        summ[name] = {
            "converged": len(conv), "runs": len(runs),
            "iterations": summary(its) if its else None,
            "seconds": summary([r["seconds"] for r in runs]),
            "exact_1000_all": sum(r["test"]["1000"]["exact_accuracy"] == 1.0 for r in runs),
        }
        if name == "seed":
            summ[name]["long_reached"] = sum(r["long_iterations"] is not None for r in runs)
            summ[name]["long_runs"] = sum(r["went_on"] for r in runs)
    results["summary"] = summ
    table = markdown_table(
        ["recipe", "seed", "iterations", "own criterion met", "seconds",
         "exact@20", "exact@200", "exact@1000", "1000-bit exact at (seed recipe)"], rows)
    lines = []
    for name, s in summ.items():
        it = s["iterations"]
        lines.append(
            f"- **{name}**: {s['converged']}/{s['runs']} seeds met their own criterion; "
            + (f"iterations median {it['median']:g} (min {it['min']}, max {it['max']}); "
               if it else "")
            + f"seconds median {s['seconds']['median']:.2f} "
            f"(min {s['seconds']['min']:.2f}, max {s['seconds']['max']:.2f}); "
            f"{s['exact_1000_all']}/{s['runs']} exact on all fresh 1,000-bit sums"
            + (f"; {s['long_reached']}/{s['long_runs']} seeds trained on to {cap} iterations "
               "became exact on 1,000-bit sums by then" if "long_reached" in s else ""))
    cc = results["crosscheck_train_seed"]
    lines.append(f"- cross-check: train('seed', seed={cc['seed']}) took {cc['train_iterations']} "
                 f"iterations, the benchmark's loop {cc['loop_iterations']} "
                 f"({'same' if cc['same'] else 'DIFFERENT'}).")
    run.write(results, table + "\n" + "\n".join(lines) + "\n")
    med = statistics.median
    log("fast median iterations", med([r["iterations"] for r in results["runs"]["fast"]]))


if __name__ == "__main__":
    main()
