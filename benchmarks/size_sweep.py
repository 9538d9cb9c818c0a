"""Size sweep: how small can a trained GRU adder be?

For each hidden size in ``--units`` (default 1, 2, 3, 4, 8, 16) and each of
``--seeds`` seeds (default 20: seeds 0 .. 19), the package's ``fast`` recipe is
trained with ``Trainer("fast", seed, units=u, max_steps=cap)``: the recipe
unchanged except for its number of hidden units and its step limit, ``--cap``
iterations (default 2,000; the recipe itself gives up after 1,000). As in the
recipe, a run stops at the first step at which the network is exact on 1,000
held-out random sums each of 20, 200 and 1,000 bits plus the adversarial
1,000-bit sums; that step is its "iterations to exact". A run that never gets
there within the cap counts as a failure.

Per run: converged or not, iterations to exact, wall seconds (building the
model, tracing and the training loop with its held-out checks), and the exact
accuracy on the last training batch (measured before the last step, from the
run's ``History``). If the module ``gru_tutorial.verify`` exists when the
benchmark starts, every converged model is also passed to
``gru_tutorial.verify.verify`` and its ``certified``, ``boxes`` and ``seconds``
are recorded (an exception is recorded as a string instead); otherwise
``certified`` is None. The JSON records the SHA-256 of the verifier's source
used, as it may change between runs.

Summary per hidden size: runs, success rate within the cap, median and maximum
iterations to exact over the successful runs, median seconds over all runs, and
(with the verifier) how many converged models were certified.
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


def verify_model(verifier, model) -> dict:
    """``verifier.verify(model)``'s certified, boxes and seconds, or the error as a string."""
    t = time.perf_counter()
    try:
        v = verifier.verify(model)
        return {"certified": bool(v.certified), "boxes": int(v.boxes),
                "verify_seconds": float(v.seconds),
                "verify_failure": getattr(v, "failure", None)}
    except Exception as e:  # record it and keep sweeping
        return {"certified": None, "verify_error": f"{type(e).__name__}: {e}",
                "verify_wall_seconds": time.perf_counter() - t}


def one_run(units: int, seed: int, cap: int, verifier) -> dict:
    """The fast recipe with ``units`` hidden units and seed ``seed``, at most ``cap`` steps."""
    t = time.perf_counter()
    tr = Trainer("fast", seed, units=units, max_steps=cap)
    res = tr.run()
    seconds = time.perf_counter() - t
    converged = tr.converged_at is not None
    h = tr.history
    out = {"units": units, "seed": seed, "converged": converged,
           "iterations": tr.converged_at, "steps_taken": res.iterations,
           "seconds": seconds,
           "final_batch_exact_accuracy": h.exact_accuracy[-1] if h.exact_accuracy else None,
           "held_out_checks": len(h.checks)}
    if converged and isinstance(verifier, str):
        out.update(certified=None, verify_error=verifier)  # the module failed to import
    elif converged and verifier is not None:
        out.update(verify_model(verifier, tr.model))
    else:
        out["certified"] = None  # no verifier, or not exact even on the held-out sets
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
            r = one_run(u, s, cap, verifier)
            runs.append(r)
            result = f"exact at {r['iterations']}" if r["converged"] else "not exact"
            log(f"units {u} seed {s}: {result} ({r['steps_taken']} steps, "
                f"{r['seconds']:.1f}s, last batch exact "
                f"{r['final_batch_exact_accuracy']}, certified {r.get('certified')}"
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
            s["certified"] = sum(r.get("certified") is True for r in ok)
            s["verify_errors"] = sum("verify_error" in r for r in ok)
        summ[str(u)] = s
        it = s["iterations"]
        rows.append([u, s["runs"], f"{s['converged']}/{s['runs']} ({s['success_rate']:.0%})",
                     f"{it['median']:g}" if it else "-", it["max"] if it else "-",
                     f"{statistics.median(r['seconds'] for r in rs):.1f}",
                     (f"{s['certified']}/{s['converged']}"
                      + (f" ({s['verify_errors']} errors)" if s["verify_errors"] else ""))
                     if has_verify else "n/a",
                     ", ".join(map(str, s["failed_seeds"])) or "-"])
    table = markdown_table(["units", "runs", "exact within cap", "median iterations",
                            "max iterations", "median seconds", "certified",
                            "seeds not exact"], rows)
    table += (f"\nThe `fast` recipe unchanged except for its number of hidden units and its "
              f"step limit ({cap} iterations instead of the recipe's 1,000); seeds "
              f"{seeds[0]} .. {seeds[-1]}. \"Exact\": the recipe's stopping rule, exact on "
              "1,000 held-out random sums each of 20, 200 and 1,000 bits and on the "
              "adversarial 1,000-bit sums. Iterations are over the runs that got there; "
              "seconds (model building, tracing and training with its held-out checks) over "
              "all runs. "
              + ("Certified: converged models that `gru_tutorial.verify.verify` certified."
                 if has_verify else "Certified: n/a (no `gru_tutorial.verify` module when "
                 "this ran).") + "\n")
    run.write({"units": units, "seeds": seeds, "cap": cap, "recipe": "fast",
               "verifier": verify_info, "runs": runs, "summary": summ}, table)


if __name__ == "__main__":
    main()
