"""The page "Train it": training in the browser, timed in headless Chromium, and its numbers.

Needs the built site (``make book``) and Chromium (``apt-get install chromium``). For each of
seeds 0-9 it opens ``book/train_it.html``, presses Train and waits for the status to say
``exact`` or ``failed``; then it adds 10 random sums of two 1,000-digit numbers with the page's
adder (now the freshly trained network), downloads the weights with the page's button, runs
the package's proof (``gru_tutorial.verify``) on the downloaded file and counts the wrong sums
among 3,000 fresh random sums (the package's held-out sets of seed 1000 + seed, without the
adversarial sums, which the page's check already covers). For comparison
it trains
the package's ``small`` recipe to the same held-out check (its proof stage left out) on the same
seeds, in Python.

It also measures how the page's arithmetic relates to the package's: the loss and gradient of
the package's seed-0 initial weights on its first training batch, in the page (float64) and in
TensorFlow (float64); and the drift between the page's float64 training and the package's
float32 training fed the same batches from the same weights.

``page_text`` in the JSON holds the numbers the page quotes, as text; the book's extension
(``book/_ext/gru_adder.py``) writes them into the page at build time.
"""

from __future__ import annotations

import functools
import http.server
import json
import random
import statistics
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from _common import Run, log, markdown_table, parser

import numpy as np

import gru_tutorial as gt
from gru_tutorial.adder import AdderWeights
from gru_tutorial.data import held_out_sets, training_batches
from gru_tutorial.engine import NumpyAdder
from gru_tutorial.train import Trainer, build_model
from gru_tutorial.verify import verify
from gru_tutorial.web import read_adder_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "site"))
from sitepages import CHROMIUM_ARGS, SITE, find_chromium  # noqa: E402
from trainpage import (  # noqa: E402
    js_batch,
    js_loss_and_gradient,
    js_train,
    max_relative_difference,
    tf_loss_and_gradient,
    weights_of,
)

PAGE = "book/train_it.html"
SEEDS = list(range(10))
TIMEOUT_MS = 300_000
DRIFT_STEPS = 200
FRESH_OFFSET = 1000  # fresh held-out sums: the package's sets of seed 1000 + seed
FRESH_COUNT = 3000  # of them: 1,000 each of 20, 200 and 1,000 bits (the adversarial ones left out)


def serve(directory: Path) -> str:
    """Serve ``directory`` on a free local port in a background thread; return the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def train_in_page(page, seed: int, tmp: Path) -> dict:
    """Train one seed in the page; add 1,000-digit sums with it; download and prove its weights."""
    page.fill("#train-seed", str(seed))
    page.click("#train-start")
    page.wait_for_function(
        "['exact', 'failed'].includes(document.getElementById('train-status').dataset.state)",
        timeout=TIMEOUT_MS)
    run = page.evaluate("""() => { const r = window.gruTrain.run;
        return {state: document.getElementById('train-status').dataset.state,
                iteration: r.iteration, attempts: r.attempt, checks: r.checks, seconds: r.seconds,
                in_worker: r.inWorker}; }""")
    row = {"seed": seed, **run, "sums_right": None, "certified": None, "fresh_wrong": None}
    if run["state"] != "exact":
        return row
    rng = random.Random(seed)
    right = 0
    for _ in range(10):
        a, b = (rng.randrange(10**999, 10**1000) for _ in range(2))
        page.fill("#adder-a", str(a))
        page.fill("#adder-b", str(b))
        page.click("#adder-run")
        right += page.text_content("#adder-sum") == str(a + b)
    row["sums_right"] = right
    with page.expect_download() as download:
        page.click("#train-download")
    path = tmp / f"seed{seed}.json"
    download.value.save_as(path)
    weights = read_adder_json(path)
    row["certified"] = bool(verify(weights).certified)
    row["fresh_wrong"] = fresh_wrong(weights, seed)
    return row


def fresh_wrong(weights: AdderWeights, seed: int) -> int:
    """Wrong sums among 3,000 fresh random held-out sums (the package's sets of another seed)."""
    adder = NumpyAdder(weights)
    sets = held_out_sets("small", FRESH_OFFSET + seed)
    pairs = [(a, b) for name, batch in sets.items() if name != "adversarial"
             for a, b in zip(batch.a, batch.b, strict=True)]
    assert len(pairs) == FRESH_COUNT, len(pairs)
    return sum(adder.add(a, b) != a + b for a, b in pairs)


def python_check_iterations(seed: int) -> dict:
    """The package's small recipe to its held-out check (no proof stage), in Python."""
    recipe = replace(gt.RECIPES["small"], stop="held-out", contraction=0.0, spread=0.0)
    result = Trainer(recipe, seed).run()
    return {"seed": seed, "converged_at": result.converged_at, "restarts": result.restarts}


def same_batch(page) -> dict:
    """Seed 0's start and first batch: the page's loss and gradient against TensorFlow's."""
    weights = weights_of(AdderWeights.from_model(build_model("small", 0)))
    batch = next(training_batches("small", 0))
    js_loss, js_grads = js_loss_and_gradient(page, weights, js_batch(batch), 3)
    tf_loss, tf_grads = tf_loss_and_gradient(weights, batch, 3)
    return {"loss_js": js_loss, "loss_tf": tf_loss, "loss_diff": abs(js_loss - tf_loss),
            "grad_max_rel_diff": max_relative_difference(js_grads, tf_grads)}


def drift(page, steps: int) -> dict:
    """The package's float32 run of seed 0 and the page's float64 steps on the same batches."""
    trainer = Trainer("small", 0)
    start = weights_of(AdderWeights.from_model(trainer.model))
    source, batches = trainer.batches, []
    for _ in range(steps):  # the batch train_step will draw next, then the step itself
        batches.append(next(source))
        trainer.batches = iter(batches[-1:])
        trainer.train_step()
    py_losses = trainer.history.loss
    js_losses, js_weights = js_train(page, start, [js_batch(b) for b in batches], 3)
    py_weights = weights_of(AdderWeights.from_model(trainer.model))
    loss_diff = [abs(a - b) for a, b in zip(js_losses, py_losses, strict=True)]
    weight_diff = max(float(np.max(np.abs(np.asarray(js_weights[n]).reshape(np.shape(py_weights[n]))
                                          - np.asarray(py_weights[n])))) for n in py_weights)
    return {"steps": steps, "checks_in_python": len(trainer.history.checks),
            "loss_diff": loss_diff, "weights_max_diff_at_end": weight_diff}


def count_text(values: list[int]) -> str:
    """'from A to B' for a list of counts."""
    return f"from {min(values):,} to {max(values):,}"


def page_text(rows: list[dict], python: list[dict], comparison: dict, drifted: dict,
              machine: dict) -> dict[str, str]:
    """The numbers the page quotes, as text (``page_text`` in the JSON)."""
    exact = [r for r in rows if r["state"] == "exact"]
    seconds = [r["seconds"] for r in exact]
    iterations = [r["iteration"] for r in exact]
    py_iterations = [r["converged_at"] for r in python if r["converged_at"] is not None]
    wrong = sorted(r["fresh_wrong"] for r in exact if r["fresh_wrong"])
    if not wrong:
        fresh_text = f"none of the {len(exact)} networks got any of them wrong"
    else:
        fresh_text = (f"{len(wrong)} of the {len(exact)} networks got some wrong "
                      f"({', '.join(str(w) for w in wrong)} sums)")
    seeds = [r["seed"] for r in rows]
    start, end = machine.get("load_average_start"), machine.get("load_average_end")
    load = "unknown" if not start else f"{start[0]:.1f} at the start" + (
        f" and {end[0]:.1f} at the end" if end else "")
    return {
        "seeds": f"{seeds[0]} to {seeds[-1]}",
        "machine": f"{machine['cores']} cores ({machine['cpu_model']})",
        "runs": str(len(rows)),
        "exact": str(len(exact)),
        "median_seconds": f"{statistics.median(seconds):.1f}" if seconds else "none",
        "max_seconds": f"{max(seconds):.1f}" if seconds else "none",
        "median_iterations": f"{statistics.median(iterations):,.0f}" if iterations else "none",
        "page_range": count_text(iterations) if iterations else "none",
        "python_runs": str(len(py_iterations)),
        "python_median_iterations": f"{statistics.median(py_iterations):,.0f}",
        "python_range": count_text(py_iterations),
        "sums_right": str(sum(r["sums_right"] == 10 for r in exact)),
        "certified": str(sum(bool(r["certified"]) for r in exact)),
        "fresh_count": f"{FRESH_COUNT:,}",
        "fresh_text": fresh_text,
        "load": load,
        "same_batch_loss_diff": f"{comparison['loss_diff']:.1e}",
        "same_batch_grad_rel_diff": f"{comparison['grad_max_rel_diff']:.1e}",
        "drift_steps": str(drifted["steps"]),
        "drift_loss_1": f"{drifted['loss_diff'][0]:.1e}",
        "drift_loss_last": f"{drifted['loss_diff'][-1]:.1e}",
        "drift_weights_last": f"{drifted['weights_max_diff_at_end']:.1e}",
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--text-only", action="store_true",
                   help="recompute page_text from the stored results/train_page.json; run nothing")
    args = p.parse_args()
    if args.text_only:
        path = Path(__file__).resolve().parent / "results" / "train_page.json"
        data = json.loads(path.read_text())
        data["page_text"] = page_text(data["rows"], data["python"], data["same_batch"],
                                      data["drift"], data["machine"])
        path.write_text(json.dumps(data, indent=1) + "\n")
        return
    run = Run("train_page", quick=args.quick)
    seeds = SEEDS[:2] if args.quick else SEEDS
    if not (SITE / PAGE).is_file():
        sys.exit(f"the site is not built ({SITE / PAGE} is missing): run make book")
    chromium = find_chromium()
    if chromium is None:
        sys.exit("Chromium not found: apt-get install chromium, or set $CHROMIUM")
    from playwright.sync_api import sync_playwright

    base = serve(SITE)
    rows = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        version = browser.version
        page = browser.new_context(accept_downloads=True).new_page()
        page.goto(base + PAGE)
        page.wait_for_function("document.getElementById('train-status').dataset.state === 'idle'")
        for seed in seeds:
            rows.append(train_in_page(page, seed, Path(tmp)))
            log(rows[-1])
        comparison = same_batch(page)
        drifted = drift(page, 20 if args.quick else DRIFT_STEPS)
        browser.close()
    python = [python_check_iterations(seed) for seed in seeds]
    log(python)
    text = page_text(rows, python, comparison, drifted, run.machine)
    table = markdown_table(
        ["seed", "state", "iterations", "attempts", "seconds", "1,000-digit sums right",
         "fresh held-out sums wrong", "proven", "Python: check passed at"],
        [[r["seed"], r["state"], r["iteration"], r["attempts"], f"{r['seconds']:.1f}",
          r["sums_right"], r["fresh_wrong"], r["certified"], py["converged_at"]]
         for r, py in zip(rows, python, strict=True)])
    table += "\n" + "\n".join(f"- {k}: {v}" for k, v in text.items()) + "\n"
    run.write({"browser": f"Chromium {version}", "rows": rows, "python": python,
               "same_batch": comparison, "drift": drifted, "page_text": text}, table)


if __name__ == "__main__":
    main()
