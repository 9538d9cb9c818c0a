"""Why gates? Plain RNN, GRU without reset gate, GRU, LSTM and Keras's GRU on the same task.

For each cell in ``--cells`` (default: every one of ``gru_tutorial.recipes.CELLS``)
and each of ``--seeds`` seeds (default 10: seeds 0 .. 9), the package's ``fast``
recipe is trained with ``Trainer("fast", seed, cell=cell, manual_gradient=False)``:
the same data, loss, TensorFlow's automatic gradient, hand-written Adam, learning
rate, 16 hidden units, budget (1,000 iterations) and stopping rule (exact on
1,000 held-out random sums each of 20, 200 and 1,000 bits and on the
adversarial 1,000-bit sums) for every cell; only the cell differs. Per run:
converged or not, iterations to exact, wall seconds (building, tracing, training
with its held-out checks), parameters.

Every converged model is then scored on longer sums
(``gru_tutorial.gates.accuracy_by_length``, ``--count`` sums of each kind per
length, lengths ``--bits``, default 10, 100, 1,000 and 10,000 bits).

The vanishing gradient: ``gru_tutorial.gates.jacobian_norms``, the mean
``log10 ||dh_t/dx_1||`` over ``t = 1 .. --steps`` (default 512), for every seed's
network before training and after, on two inputs: 32 random sums drawn with a
random density of ones per operand (as the training sums), and one carry chain
(``2^(T-1) - 1 + 1``: the carry started at step 1 runs to the end). The JSON
keeps the median, minimum and maximum over seeds at selected steps, and every
run's least-squares slope (decades per step) over the whole range.

The seed-0 network of each cell is saved to ``results/why_gates_models/<cell>/``
for the chapter.
"""

from __future__ import annotations

import time

from _common import RESULTS, Run, log, markdown_table, parser, summary

import numpy as np

import gru_tutorial as gt
from gru_tutorial.data import encode_pairs, random_batch
from gru_tutorial.gates import accuracy_by_length, decay_rate, jacobian_norms
from gru_tutorial.saving import save_model
from gru_tutorial.train import Trainer

BITS = (10, 100, 1000, 10000)
QUICK_BITS = (10, 100)


def curve_steps(steps: int) -> list[int]:
    """The steps at which curves are kept: every step to 32, then every 8th."""
    return sorted(set(range(1, min(32, steps) + 1)) | set(range(40, steps + 1, 8)) | {steps})


def gradient_inputs(steps: int) -> dict[str, np.ndarray]:
    """The inputs of the gradient measurements, ``steps`` time steps each."""
    rng = np.random.default_rng([2026, 11])
    return {"random": random_batch(32, steps - 1, rng, mixed_density=True).x,
            "chain": encode_pairs([(1 << (steps - 1)) - 1], [1]).x}


def norms(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``jacobian_norms`` of ``model`` on each input."""
    return {name: jacobian_norms(model, x) for name, x in inputs.items()}


def one_run(cell: str, seed: int, max_steps: int | None, inputs: dict, bits: tuple,
            count: int, models_dir) -> tuple[dict, dict]:
    """Train one network; its record and its gradient curves (before and after)."""
    t = time.perf_counter()
    # TensorFlow's gradient for every cell alike (only the GRU has a hand-derived one)
    tr = Trainer("fast", seed, cell=cell, max_steps=max_steps, manual_gradient=False)
    before = norms(tr.model, inputs)
    t_build = time.perf_counter() - t
    res = tr.run()
    out = {"cell": cell, "seed": seed, "converged": res.converged,
           "iterations": res.converged_at, "steps_taken": res.iterations,
           "seconds": res.seconds, "seconds_per_step": res.seconds / res.iterations,
           "parameters": int(tr.model.count_params()),
           "cell_parameters": int(tr.model.cell.count_params()),
           "held_out_exact": {str(k): v.exact_accuracy for k, v in res.evaluation.items()},
           "gradient_seconds_untrained": t_build}
    after = norms(tr.model, inputs)
    if res.converged:
        t = time.perf_counter()
        out["by_length"] = {str(b): v for b, v in
                            accuracy_by_length(tr.model, bits, count, seed).items()}
        out["by_length_seconds"] = time.perf_counter() - t
    for when, curves in (("untrained", before), ("trained", after)):
        out[f"slope_{when}"] = {k: decay_rate(v) for k, v in curves.items()}
    if seed == 0 and models_dir is not None:
        save_model(tr.model, models_dir / cell,
                   info={"recipe": "fast", "cell": cell, "seed": seed,
                         "iterations": res.iterations, "converged": res.converged,
                         "converged_at": res.converged_at})
    return out, {"untrained": before, "trained": after}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--cells", nargs="+", choices=gt.CELLS, default=None,
                   help="cells to compare (default: all)")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds 0 .. N-1 per cell (default 10; --quick: 2)")
    p.add_argument("--bits", type=int, nargs="+", default=None,
                   help="lengths for accuracy by length (default 10 100 1000 10000)")
    p.add_argument("--count", type=int, default=None,
                   help="sums of each kind per length (default 100; --quick: 10)")
    p.add_argument("--steps", type=int, default=None,
                   help="T for the gradient norms (default 512; --quick: 64)")
    args = p.parse_args()
    cells = list(args.cells or gt.CELLS)
    seeds = list(range(args.seeds if args.seeds is not None else 2 if args.quick else 10))
    bits = tuple(args.bits or (QUICK_BITS if args.quick else BITS))
    count = args.count or (10 if args.quick else 100)
    steps = args.steps or (64 if args.quick else 512)
    max_steps = 30 if args.quick else None
    run = Run("why_gates", args.quick)
    models_dir = None if args.quick else RESULTS / "why_gates_models"
    gt.set_seed(0)
    inputs = gradient_inputs(steps)
    keep = curve_steps(steps)
    log(f"cells {cells}, seeds {seeds[0]}..{seeds[-1]}, bits {bits}, count {count}, T {steps}")
    runs, curves = [], {c: {"untrained": {}, "trained": {}} for c in cells}
    for cell in cells:
        for seed in seeds:
            r, c = one_run(cell, seed, max_steps, inputs, bits, count, models_dir)
            runs.append(r)
            for when in c:
                for name, v in c[when].items():
                    curves[cell][when].setdefault(name, []).append(v)
            log(f"{cell} seed {seed}: "
                + (f"exact at {r['iterations']}" if r["converged"] else "not exact")
                + f" ({r['steps_taken']} steps, {r['seconds']:.1f} s); slopes "
                f"{r['slope_untrained']} -> {r['slope_trained']}"
                + (f"; by length {r['by_length']}" if "by_length" in r else ""))
    idx = np.array(keep) - 1
    kept = {cell: {when: {name: {"median": np.median(v, axis=0)[idx].round(4).tolist(),
                                 "min": np.min(v, axis=0)[idx].round(4).tolist(),
                                 "max": np.max(v, axis=0)[idx].round(4).tolist()}
                          for name, v in d.items()}
                   for when, d in w.items()}
            for cell, w in curves.items()}
    summ, rows = {}, []
    for cell in cells:
        rs = [r for r in runs if r["cell"] == cell]
        ok = [r for r in rs if r["converged"]]
        its = [r["iterations"] for r in ok]
        by_len = {}
        for b in bits:
            for kind in ("uniform", "mixed", "adversarial"):
                vals = [r["by_length"][str(b)][kind] for r in ok]
                by_len.setdefault(str(b), {})[kind] = summary(vals) if vals else None
        slopes = {f"{when}_{name}": summary([r[f"slope_{when}"][name] for r in rs])
                  for when in ("untrained", "trained") for name in inputs}
        s = {"runs": len(rs), "converged": len(ok), "success_rate": len(ok) / len(rs),
             "iterations": summary(its) if its else None,
             "seconds": summary([r["seconds"] for r in rs]),
             "seconds_to_exact": summary([r["seconds"] for r in ok]) if ok else None,
             "seconds_per_step": summary([r["seconds_per_step"] for r in rs]),
             "parameters": rs[0]["parameters"], "cell_parameters": rs[0]["cell_parameters"],
             "failed_seeds": [r["seed"] for r in rs if not r["converged"]],
             "by_length": by_len, "slopes": slopes}
        summ[cell] = s
        it = s["iterations"]
        longest = str(max(bits))
        exact_long = [r["by_length"][longest]["mixed"] == 1.0 for r in ok]
        rows.append([cell, s["cell_parameters"], s["parameters"],
                     f"{s['converged']}/{s['runs']}",
                     f"{it['median']:g}" if it else "-",
                     f"{it['min']}-{it['max']}" if it else "-",
                     f"{s['seconds']['median']:.1f}",
                     f"{1000 * s['seconds_per_step']['median']:.1f}",
                     f"{sum(exact_long)}/{len(ok)}" if ok else "-",
                     f"{slopes['untrained_random']['median']:.3f}",
                     f"{slopes['trained_random']['median']:.3f}",
                     ", ".join(map(str, s["failed_seeds"])) or "-"])
    table = markdown_table(
        ["cell", "cell params", "model params", "exact within budget", "median iterations",
         "iterations range", "median seconds", "ms per step",
         f"exact on all {count} mixed {max(bits)}-bit sums", "slope untrained",
         "slope trained", "seeds not exact"], rows)
    table += (f"\nThe `fast` recipe (16 units, at most {max_steps or 1000} iterations) with "
              f"only the cell changed; seeds {seeds[0]} .. {seeds[-1]}. Iterations over the "
              "runs that became exact; seconds over all runs. Slopes: median over seeds of "
              f"the least-squares slope of mean log10 ||dh_t/dx_1|| for t = 1 .. {steps} on "
              "32 random mixed-density sums (decades per step).\n")
    run.write({"cells": cells, "seeds": seeds, "recipe": "fast", "bits": list(bits),
               "count": count, "steps": steps, "curve_steps": keep, "runs": runs,
               "summary": summ, "curves": kept}, table)


if __name__ == "__main__":
    main()
