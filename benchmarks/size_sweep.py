"""Size sweep: how small can a trained GRU adder be?

For each hidden size in ``--units`` (default 1, 2, 3, 4, 8, 16) and each of
``--seeds`` seeds (default 20: seeds 0 .. 19), the package's ``fast`` recipe is
trained with ``Trainer("fast", seed, units=u, max_steps=cap, manual_gradient=False)``:
the recipe unchanged except for its number of hidden units, its step limit and
TensorFlow's automatic gradient in place of the hand-derived one (as when the
stored results were measured), ``--cap``
iterations (default 2,000; the recipe itself gives up after 1,000). As in the
recipe, a run stops at the first step at which the network is exact on 1,000
held-out random sums each of 20, 200 and 1,000 bits plus the adversarial
1,000-bit sums; that step is its "iterations to exact". A run that never gets
there within the cap counts as a failure.

Every run is trained on for ``--extra`` more steps (default 100, as in the
``small`` recipe that made the bundled model) after the stopping rule is met,
but never past the cap. Per run: converged or not, iterations to exact, steps
taken, wall seconds of the whole run (building the model, tracing, the training
loop with its held-out checks, and the extra steps), the exact
accuracy on the last training batch (from the run's ``History``), whether the
held-out sets are still all exact after the extra steps, and the verdicts of
``gru_tutorial.verify.verify`` (with ``max_history=--max-history``, default 5)
on the model as it was when the stopping rule was met and after the extra
steps, with the certificate sizes. The JSON records the SHA-256 of the
verifier's source used.

Summary per hidden size: runs, success rate within the cap, median and maximum
iterations to exact over the successful runs, median seconds over all runs, and
how many converged models were certified at the stopping rule and after the
extra steps.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import statistics
import time
from pathlib import Path

from _common import Run, log, markdown_table, parser, summary

import gru_tutorial as gt
from gru_tutorial.adder import AdderWeights
from gru_tutorial.train import Trainer

UNITS = (1, 2, 3, 4, 8, 16)
QUICK_UNITS = (1, 3)


def load_verifier() -> tuple[object | None, dict]:
    """``gru_tutorial.verify`` if it exists, and facts about it for the results.

    Returns the module (or None when there is none or it fails to import, the
    error then recorded) and ``{"present", "sha256", "import_error"}``.
    """
    spec = importlib.util.find_spec("gru_tutorial.verify")
    info: dict = {"present": spec is not None, "sha256": None, "import_error": None}
    if spec is None:
        return None, info
    if spec.origin:
        info["sha256"] = hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()
    try:
        return importlib.import_module("gru_tutorial.verify"), info
    except Exception as e:  # record it; the sweep itself does not need the verifier
        info["import_error"] = f"{type(e).__name__}: {e}"
        return None, info


def verify_model(verifier, weights, max_history: int) -> dict:
    """``verifier.verify``'s certified, boxes, history and seconds, or the error as a string."""
    t = time.perf_counter()
    try:
        v = verifier.verify(weights, max_history=max_history)
        return {"certified": bool(v.certified), "boxes": int(v.boxes), "history": int(v.history),
                "seconds": float(v.seconds), "failure": v.failure}
    except Exception as e:  # record it and keep sweeping
        return {"certified": None, "error": f"{type(e).__name__}: {e}",
                "seconds": time.perf_counter() - t}


def one_run(units: int, seed: int, cap: int, extra: int, verifier, max_history: int) -> dict:
    """The fast recipe with ``units`` hidden units and seed ``seed``, at most ``cap`` steps,
    then ``extra`` steps more once exact."""
    t = time.perf_counter()
    # TensorFlow's automatic gradient, as when the stored results were measured
    tr = Trainer("fast", seed, units=units, max_steps=cap, extra_steps=extra,
                 manual_gradient=False)
    at_rule = []
    if verifier is not None and not isinstance(verifier, str):
        tr.add_callback(lambda r: at_rule.append(AdderWeights.from_model(r.model))
                        if r.iteration == r.converged_at else None)
    res = tr.run()
    seconds = time.perf_counter() - t
    converged = tr.converged_at is not None
    h = tr.history
    out = {"units": units, "seed": seed, "converged": converged,
           "iterations": tr.converged_at, "steps_taken": res.iterations,
           "seconds": seconds,
           "final_batch_exact_accuracy": h.exact_accuracy[-1] if h.exact_accuracy else None,
           "held_out_checks": len(h.checks),
           "still_exact": (all(v.exact_accuracy == 1.0 for v in res.evaluation.values())
                           if converged else None)}
    if converged and isinstance(verifier, str):
        out["verify_error"] = verifier  # the module failed to import
    elif converged and verifier is not None:
        out["at_rule"] = verify_model(verifier, at_rule[0], max_history)
        out["after_extra"] = verify_model(verifier, AdderWeights.from_model(tr.model),
                                          max_history)
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--units", type=int, nargs="+", default=None,
                   help=f"hidden sizes (default {' '.join(map(str, UNITS))}; "
                   f"--quick: {' '.join(map(str, QUICK_UNITS))})")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds 0 .. N-1 per hidden size (default 20; --quick: 2)")
    p.add_argument("--cap", type=int, default=None,
                   help="at most this many iterations per run (default 2000; --quick: 100)")
    p.add_argument("--extra", type=int, default=100,
                   help="steps to train on after the stopping rule (default 100)")
    p.add_argument("--max-history", type=int, default=5,
                   help="verify's max_history (default 5)")
    args = p.parse_args()
    units = list(args.units or (QUICK_UNITS if args.quick else UNITS))
    seeds = list(range(args.seeds if args.seeds is not None else 2 if args.quick else 20))
    cap = args.cap if args.cap is not None else 100 if args.quick else 2000
    verifier, verify_info = load_verifier()
    has_verify = verify_info["present"]
    if verify_info["import_error"]:
        verifier = "import failed: " + verify_info["import_error"]
    run = Run("size_sweep", args.quick)
    gt.set_seed(0)
    log(f"units {units}, seeds {seeds[0]}..{seeds[-1]}, cap {cap}, verifier "
        f"{'yes' if has_verify else 'no'}")
    runs = []
    for u in units:
        for s in seeds:
            r = one_run(u, s, cap, args.extra, verifier, args.max_history)
            runs.append(r)
            result = f"exact at {r['iterations']}" if r["converged"] else "not exact"
            log(f"units {u} seed {s}: {result} ({r['steps_taken']} steps, "
                f"{r['seconds']:.1f}s, last batch exact "
                f"{r['final_batch_exact_accuracy']}, certified at the rule "
                f"{r.get('at_rule', {}).get('certified')}, after {args.extra} more "
                f"{r.get('after_extra', {}).get('certified')}"
                + (f", {r['verify_error']}" if "verify_error" in r else "") + ")")
    summ = {}
    rows = []
    for u in units:
        rs = [r for r in runs if r["units"] == u]
        ok = [r for r in rs if r["converged"]]
        its = [r["iterations"] for r in ok]
        s = {"runs": len(rs), "converged": len(ok), "success_rate": len(ok) / len(rs),
             "iterations": summary(its) if its else None,
             "seconds": summary([r["seconds"] for r in rs]),
             "failed_seeds": [r["seed"] for r in rs if not r["converged"]]}
        if has_verify:
            s["certified_at_rule"] = sum(r.get("at_rule", {}).get("certified") is True
                                         for r in ok)
            s["certified_after_extra"] = sum(r.get("after_extra", {}).get("certified") is True
                                             for r in ok)
            s["still_exact"] = sum(r["still_exact"] is True for r in ok)
            s["verify_errors"] = sum("verify_error" in r or "error" in r.get("at_rule", {})
                                     or "error" in r.get("after_extra", {}) for r in ok)
        summ[str(u)] = s
        it = s["iterations"]
        rows.append([u, s["runs"], f"{s['converged']}/{s['runs']} ({s['success_rate']:.0%})",
                     f"{it['median']:g}" if it else "-", it["max"] if it else "-",
                     f"{statistics.median(r['seconds'] for r in rs):.1f}",
                     (f"{s['certified_at_rule']} / {s['certified_after_extra']}"
                      + (f" ({s['verify_errors']} errors)" if s["verify_errors"] else ""))
                     if has_verify else "n/a",
                     ", ".join(map(str, s["failed_seeds"])) or "-"])
    table = markdown_table(["units", "runs", "exact within cap", "median iterations",
                            "max iterations", "median seconds",
                            "certified at rule / after extra",
                            "seeds not exact"], rows)
    table += (f"\nThe `fast` recipe unchanged except for its number of hidden units and its "
              f"step limit ({cap} iterations instead of the recipe's 1,000); seeds "
              f"{seeds[0]} .. {seeds[-1]}. \"Exact\": the recipe's stopping rule, exact on "
              "1,000 held-out random sums each of 20, 200 and 1,000 bits and on the "
              "adversarial 1,000-bit sums. Iterations are over the runs that got there; "
              "seconds (model building, tracing, training with its held-out checks and the "
              "extra steps) over "
              "all runs. "
              + (f"Certified: converged models that `gru_tutorial.verify.verify` (max_history "
                 f"{args.max_history}) certified when the stopping rule was met / after "
                 f"{args.extra} more steps."
                 if has_verify else "Certified: n/a (no `gru_tutorial.verify` module when "
                 "this ran).") + "\n")
    run.write({"units": units, "seeds": seeds, "cap": cap, "recipe": "fast",
               "extra_steps": args.extra, "max_history": args.max_history,
               "verifier": verify_info, "runs": runs, "summary": summ}, table)


if __name__ == "__main__":
    main()
