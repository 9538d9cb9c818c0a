"""Ablation: the fast recipe with one of its choices reverted to the seed recipe's at a time.

Each variant trains a few seeds with at most ``--max-steps`` iterations and the
fast recipe's stopping rule (exact on held-out 20, 200 and 1,000-bit sums and
adversarial sums), with smaller held-out sets (``--eval-count``) to save time.
The fixed-data variant trains on one set of 100 sums drawn the seed tutorial's
way (operands below 2**15 - 1), in 16 steps, one fewer than the fast recipe's 17. The
short-sums variant draws
fresh sums of 5-bit operands (6 steps; the seed recipe's fixed sums have 5 steps, operands 0 to
14). The seed recipe's loss is the squared error of a
linear output (its readout and loss go back together); the squared error of the
sigmoid, the variant this book used as "the original" before, is its own row.
"""

from __future__ import annotations

from dataclasses import replace

from _common import Run, log, markdown_table, parser, summary

import gru_tutorial as gt
from gru_tutorial.train import RECIPES, train

CHANGES = {
    "fast recipe (no change)": {},
    "learning rate 1e-3 (seed's)": {"learning_rate": 1e-3},
    "linear output, squared error (seed's)": {"loss": "mse", "readout": "linear"},
    "squared error of the sigmoid (ours)": {"loss": "mse"},
    "init: truncated normal 0.01 (seed's)": {"init": "seed"},
    "short training sums (5-bit operands)": {"train_bits": 5},
    "uniform bits, no mixed density": {"mixed_density": False},
    "one fixed set of 100 sums (seed's)": {"fixed_data": True},
    "float64 (seed's)": {"dtype": "float64"},
}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--eval-count", type=int, default=200,
                   help="sums per held-out set (the fast recipe itself uses 1,000)")
    p.add_argument("--max-steps", type=int, default=600)
    args = p.parse_args()
    run = Run("ablation", args.quick)
    gt.set_seed(0)
    seeds = list(range(1 if args.quick else args.seeds))
    max_steps = 60 if args.quick else args.max_steps
    out = {}
    for name, change in CHANGES.items():
        recipe = replace(RECIPES["fast"], name=name, **change)
        runs = []
        for s in seeds:
            r = train(recipe, seed=s, max_steps=max_steps, eval_count=args.eval_count,
                      progress=False)
            runs.append({"seed": s, "iterations": r.iterations, "seconds": r.seconds,
                         "converged": r.converged, "checks": len(r.history.checks),
                         "exact": {str(k): v.exact_accuracy for k, v in r.evaluation.items()}})
            log(name, s, r.iterations, r.converged, f"{r.seconds:.2f}s")
        its = [r["iterations"] for r in runs if r["converged"]]
        out[name] = {"change": change, "runs": runs, "converged": len(its),
                     "iterations": summary(its) if its else None,
                     "seconds": summary([r["seconds"] for r in runs])}
    rows = []
    for name, v in out.items():
        it = v["iterations"]
        rows.append([name, f"{v['converged']}/{len(seeds)}",
                     f"{it['median']:g} ({it['min']}-{it['max']})" if it else "-",
                     f"{v['seconds']['median']:.2f}",
                     ", ".join(str(r["iterations"]) + ("" if r["converged"] else "*")
                               for r in v["runs"])])
    table = markdown_table(["variant", "seeds exact", "iterations median (min-max)",
                            "seconds median", "iterations per seed"], rows)
    table += (f"\nAt most {max_steps} iterations; * = not exact on every held-out set "
              f"({args.eval_count} sums each of 20, 200 and 1,000 bits, and the adversarial "
              "sums) by then.\n")
    run.write({"seeds": seeds, "max_steps": max_steps, "eval_count": args.eval_count,
               "variants": out}, table)


if __name__ == "__main__":
    main()
