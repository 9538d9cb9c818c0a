"""Convergence: iterations and wall time until the network adds exactly, per recipe and seed.

For each seed, the ``fast`` recipe is trained with ``gru_tutorial.train.train``;
it stops only when exact on 1,000 held-out random sums at each of 20, 200 and
1,000 bits plus adversarial 1,000-bit sums, so its iteration count is "until
exact on 1,000 random 1,000-bit sums" (and more).

The ``seed`` recipe stops when exact on its own 5-bit test set. For the first
``--long-seeds`` seeds its run (the package's ``Trainer``, the loop ``train`` runs)
keeps going after that, to 6,000 iterations, checking 1,000 random 1,000-bit sums
every ``--check-every`` iterations, to ask whether it ever adds long numbers.

Every trained model is then scored on fresh random sums of 20, 200 and 1,000 bits
(1,000 each, not the sets training stopped on); for the seed recipe, at the
moment its own criterion was met.
"""

from __future__ import annotations

import statistics
import time

from _common import Run, log, markdown_table, parser, summary

import numpy as np

import gru_tutorial as gt
from gru_tutorial.data import random_batch
from gru_tutorial.evaluate import evaluate
from gru_tutorial.train import Trainer, train

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
    """``train('seed', seed=seed)``, optionally continued to ``cap`` iterations.

    Records when the recipe's own criterion (exact on its 5-bit test set) is first
    met and the scores on fresh long sums then. With ``go_on``, the same run keeps
    training to ``cap`` iterations, checking ``count`` random 1,000-bit sums every
    ``every`` iterations, and stops once they are all exact.
    """
    trainer = Trainer("seed", seed, max_steps=cap, stop_when_converged=not go_on)
    long = random_batch(count, 1000, np.random.default_rng([seed, 2]))
    out = {"seed": seed, "went_on": go_on, "long_iterations": None, "long_checks": []}

    def observe(tr: Trainer) -> None:
        if tr.converged_at == tr.iteration:
            out["test"] = test_scores(tr.model, seed, count)  # at its own criterion
        if go_on and tr.iteration % every == 0:
            pred = tr.model.predict_bits(long.x[:100])  # cheap first look, then all
            frac = float((pred == long.y[:100, :, 0]).all(axis=1).mean())
            if frac == 1.0:
                frac = float((tr.model.predict_bits(long.x) == long.y[..., 0]).all(axis=1).mean())
            out["long_checks"].append([tr.iteration, frac if frac == 1.0
                                       else f"<1 ({frac:.2f} of 100)"])
            if frac == 1.0:
                out["long_iterations"] = tr.iteration
                tr.should_stop = True

    trainer.add_callback(observe)
    result = trainer.run()
    converged = trainer.converged_at is not None
    out.update(converged=converged, total_iterations=result.iterations,
               total_seconds=result.seconds,
               iterations=trainer.converged_at if converged else cap,
               seconds=trainer.converged_seconds if converged else result.seconds)
    if not converged:
        out["test"] = test_scores(result.model, seed, count)
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
    run.write(results, table + "\n" + "\n".join(lines) + "\n")
    med = statistics.median
    log("fast median iterations", med([r["iterations"] for r in results["runs"]["fast"]]))


if __name__ == "__main__":
    main()
