"""The page "Train it" (``book/train_it.md``): training the small recipe's GRU in the browser.

The page's gradient must equal finite differences and TensorFlow's (float64, to 1e-9), and its
loss TensorFlow's on the same weights and batch; a run must reach ``exact``, hand its network to
the adder on the page (which then adds unseen 1,000-digit sums right) and to a download that the
command line reads. Bad seeds, Stop, a second run, a phone-width screen and a page opened from disk
are tried too. Run ``make book`` first.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from urllib.parse import urljoin

import numpy as np
import pytest
from sitepages import ROOT, SCREENSHOTS, SITE, TIMEOUT_MS
from trainpage import (
    js_batch,
    js_loss_and_gradient,
    max_relative_difference,
    tf_loss_and_gradient,
    weights_of,
)

from gru_tutorial.adder import AdderWeights, load_pretrained
from gru_tutorial.data import (
    adversarial_pairs,
    encode_pairs,
    held_out_sets,
    random_batch,
    training_batches,
)
from gru_tutorial.engine import NumpyAdder
from gru_tutorial.recipes import RECIPES
from gru_tutorial.train import build_model
from gru_tutorial.web import read_adder_json

PAGE = "book/train_it.html"
STATE = "document.getElementById('train-status').dataset.state"
FINISHED = f"['exact', 'failed'].includes({STATE})"
FAST_SEED = 2  # passes the held-out check without a restart (157 iterations)
TRAIN_TIMEOUT_MS = 180_000  # a busy CI machine; a run takes seconds
BENCH = ROOT / "benchmarks" / "results" / "train_page.json"

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)


# ----------------------------------------------------------------------------- fixtures


class Visit:
    """The page in the browser, with the script errors seen while it was open."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(f"uncaught: {err}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text} [at {m.location.get('url', '?')}]"))

    def status(self) -> dict:
        return self.page.evaluate("""() => { const s = document.getElementById('train-status');
            return {state: s.dataset.state, iteration: Number(s.dataset.iteration),
                    text: s.textContent}; }""")

    def train(self, seed: str) -> dict:
        """Type ``seed``, press Train and wait for the run to end; the status."""
        self.page.fill("#train-seed", seed)
        self.page.click("#train-start")
        assert self.status()["state"] == "training"
        self.page.wait_for_function(FINISHED, timeout=TRAIN_TIMEOUT_MS)
        return self.status()

    def add(self, a: int, b: int) -> str:
        page = self.page
        page.fill("#adder-a", str(a))
        page.fill("#adder-b", str(b))
        page.click("#adder-run")
        return page.text_content("#adder-sum")


def open_visit(context, url: str) -> Visit:
    page = context.new_page()
    visit = Visit(page)
    page.goto(url, wait_until="load")
    page.wait_for_function(f"{STATE} === 'idle'")
    return visit


@pytest.fixture(scope="module")
def visit(browser, base_url):
    if not (SITE / PAGE).is_file():
        pytest.skip(f"{PAGE} was not built (run make book)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block",
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield open_visit(context, urljoin(base_url, PAGE))
    context.close()


@pytest.fixture
def fresh(visit):
    """The page, checked after each test for script errors."""
    yield visit
    assert not visit.errors, "\n".join(visit.errors)


@pytest.fixture(scope="module")
def trained(visit):
    """The page after training FAST_SEED to exact: (status, exported weights)."""
    status = visit.train(str(FAST_SEED))
    assert status["state"] == "exact", status
    return status, visit.page.evaluate("gruTrain.run.exported")


# ----------------------------------------------------------------------------- the gradient


def perturbed(weights: dict, seed: int, scale: float) -> dict:
    rng = np.random.default_rng(seed)
    return {k: (np.asarray(v) + scale * rng.standard_normal(np.shape(v))).tolist()
            for k, v in weights.items()}


def cases():
    """(weights, batch): the package's seed-0 start on its first batch, and trained weights."""
    start = weights_of(AdderWeights.from_model(build_model("small", 0)))
    bundled = weights_of(load_pretrained())
    mixed = random_batch(7, 16, rng=3, mixed_density=True)
    return [("seed-0 start, first batch", start, next(training_batches("small", 0))),
            ("bundled, mixed sums", bundled, mixed),
            ("bundled perturbed, 40-bit sums", perturbed(bundled, 1, 0.3),
             random_batch(5, 40, rng=4, mixed_density=True)),
            ("random large weights", perturbed(start, 2, 2.0), random_batch(6, 12, rng=5))]


@pytest.mark.parametrize("case", range(4))
def test_gradient_and_loss_equal_tensorflow_in_float64(fresh, case):
    name, weights, batch = cases()[case]
    js_loss, js_grads = js_loss_and_gradient(fresh.page, weights, js_batch(batch), 3)
    tf_loss, tf_grads = tf_loss_and_gradient(weights, batch, 3)
    assert abs(js_loss - tf_loss) <= 1e-12 * max(1.0, tf_loss), (name, js_loss, tf_loss)
    assert max_relative_difference(js_grads, tf_grads) <= 1e-9, name


def test_gradient_equals_finite_differences(fresh):
    """Central differences of the page's own loss, in float64, for every weight."""
    name, weights, batch = cases()[2]
    b = js_batch(batch)
    _, grads = js_loss_and_gradient(fresh.page, weights, b, 3)
    fd = fresh.page.evaluate("""([w, b]) => {
        const G = window.GRUTrain, eps = 1e-5, out = {};
        const W = Object.fromEntries(
          G.WEIGHT_NAMES.map(n => [n, Float64Array.from([w[n]].flat(2))]));
        const B = {count: b.count, T: b.T, k: Uint8Array.from(b.k), y: Uint8Array.from(b.y)};
        for (const n of G.WEIGHT_NAMES) {
          out[n] = Array.from(W[n], (v, i) => {
            W[n][i] = v + eps; const up = G.lossAndGradient(W, 3, B).loss;
            W[n][i] = v - eps; const down = G.lossAndGradient(W, 3, B).loss;
            W[n][i] = v;
            return (up - down) / (2 * eps);
          });
        }
        return out;
    }""", [weights, b])
    fd = {k: np.array(v) for k, v in fd.items()}
    assert max_relative_difference(grads, fd) <= 1e-8, name


def test_a_wrong_gradient_would_be_caught(fresh):
    """The comparison can fail: TensorFlow's gradient of another batch is far from the page's."""
    _, weights, batch = cases()[0]
    _, js_grads = js_loss_and_gradient(fresh.page, weights, js_batch(batch), 3)
    _, other = tf_loss_and_gradient(weights, random_batch(100, 16, rng=9, mixed_density=True), 3)
    assert max_relative_difference(js_grads, other) > 1e-3


def test_the_page_trains_the_small_recipe(fresh):
    """The JavaScript's settings are the package's small recipe's, and the page quotes them."""
    r = RECIPES["small"]
    js = fresh.page.evaluate("GRUTrain.RECIPE")
    assert (js["name"], js["units"], js["learningRate"], js["batchSize"], js["trainBits"],
            tuple(js["evalBits"]), js["evalCount"], js["restartAfter"], js["attempts"],
            js["maxSteps"]) == (r.name, r.units, r.learning_rate, r.batch_size, r.train_bits,
                                r.eval_bits, r.eval_count, r.restart_after, r.attempts,
                                r.max_steps)
    assert (r.init, r.loss, r.dtype, r.mixed_density, r.eval_mixed_density, r.eval_adversarial) \
        == ("keras", "bce", "float32", True, True, True)  # what the JavaScript implements
    quoted = dict(fresh.page.eval_on_selector_all(
        ".train-recipe", "els => els.map(e => [e.dataset.key, e.textContent])"))
    assert quoted["restart_after"] == f"{r.restart_after:,}" and quoted["units"] == str(r.units)
    assert "?" not in quoted.values(), quoted


@pytest.mark.parametrize("bits", [2, 3, 12, 1000])
def test_the_adversarial_sums_are_the_package_s(fresh, bits):
    """The page's held-out check uses gru_tutorial.data.adversarial_pairs, sum for sum."""
    js = fresh.page.evaluate("""bits => { const s = GRUTrain.adversarialSums(bits);
        return {count: s.count, T: s.T, k: Array.from(s.k), y: Array.from(s.y)}; }""", bits)
    pairs = list(adversarial_pairs(bits).values())
    assert js == js_batch(encode_pairs([a for a, _ in pairs], [b for _, b in pairs], bits + 1))


# ----------------------------------------------------------------------------- a run


def test_the_page_starts_idle_with_its_measured_numbers(fresh):
    page = fresh.page
    assert fresh.status()["state"] == "idle"
    assert page.is_enabled("#train-start") and not page.is_enabled("#train-stop")
    assert not page.is_enabled("#train-download")
    quoted = json.loads(BENCH.read_text())["page_text"]
    spans = page.eval_on_selector_all(
        ".train-bench", "els => els.map(e => [e.dataset.key, e.textContent])")
    assert spans and all(text == quoted[key] and text != "?" for key, text in spans), spans


def test_a_run_ends_exact_and_the_adder_adds_unseen_long_sums(fresh, trained):
    status, exported = trained
    assert status["iteration"] > 0 and f"iteration {status['iteration']}" in status["text"]
    assert fresh.page.evaluate("gruTrain.run.inWorker") is True
    assert "trained in this page" in fresh.page.text_content("#adder-model")
    assert f"seed {FAST_SEED}" in fresh.page.text_content("#adder-model")
    shown = fresh.page.evaluate("gruAdder.model.exported")
    assert shown == exported
    rng = random.Random(23)
    for _ in range(5):
        a, b = (rng.randrange(10**999, 10**1000) for _ in range(2))
        assert fresh.add(a, b) == str(a + b)


def test_the_page_adds_as_the_package_runs_the_downloaded_weights(fresh, trained, tmp_path):
    """Sum for sum, the page's adder and the package's NumPy engine agree on the trained network.

    Right or wrong: passing the held-out check is evidence, not proof, and a network trained in
    the page can get a rare fresh sum wrong (the benchmark counts them). The two must make the
    same decisions, since both run the same float32 weights in float32.
    """
    _, exported = trained
    path = tmp_path / "w.json"
    path.write_text(json.dumps(exported))
    adder = NumpyAdder(read_adder_json(path))
    sets = held_out_sets("small", 11)
    pairs = [*zip(sets[200].a[:300], sets[200].b[:300], strict=True),
             *zip(sets["adversarial"].a, sets["adversarial"].b, strict=True)]
    page = fresh.page.evaluate("""pairs => pairs.map(([a, b]) => gruAdder.run(a, b).sum)""",
                               [[str(a), str(b)] for a, b in pairs])
    assert page == [str(adder.add(a, b)) for a, b in pairs]


def test_the_download_is_the_network_and_the_command_line_reads_it(fresh, trained, tmp_path):
    _, exported = trained
    with fresh.page.expect_download() as info:
        fresh.page.click("#train-download")
    download = info.value
    assert download.suggested_filename == f"gru-adder-seed{FAST_SEED}.json"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert json.loads(path.read_text()) == exported
    a, b = 2**3000 - 1, 12345678987654321
    cli = [sys.executable, "-m", "gru_tutorial"]
    out = subprocess.run([*cli, "add", str(a), str(b), "--model", str(path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(a + b)
    proof = subprocess.run([*cli, "verify", "--model", str(path), "--json"],
                           capture_output=True, text=True, timeout=600)
    assert proof.returncode in (0, 1), proof.stderr
    assert "certified" in json.loads(proof.stdout)


def test_the_same_seed_trains_the_same_run(fresh, trained):
    status, exported = trained
    again = fresh.train(str(FAST_SEED))
    assert again["state"] == "exact" and again["iteration"] == status["iteration"]
    assert fresh.page.evaluate("gruTrain.run.exported") == exported


# ------------------------------------------------------------------ bad input, stop, again


@pytest.mark.parametrize("seed", ["", "  ", "-1", "1.5", "1e3", "abc", "0x10", "4294967296",
                                  "99999999999999999999", "+3", "1 2"])
def test_a_bad_seed_names_the_range_and_trains_nothing(fresh, seed):
    page = fresh.page
    before = fresh.status()
    page.fill("#train-seed", seed)
    page.click("#train-start")
    message = page.text_content("#train-error")
    assert "seed" in message.lower() and "4,294,967,295" in message, message
    assert page.get_attribute("#train-seed", "aria-invalid") == "true"
    assert fresh.status() == before
    page.fill("#train-seed", str(FAST_SEED))


def test_stop_mid_run_then_a_second_run(fresh):
    page = fresh.page
    page.fill("#train-seed", "0")  # seed 0 restarts once: long enough to stop (971 iterations)
    page.click("#train-start")
    assert page.text_content("#train-error") == ""
    page.wait_for_function(f"{STATE} === 'training' && "
                           "Number(document.getElementById('train-status').dataset.iteration) > 0")
    page.click("#train-stop")
    stopped = fresh.status()
    assert stopped["state"] == "stopped", stopped
    page.wait_for_timeout(500)
    assert fresh.status() == stopped  # no message from the stopped run changes it
    assert page.is_enabled("#train-start") and not page.is_enabled("#train-stop")
    # the adder keeps the last network that passed its check, and the button downloads that one
    kept = page.evaluate("gruAdder.model.exported.source.seed")
    assert f"seed {kept}" in page.text_content("#adder-model")
    assert f"seed{kept}.json" in page.text_content("#train-download-note")
    second = fresh.train("  004 ")  # spaces around the seed and leading zeros are ignored
    assert second["state"] == "exact"
    assert page.evaluate("gruTrain.run.seed") == 4
    assert page.evaluate("gruTrain.run.history.iteration[0]") == 1
    assert "seed 4" in page.text_content("#adder-model")


# ----------------------------------------------------------------------------- other screens


def test_the_live_status_changes_with_the_state_only(fresh):
    """A screen reader hears a run start and end, not every progress report (aria-live)."""
    page = fresh.page
    assert page.get_attribute("#train-status", "aria-live") == "polite"
    assert page.get_attribute("#train-progress", "aria-live") in (None, "off")
    page.fill("#train-seed", "0")
    page.click("#train-start")
    texts, iterations = set(), set()
    for _ in range(5):
        page.wait_for_timeout(100)
        status = fresh.status()
        if status["state"] != "training":
            break
        texts.add(status["text"])
        iterations.add(status["iteration"])
    page.click("#train-stop") if fresh.status()["state"] == "training" else None
    assert texts == {"Training seed 0."}, texts
    assert len(iterations) > 1  # data-iteration follows the run


def test_the_plots_follow_the_width_of_the_page(fresh, trained):
    """After a resize the canvases are redrawn at their new size, not stretched or squeezed."""
    page = fresh.page
    sizes = """() => [...document.querySelectorAll('#train-widget canvas')].map(c =>
        ({css: c.clientWidth, bitmap: c.width / (window.devicePixelRatio || 1),
          box: c.parentElement.getBoundingClientRect().width}))"""
    try:
        for width in (390, 1280, 800):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(300)
            for canvas in page.evaluate(sizes):
                assert abs(canvas["bitmap"] - canvas["css"]) <= 1, (width, canvas)
                assert canvas["css"] <= canvas["box"], (width, canvas)
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_phone_width(browser, base_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True,
                                  is_mobile=True, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        visit = open_visit(context, urljoin(base_url, PAGE))
        status = visit.train(str(FAST_SEED))
        assert status["state"] == "exact"
        sizes = visit.page.evaluate("""() => ({page: document.documentElement.scrollWidth,
            viewport: window.innerWidth,
            canvases: [...document.querySelectorAll('#train-widget canvas')].map(
                c => c.getBoundingClientRect().right)})""")
        assert sizes["page"] <= sizes["viewport"] == 390, sizes
        assert all(right <= 390 for right in sizes["canvases"]), sizes
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        visit.page.locator("#train-widget").screenshot(path=str(SCREENSHOTS / "train_it-phone.png"))
        assert not visit.errors, visit.errors
    finally:
        context.close()


def test_the_page_trains_when_opened_from_disk(browser, site_dir):
    """From file:// a worker may not start; the page then trains on its own thread."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        visit = open_visit(context, (site_dir / PAGE).resolve().as_uri())
        assert visit.train(str(FAST_SEED))["state"] == "exact"
        assert not visit.errors, visit.errors
    finally:
        context.close()


def test_screenshot_after_training(fresh, trained):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "train_it-exact.png"
    fresh.page.locator("#train-widget").screenshot(path=str(path))
    assert path.stat().st_size > 10_000
