"""Training speed at the keyboard: the default recipe, call to return, a fresh process per seed.

A user who types ``gru-tutorial train`` pays for everything once: building the
model and the held-out sets, tracing the training step, the steps, and the
held-out checks. So every seed runs in a process of its own, and the time is
measured from the call of ``train``'s loop (a :class:`~gru_tutorial.train.Trainer`
made and run, as ``train()`` does) to its return, after TensorFlow has been
imported (the import is timed separately). The parts are timed too: making the
trainer, the first step (tracing included), the other steps, the held-out checks.

Seeds 11-20 by default: the fast recipe was tuned on seeds 0-9 (``convergence``),
so these are seeds nobody tuned for. After the run, each child re-scores the
model on its held-out sets with the TensorFlow model (not the NumPy engine that
decided the stop) and on 100 fresh random 1,000-bit sums.

Each seed also runs once with ``manual_gradient=False`` (TensorFlow's automatic
gradient in place of the GRU's hand-derived one), alternating with the default
run, to show what the hand-derived backward pass saves.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from _common import Run, log, markdown_table, parser, summary

SEEDS = tuple(range(11, 21))
TARGET_SECONDS = 2.0
TARGET_ITERATIONS = 100


def child(seed: int, recipe: str, manual_gradient: bool) -> dict:
    """One timed training run in this (fresh) process."""
    t0 = time.perf_counter()
    import tensorflow as tf  # noqa: F401  (imported before the clock starts, as in the CLI)

    import gru_tutorial.train as train_module
    from gru_tutorial.evaluate import evaluate, evaluate_sets

    import_seconds = time.perf_counter() - t0

    class Timed(train_module.Trainer):
        def __init__(self, *args, **kwargs):
            self.parts = {"checks": 0.0, "first_step": None, "other_steps": 0.0}
            self.check_outcomes = []
            super().__init__(*args, **kwargs)
            real = self.step

            def step(x, y):
                t = time.perf_counter()
                out = [v.numpy() for v in real(x, y)]
                dt = time.perf_counter() - t
                if self.parts["first_step"] is None:
                    self.parts["first_step"] = dt
                else:
                    self.parts["other_steps"] += dt
                return out

            self.step = step
            real_check = self.check

            def check(model):
                t = time.perf_counter()
                passed = real_check(model)
                self.parts["checks"] += time.perf_counter() - t
                self.check_outcomes.append(passed is not None)
                return passed

            self.check = check

    start = time.perf_counter()
    trainer = Timed(recipe, seed, manual_gradient=manual_gradient)
    made = time.perf_counter() - start
    result = trainer.run()
    seconds = time.perf_counter() - start
    rescored = evaluate_sets(result.model, trainer.sets)
    fresh = evaluate(result.model, 1000, 100, seed=10_000 + seed)
    return {
        "seed": seed, "recipe": recipe, "manual_gradient": manual_gradient,
        "seconds": seconds, "import_seconds": import_seconds,
        "iterations": result.iterations, "converged": result.converged,
        "converged_at": result.converged_at,
        "parts": {"make_trainer": made, **trainer.parts},
        "checks": len(trainer.check_outcomes),
        "checks_failed": trainer.check_outcomes.count(False),
        "held_out_exact_tf": {str(k): v.exact_accuracy for k, v in rescored.items()},
        "fresh_1000_bit_exact": fresh.exact_accuracy,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--child", type=int, help="internal: run one seed here, print its JSON")
    p.add_argument("--recipe", default="fast")
    p.add_argument("--tf-gradient", action="store_true", help="internal: with --child")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.recipe, not args.tf_gradient)))
        return
    run = Run("train_speed", args.quick)
    seeds = args.seeds[:2] if args.quick else args.seeds
    runs, tf_runs = [], []
    for i, seed in enumerate(seeds):
        for manual in ((True, False) if i % 2 == 0 else (False, True)):  # alternating order
            out = subprocess.run([sys.executable, __file__, "--child", str(seed), "--recipe",
                                  args.recipe] + ([] if manual else ["--tf-gradient"]),
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            (runs if manual else tf_runs).append(r)
            log(f"seed {seed}, {'manual' if manual else 'TF'} gradient: {r['seconds']:.2f} s, "
                f"{r['iterations']} iterations, {r['checks']} checks ({r['checks_failed']} "
                "failed)")
    seconds = summary([r["seconds"] for r in runs])
    iterations = summary([r["iterations"] for r in runs])
    all_exact = all(r["converged"] and set(r["held_out_exact_tf"].values()) == {1.0}
                    for r in runs)
    results = {
        "recipe": args.recipe, "seeds": seeds, "runs": runs, "tf_gradient_runs": tf_runs,
        "tf_gradient": {"seconds": summary([r["seconds"] for r in tf_runs]),
                        "iterations": summary([r["iterations"] for r in tf_runs]),
                        "parts_median": {k: summary([r["parts"][k] for r in tf_runs])["median"]
                                         for k in tf_runs[0]["parts"]}},
        "seconds": seconds, "iterations": iterations,
        "targets": {"seconds_median": TARGET_SECONDS, "iterations_median": TARGET_ITERATIONS},
        "met": {"seconds": seconds["median"] <= TARGET_SECONDS,
                "iterations": iterations["median"] <= TARGET_ITERATIONS,
                "exact_on_held_out": all_exact},
        "parts_median": {k: summary([r["parts"][k] for r in runs])["median"]
                         for k in runs[0]["parts"]},
    }
    rows = [[r["seed"], f"{r['seconds']:.2f}", r["iterations"],
             f"{r['checks']} ({r['checks_failed']})",
             f"{r['parts']['make_trainer']:.2f}", f"{r['parts']['first_step']:.2f}",
             f"{r['parts']['other_steps']:.2f}", f"{r['parts']['checks']:.2f}",
             "yes" if set(r["held_out_exact_tf"].values()) == {1.0} else "NO",
             f"{r['fresh_1000_bit_exact']:.2f}", f"{t['seconds']:.2f}", t["iterations"]]
            for r, t in zip(runs, tf_runs, strict=True)]
    table = markdown_table(
        ["seed", "seconds", "iterations", "checks (failed)", "make trainer s",
         "first step s", "other steps s", "checks s", "held-out exact (TF)",
         "fresh 1000-bit exact", "TF gradient: seconds", "TF gradient: iterations"], rows)
    table += (f"\nRecipe {args.recipe!r}, one fresh process per seed, seconds from the call to "
              f"the return (TensorFlow already imported). Median {seconds['median']:.2f} s "
              f"(target <= {TARGET_SECONDS}), min {seconds['min']:.2f}, max "
              f"{seconds['max']:.2f}; median iterations {iterations['median']} (target <= "
              f"{TARGET_ITERATIONS}); every run exact on its held-out sets, re-scored with "
              f"TensorFlow: {'yes' if all_exact else 'NO'}. With TensorFlow's gradient: median "
              f"{results['tf_gradient']['seconds']['median']:.2f} s, "
              f"{results['tf_gradient']['iterations']['median']} iterations. Importing "
              f"TensorFlow took {summary([r['import_seconds'] for r in runs])['median']:.1f} s "
              "(median) before each run.\n")
    run.write(results, table)


if __name__ == "__main__":
    main()
