"""Size sweep: how small can a trained adder be, and still be proven right?

For each cell in ``--cells`` (default: the GRU), each hidden size in ``--units``
(default 1, 2, 3, 4, 8, 16) and each of ``--seeds`` seeds (default 20: seeds 0 .. 19),
the package's ``small`` recipe is trained with ``Trainer("small", seed, units=u,
cell=cell)`` (TensorFlow's automatic gradient for the cells without a hand-derived
one): the recipe unchanged but for its width and cell. So every run ends at its first
certificate from ``gru_tutorial.verify`` (tried every 10 steps once the held-out check
passes), or unproven at the recipe's cap (6 attempts, 4,000 steps).

Per run: proven or not, the step of the certificate, restarts, the step at which the
last attempt passed its held-out check, the certificate's size, the wall time of the
whole run (building, restarts, training, held-out checks, every ``verify`` call), and
the parameter count. Summary per cell and width: proven runs, median seconds, and the
smallest width at which some run was proven, with its parameter count. ``--name``
names the results file (default ``size_sweep``), so that other cells can be swept
into a file of their own.
"""

from __future__ import annotations

import statistics
import time

from _common import Run, log, markdown_table, parser, summary

from gru_tutorial.recipes import VERIFIABLE
from gru_tutorial.train import Trainer

UNITS = (1, 2, 3, 4, 8, 16)
QUICK_UNITS = (1, 3)


def one_run(cell: str, units: int, seed: int) -> dict:
    """The small recipe with ``units`` units of ``cell``, seed ``seed``, to its proof or cap."""
    t = time.perf_counter()
    res = Trainer("small", seed, units=units, cell=cell,
                  manual_gradient=cell == "gru").run()
    proof = res.proof
    return {"cell": cell, "units": units, "seed": seed, "proven": res.certified_at is not None,
            "certified_at": res.certified_at, "converged_at": res.converged_at,
            "restarts": res.restarts, "steps_taken": res.iterations,
            "seconds": time.perf_counter() - t,
            "params": int(sum(v.numpy().size for v in res.model.trainable_variables)),
            "boxes": proof.boxes if proof is not None and proof.certified else None,
            "failure": None if proof is None or proof.certified else proof.failure}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--cells", nargs="+", choices=VERIFIABLE, default=["gru"])
    p.add_argument("--units", type=int, nargs="+", default=None,
                   help=f"hidden sizes (default {' '.join(map(str, UNITS))}; "
                   f"--quick: {' '.join(map(str, QUICK_UNITS))})")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds 0 .. N-1 per cell and size (default 20; --quick: 2)")
    p.add_argument("--name", default="size_sweep", help="results file stem")
    args = p.parse_args()
    units = list(args.units or (QUICK_UNITS if args.quick else UNITS))
    seeds = list(range(args.seeds if args.seeds is not None else 2 if args.quick else 20))
    run = Run(args.name, args.quick)
    log(f"cells {args.cells}, units {units}, seeds {seeds[0]}..{seeds[-1]}")
    runs: list[dict] = []
    for cell in args.cells:
        for u in units:
            for s in seeds:
                r = one_run(cell, u, s)
                runs.append(r)
                log(f"{cell} units {u} seed {s}: "
                    + (f"proven at {r['certified_at']}" if r["proven"] else "not proven")
                    + f" ({r['restarts']} restarts, {r['seconds']:.1f}s)")
                report(run, runs, args.cells, units, seeds, complete=False)
    report(run, runs, args.cells, units, seeds, complete=True)


def report(run: Run, runs: list[dict], cells: list[str], units: list[int], seeds: list[int],
           complete: bool) -> None:
    """Summarise the runs so far and write them (after every run, so a stopped sweep keeps
    what it measured; ``complete`` says whether every cell, width and seed was run)."""
    summ: dict = {}
    rows = []
    for cell in cells:
        summ[cell] = {"by_units": {}, "smallest_proven": None}
        for u in units:
            rs = [r for r in runs if r["cell"] == cell and r["units"] == u]
            if not rs:
                continue
            ok = [r for r in rs if r["proven"]]
            s = {"runs": len(rs), "proven": len(ok), "params": rs[0]["params"],
                 "seconds": summary([r["seconds"] for r in rs]),
                 "proven_seconds": summary([r["seconds"] for r in ok]) if ok else None,
                 "boxes": summary([r["boxes"] for r in ok]) if ok else None,
                 "unproven_seeds": [r["seed"] for r in rs if not r["proven"]]}
            summ[cell]["by_units"][str(u)] = s
            best = summ[cell]["smallest_proven"]
            if ok and (best is None or u < best["units"]):
                summ[cell]["smallest_proven"] = {"units": u, "params": s["params"]}
            rows.append([cell, u, s["params"], f"{len(ok)}/{len(rs)}",
                         f"{statistics.median(r['seconds'] for r in rs):.1f}",
                         f"{s['proven_seconds']['median']:.1f}" if ok else "-",
                         ", ".join(map(str, s["unproven_seeds"])) or "-"])
    table = markdown_table(["cell", "units", "parameters", "proven", "median seconds",
                            "median seconds (proven runs)", "seeds not proven"], rows)
    table += ("\nThe `small` recipe (stop at the first certificate of `verify`; restarts; "
              "at most 6 attempts and 4,000 steps) with only the width and cell changed; "
              f"seeds {seeds[0]} .. {seeds[-1]}. Seconds: the whole run, every `verify` "
              "call included." + ("" if complete else " Incomplete: the sweep was stopped.")
              + "\n")
    run.write({"cells": cells, "units": units, "seeds": seeds, "recipe": "small",
               "complete": complete, "runs": runs, "summary": summ}, table)

if __name__ == "__main__":
    main()
