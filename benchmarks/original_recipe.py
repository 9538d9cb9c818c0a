"""The original code's recipe, measured: a linear readout regressed onto the bits, 5,000 iterations.

The code linked from the original post (``jacobs2017code``) trains a 16-unit GRU in float64,
every weight and bias from a truncated normal with std 0.01, ``h_0 = 0``, on one batch of 100
fixed 5-bit sums (operands from ``randint(0, 2**4 - 1)``), with a *linear* output per step
regressed onto the 0/1 bits (``0.5 * sum((output - y)**2) / batch``), Adam with its defaults,
for 5,000 iterations, and calls a bit 1 when the output is above 0.5. That is the package's
``seed`` recipe with ``readout='linear'`` (this script's ``ORIGINAL``); the ``seed`` recipe as
the book has used it so far puts a sigmoid on the output (``ours, sigmoid``), and runs here as
the ablation row.

For each recipe and seed, one run of 5,000 iterations (the package's ``Trainer``, without
stopping early) records:

- the training and validation loss (the validation sample: 100 more sums drawn the same way,
  as the code's second sample) every ``--loss-every`` iterations;
- the first iteration at which the 100 training sums are all exact, and the validation sums;
- every ``--every`` iterations, exact accuracy on fresh random sums of 5, 20 and 1,000 bits
  (uniform operands: the 5-bit ones reach 31, past the training operands' 14, and get one
  step more for the final carry) and on the adversarial 1,000-bit sums, and the first
  iteration each was all exact;
- at the end, the raw outputs on fresh 1,000-bit sums by step (do they stay near 0 and 1?)
  and what ``gru_tutorial.verify`` says (a certificate, or the shortest counterexample it found).

Results: ``results/original_recipe.json`` and ``.md`` (not yet read by any chapter).
"""

from __future__ import annotations

import time
from dataclasses import replace

from _common import Run, log, markdown_table, parser

import numpy as np
import tensorflow as tf

import gru_tutorial as gt
from gru_tutorial.data import adversarial_pairs, encode_pairs, random_batch
from gru_tutorial.evaluate import score_batch
from gru_tutorial.train import Trainer, loss_function
from gru_tutorial.verify import verify

ORIGINAL = replace(gt.RECIPES["seed"], name="original", readout="linear", max_steps=5000)
RECIPES = {"original (linear readout)": ORIGINAL,
           "ours, sigmoid": replace(gt.RECIPES["seed"], max_steps=5000)}
FRESH_BITS = (5, 20, 1000)
FRESH_COUNT = {5: 1000, 20: 1000, 1000: 100}


def one_run(recipe, seed: int, steps: int, every: int, loss_every: int) -> dict:
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
        if tr.history.exact_accuracy[-1] == 1.0:
            out["first_exact"].setdefault("train", i)
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
    out["final"] = out["scores"][-1] if out["scores"] else {}
    # the raw outputs on long sums, by target bit and position
    outputs = model(tf.constant(fresh[1000].x, model.dtype)).numpy()[..., 0]
    y = fresh[1000].y[..., 0]
    spans = [(0, 5), (5, 50), (50, 500), (500, 1001)]
    out["outputs"] = {
        f"steps {a + 1}-{b}": {str(bit): np.quantile(outputs[:, a:b][y[:, a:b] == bit],
                                                     [0.0, 0.01, 0.5, 0.99, 1.0]).tolist()
                               for bit in (0, 1) if (y[:, a:b] == bit).any()}
        for a, b in spans}
    proof = verify(model, max_history=4)
    out["verify"] = {"certified": proof.certified, "failure": proof.failure,
                     "counterexample": None if proof.counterexample is None else
                     [str(proof.counterexample[0]), str(proof.counterexample[1]),
                      proof.counterexample[2]]}
    out["iterations"] = result.iterations
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--every", type=int, default=100, help="fresh sums scored every N steps")
    p.add_argument("--loss-every", type=int, default=10)
    args = p.parse_args()
    seeds = list(range(2 if args.quick else args.seeds))
    steps = 300 if args.quick else args.steps
    run = Run("original_recipe", args.quick)
    results = {"seeds": seeds, "steps": steps, "every": args.every,
               "recipes": {name: {k: str(v) for k, v in vars(r).items()}
                           for name, r in RECIPES.items()}, "runs": {}}
    rows = []
    for name, recipe in RECIPES.items():
        runs = []
        for s in seeds:
            r = one_run(recipe, s, steps, args.every, args.loss_every)
            runs.append(r)
            first = r["first_exact"]
            log(name, s, first, r["final"], r["verify"]["certified"], f"{r['seconds']:.0f}s")
            rows.append([name, s, *(first.get(k, "never") for k in
                                    ("train", "validation", "5", "20", "1000", "adversarial")),
                         *(f"{r['final'].get(str(k), float('nan')):.3f}"
                           for k in ("5", "20", "1000")),
                         "yes" if r["verify"]["certified"] else "no"])
        results["runs"][name] = runs
    table = markdown_table(
        ["recipe", "seed", "train exact at", "validation exact at", "5-bit exact at",
         "20-bit exact at", "1000-bit exact at", "adversarial exact at",
         f"exact@5 at {steps}", f"exact@20 at {steps}", f"exact@1000 at {steps}",
         "verify certified"], rows)
    run.write(results, table + "\n\"exact at\": the first iteration at which every sum of that "
              f"set was right (fresh sets scored every {args.every} iterations).\n")


if __name__ == "__main__":
    main()
