"""Convergence: iterations and wall time until the network adds exactly, per recipe and seed.

``fast``: each seed is trained with ``gru_tutorial.train.train``; it stops only when exact
on 1,000 held-out random sums at each of 20, 200 and 1,000 bits plus adversarial 1,000-bit
sums, so its iteration count is "until exact on 1,000 random 1,000-bit sums" (and more).

``seed``: the original tutorial's code (``jacobs2017code``): a 16-unit GRU in float64, every
weight and bias from a truncated normal with std 0.01, one batch of 100 fixed 5-bit sums
(operands 0 to 14), a *linear* output per step regressed onto the 0/1 bits
(``0.5 * sum((output - y)**2) / batch``) and read as 1 above 0.5, Adam with its defaults, for
5,000 iterations. ``seed, sigmoid (ours)`` is the same with a sigmoid on the output (the
squared error of the probability, a bit is 1 above probability 1/2): the recipe this book
called "the original" until it was checked against the code; it runs as an ablation row.

For each of these two and each seed, one run of 5,000 iterations (the package's ``Trainer``,
which the code's fixed number of iterations makes the recipe's whole run) records:

- the training and validation loss (the validation sample: 100 more sums drawn the same way,
  as the code's second sample) every ``--loss-every`` iterations;
- the first iteration (the number of steps taken) after which the 100 training sums are all
  exact, and the validation sums;
- every ``--every`` iterations, exact accuracy on fresh random sums of 5, 20 and 1,000 bits
  (uniform operands: the 5-bit ones reach 31, past the training operands' 14, and get one
  step more for the final carry) and on the adversarial 1,000-bit sums, and the first
  iteration each was all exact;
- at the end: exact accuracy on 1,000 fresh random sums each of 20, 200 and 1,000 bits (as
  for ``fast``); the raw outputs on fresh 1,000-bit sums by step and target bit (do they stay
  near 0 and 1, or drift?); and what ``gru_tutorial.verify`` says (a certificate, or the
  shortest counterexample it found, with histories of up to 4 input pairs).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from _common import Run, log, markdown_table, parser, summary

import numpy as np
import tensorflow as tf

import gru_tutorial as gt
from gru_tutorial.data import adversarial_pairs, encode_pairs, random_batch
from gru_tutorial.evaluate import evaluate, score_batch
from gru_tutorial.train import Trainer, loss_function, train
from gru_tutorial.verify import verify

TEST_BITS = (20, 200, 1000)
FRESH_BITS = (5, 20, 1000)
FRESH_COUNT = {5: 1000, 20: 1000, 1000: 100}
SPANS = ((0, 5), (5, 50), (50, 500), (500, 1001))  # output steps 1-5, 6-50, 51-500, 501-1001
SEED_RECIPES = {"seed": gt.RECIPES["seed"],
                "seed, sigmoid (ours)": replace(gt.RECIPES["seed"], name="seed-sigmoid",
                                                readout="logit")}


def test_scores(model, seed: int, count: int) -> dict:
    """Exact and bit accuracy on fresh random sums (seeds disjoint from training's)."""
    out = {}
    for bits in TEST_BITS:
        r = evaluate(model, bits=bits, count=count, seed=10_000 + 7 * seed + bits)
        out[str(bits)] = {"exact_accuracy": r.exact_accuracy, "bit_accuracy": r.bit_accuracy}
    return out


def outputs_by_step(model, batch) -> dict:
    """The readout's raw value (``h V + c``) on long sums, by span of steps and target bit.

    Per span and target bit: the 0, 1, 50, 99 and 100th percentiles, the mean distance from
    the target's own level (0 or 1 for a linear readout; for a logit, that of the
    probability), and the share on the wrong side of the threshold.
    """
    raw = model(tf.constant(batch.x, model.dtype)).numpy()[..., 0]
    value = raw if model.readout == "linear" else 1.0 / (1.0 + np.exp(-raw))
    y = batch.y[..., 0]
    out = {}
    for a, b in SPANS:
        span = {}
        for bit in (0, 1):
            sel = y[:, a:b] == bit
            if sel.any():
                v, r = value[:, a:b][sel], raw[:, a:b][sel]
                wrong = (r > model.threshold) != bool(bit)
                span[str(bit)] = {"quantiles": np.quantile(r, [0, 0.01, 0.5, 0.99, 1]).tolist(),
                                  "mean_distance": float(np.abs(v - bit).mean()),
                                  "wrong": float(wrong.mean())}
        out[f"{a + 1}-{b}"] = span
    return out


def seed_run(recipe, seed: int, steps: int, every: int, loss_every: int, count: int) -> dict:
    """One run of ``steps`` iterations and what it learned along the way."""
    trainer = Trainer(recipe, seed, max_steps=steps, stop_when_converged=False)
    model = trainer.model
    validation = trainer.sets[recipe.train_bits]
    loss = loss_function(recipe.loss, recipe.readout)
    vx, vy = tf.constant(validation.x, model.dtype), tf.constant(validation.y, model.dtype)
    val_loss = tf.function(lambda: loss(model(vx), vy), autograph=False)
    rng = np.random.default_rng([seed, 99])
    fresh = {b: random_batch(FRESH_COUNT[b], b, rng) for b in FRESH_BITS}
    pairs = adversarial_pairs(1000).values()
    fresh["adversarial"] = encode_pairs([p for p, _ in pairs], [q for _, q in pairs])
    out = {"seed": seed, "curve": [], "scores": [], "first_exact": {}}

    def observe(tr: Trainer) -> None:
        i = tr.iteration
        if i % loss_every == 0 or i == 1:
            out["curve"].append([i, tr.history.loss[-1], float(val_loss())])
        if tr.history.exact_accuracy[-1] == 1.0:  # scored before step i: after i - 1 steps
            out["first_exact"].setdefault("train", i - 1)
        if "validation" not in out["first_exact"]:
            if bool(score_batch(model, validation)[0].all()):
                out["first_exact"]["validation"] = i
        if i % every == 0:
            row = {"iteration": i}
            for key, batch in fresh.items():
                row[str(key)] = float(score_batch(model, batch)[0].mean())
                if row[str(key)] == 1.0:
                    out["first_exact"].setdefault(str(key), i)
            out["scores"].append(row)

    trainer.add_callback(observe)
    t = time.perf_counter()
    result = trainer.run()
    out["seconds"] = time.perf_counter() - t
    out["iterations"] = result.iterations
    out["converged_at"] = result.converged_at  # when the trainer's check found it exact
    out["final"] = out["scores"][-1] if out["scores"] else {}
    out["test"] = test_scores(model, seed, count)
    out["outputs"] = outputs_by_step(model, fresh[1000])
    proof = verify(model, max_history=4)
    ce = proof.counterexample
    out["verify"] = {"certified": proof.certified, "failure": proof.failure,
                     "counterexample": None if ce is None else [str(ce[0]), str(ce[1]), ce[2]]}
    return out


def fast_runs(seeds: list[int], count: int) -> list[dict]:
    """The fast recipe, trained to its stopping rule for each seed."""
    runs = []
    for s in seeds:
        t = time.perf_counter()
        r = train("fast", seed=s, progress=False)
        runs.append({"seed": s, "iterations": r.iterations, "seconds": r.seconds,
                     "wall_seconds": time.perf_counter() - t, "converged": r.converged,
                     "test": test_scores(r.model, s, count)})
        log("fast", s, r.iterations, f"{r.seconds:.2f}s", runs[-1]["test"])
    return runs


def median_of(values: list) -> str:
    """'median (min-max), n of N' of the values that are not None."""
    got = [v for v in values if v is not None]
    if not got:
        return f"never (0 of {len(values)})"
    return (f"{statistics.median(got):g} ({min(got)}-{max(got)}), "
            f"{len(got)} of {len(values)}")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--steps", type=int, default=gt.RECIPES["seed"].max_steps)
    p.add_argument("--every", type=int, default=100, help="fresh sums scored every N steps")
    p.add_argument("--loss-every", type=int, default=10)
    args = p.parse_args()
    seeds = list(range(2 if args.quick else args.seeds))
    count = 100 if args.quick else 1000
    steps = 300 if args.quick else args.steps
    run = Run("convergence", args.quick)
    gt.set_seed(0)
    results: dict = {"seeds": seeds, "test_count": count, "seed_steps": steps,
                     "every": args.every, "loss_every": args.loss_every,
                     "recipes": {name: {k: str(v) for k, v in vars(r).items()}
                                 for name, r in SEED_RECIPES.items()},
                     "runs": {"fast": fast_runs(seeds, count)}}
    for name, recipe in SEED_RECIPES.items():
        runs = []
        for s in seeds:
            r = seed_run(recipe, s, steps, args.every, args.loss_every, count)
            runs.append(r)
            log(name, s, r["first_exact"], r["final"], r["verify"]["certified"],
                f"{r['seconds']:.0f}s")
        results["runs"][name] = runs

    fast = results["runs"]["fast"]
    rows = [["fast", r["seed"], r["iterations"], f"{r['seconds']:.2f}",
             *(f"{r['test'][str(b)]['exact_accuracy']:.3f}" for b in TEST_BITS)] for r in fast]
    table = markdown_table(["recipe", "seed", "iterations to its stopping rule", "seconds",
                            *(f"exact@{b}" for b in TEST_BITS)], rows)
    rows = []
    for name in SEED_RECIPES:
        for r in results["runs"][name]:
            first = r["first_exact"]
            rows.append([name, r["seed"], *(first.get(k, "never") for k in
                                            ("train", "validation", "5", "20", "1000",
                                             "adversarial")),
                         *(f"{r['test'][str(b)]['exact_accuracy']:.3f}" for b in TEST_BITS),
                         "yes" if r["verify"]["certified"] else
                         f"no ({r['verify']['counterexample'][2]}-bit counterexample)"
                         if r["verify"]["counterexample"] else "no"])
    table += "\n" + markdown_table(
        ["recipe", "seed", "train exact at", "validation exact at", "5-bit exact at",
         "20-bit exact at", "1000-bit exact at", "adversarial exact at",
         *(f"exact@{b} at {steps}" for b in TEST_BITS), "verify certified"], rows)
    table += (f"\n\"exact at\": the first iteration at which every sum of that set was right "
              f"(fresh sets scored every {args.every} iterations).\n\n")
    its = [r["iterations"] for r in fast if r["converged"]]
    summ = {"fast": {"converged": len(its), "runs": len(fast),
                     "iterations": summary(its) if its else None,
                     "seconds": summary([r["seconds"] for r in fast])}}
    lines = [f"- **fast**: {len(its)}/{len(fast)} met the stopping rule; iterations "
             + median_of(its)]
    for name in SEED_RECIPES:
        runs = results["runs"][name]
        firsts = {k: [r["first_exact"].get(k) for r in runs]
                  for k in ("train", "validation", "5", "20", "1000", "adversarial")}
        summ[name] = {"first_exact": {k: {"median": statistics.median(got) if got else None,
                                          "reached": len(got), "runs": len(v)}
                                      for k, v in firsts.items()
                                      for got in [[x for x in v if x is not None]]},
                      "certified": sum(r["verify"]["certified"] for r in runs)}
        lines.append(f"- **{name}**: " + "; ".join(
            f"{k} exact at {median_of(v)}" for k, v in firsts.items())
            + f"; certified {summ[name]['certified']} of {len(runs)}")
    results["summary"] = summ
    run.write(results, table + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
