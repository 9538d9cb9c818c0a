"""Long inference: time and exactness of single additions of 10^3 .. 10^6 bits.

Uses the bundled model, ``gru_tutorial.load_pretrained().add(a, b)``, in a fresh
process. Sequences of 1,025 steps or more run XLA-compiled, one program per
power-of-two length bucket, so the first call at a new length includes the
compile; later calls at that length do not. Two kinds of sums per length: random
operands with exactly ``n`` bits, and all-ones + 1 (a carry through every bit).
"""

from __future__ import annotations

import random
import time

from _common import Run, log, markdown_table, parser, summary

import gru_tutorial as gt
from gru_tutorial.model import XLA_MIN_STEPS, length_bucket


def timed_add(model, a: int, b: int) -> tuple[float, bool]:
    t = time.perf_counter()
    s = model.add(a, b)
    return time.perf_counter() - t, s == a + b


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    run = Run("long_inference", args.quick)
    gt.set_seed(0, deterministic_ops=False)
    sizes = [10**3, 10**4] if args.quick else [10**3, 10**4, 10**5, 10**6]
    t = time.perf_counter()
    model = gt.load_pretrained()
    load_seconds = time.perf_counter() - t
    rows_json = []
    for n in sizes:
        rnd = random.Random(n)
        cases = {"random": (rnd.getrandbits(n) | 1 << (n - 1), rnd.getrandbits(n) | 1 << (n - 1)),
                 "all ones + 1": ((1 << n) - 1, 1)}
        steps = n + 1
        xla = steps >= XLA_MIN_STEPS
        first, first_exact = timed_add(model, *cases["random"])
        row = {"bits": n, "steps": steps, "xla": xla,
               "bucket": length_bucket(steps) if xla else steps,
               "first_call_seconds": first, "cases": {}}
        all_exact = first_exact
        for name, (a, b) in cases.items():
            times, exact = [], []
            for _ in range(args.repeats):
                s, e = timed_add(model, a, b)
                times.append(s)
                exact.append(e)
            all_exact &= all(exact)
            row["cases"][name] = {"seconds": times, **summary(times), "exact": all(exact)}
        row["exact"] = all_exact
        row["compile_seconds_estimate"] = first - row["cases"]["random"]["median"]
        rows_json.append(row)
        log(n, f"first {first:.2f} s", {k: round(v['median'], 3) for k, v in row["cases"].items()},
            "exact" if all_exact else "NOT EXACT")
    rows = [[f"{r['bits']:,}", r["steps"], "yes" if r["xla"] else "no", r["bucket"],
             f"{r['first_call_seconds']:.3f}", f"{r['compile_seconds_estimate']:.3f}",
             f"{r['cases']['random']['median']:.3f}",
             f"{r['cases']['random']['min']:.3f}-{r['cases']['random']['max']:.3f}",
             f"{r['cases']['all ones + 1']['median']:.3f}",
             "yes" if r["exact"] else "no"] for r in rows_json]
    table = markdown_table(
        ["bits", "steps", "XLA", "padded to", "first call s", "compile s (first - later)",
         "random: later calls s (median)", "min-max", "all ones + 1: s (median)", "exact"],
        rows)
    table += (f"\nLoading the bundled model took {load_seconds:.2f} s. First call = the first "
              "addition at that length (random operands), which includes tracing/compiling; "
              f"later calls: {args.repeats} repeats of each sum.\n")
    run.write({"load_seconds": load_seconds, "repeats": args.repeats, "sizes": rows_json}, table)


if __name__ == "__main__":
    main()
