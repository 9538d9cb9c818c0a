"""The page "Try it" (``book/try_it.md``): the bundled adder running in the browser.

The page's sums must equal those of the bundled TensorFlow model digit for digit, its readouts
(logits) must equal TensorFlow's to within 1e-5, and bit for bit a float32 reference of the
arithmetic the page promises (every operation rounded to float32, as with ``Math.fround``).
Its weights must be the package's, exported at build time. Run ``make book`` first.
"""

from __future__ import annotations

import json
import math
import random
import sys
from urllib.parse import urljoin

import numpy as np
import pytest
from sitepages import ROOT, SCREENSHOTS, SITE, TIMEOUT_MS

from gru_tutorial import web

PAGE = "book/try_it.html"
ABS_TOL = 1e-5  # the page's logits vs TensorFlow's; the largest difference seen is ~7e-6
DONE = "() => document.getElementById('adder-widget').dataset.state === 'done'"
ERROR = "() => document.getElementById('adder-widget').dataset.state === 'error'"

# Python cannot print or parse the 100,000-digit numbers of the limit test by default.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tf_model():
    """The bundled TensorFlow model (BitAdder), the reference for the page's sums."""
    from gru_tutorial.saving import load_pretrained

    return load_pretrained()


class Visit:
    """The page in the browser, with what went wrong while it was open."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []

    def add(self, a: str, b: str, expect_error: bool = False) -> str:
        """Type ``a`` and ``b``, press Add, wait for the answer; the text of ``adder-sum``."""
        page = self.page
        page.evaluate("() => { document.getElementById('adder-widget').dataset.state = 'busy'; }")
        page.fill("#adder-a", a)
        page.fill("#adder-b", b)
        page.click("#adder-run")
        page.wait_for_function(ERROR if expect_error else DONE)
        return page.text_content("#adder-sum")


def open_page(page, base_url) -> Visit:
    """Open the page, recording script errors and requests, once its example sum is computed."""
    v = Visit(page)
    page.on("pageerror", lambda err: v.errors.append(f"uncaught: {err}"))
    page.on("console", lambda m: m.type == "error" and v.errors.append(
        f"console: {m.text} [at {m.location.get('url', '?')}]"))
    page.on("request", lambda req: v.requests.append(req.url))
    page.goto(urljoin(base_url, PAGE), wait_until="load")
    page.wait_for_function(DONE)
    return v


@pytest.fixture(scope="module")
def visit(browser_context, base_url):
    """The page, served from 127.0.0.1, once the example sum on it has been computed."""
    if not (SITE / PAGE).is_file():
        pytest.skip(f"{PAGE} was not built (run make book)")
    page = browser_context.new_page()
    yield open_page(page, base_url)
    page.close()


@pytest.fixture
def fresh(visit):
    """The page, checked after each test for script errors and requests leaving localhost."""
    start = len(visit.requests)
    yield visit
    assert not visit.errors, "\n".join(visit.errors)
    outside = [u for u in visit.requests[start:] if not u.startswith("http://127.0.0.1:")]
    assert not outside, outside


# ----------------------------------------------------------------------------- references


def steps_of(a: int, b: int) -> int:
    """Time steps of a sum in the package: one more than the longer operand has bits."""
    return max(a.bit_length(), b.bit_length()) + 1


def tf_logits(model, a: int, b: int) -> np.ndarray:
    """The TensorFlow model's logits for ``a + b`` (float32, one per step)."""
    from gru_tutorial.data import encode_pairs

    x = encode_pairs([a], [b]).x
    assert x.shape == (1, steps_of(a, b), 2)
    return model(x.astype(np.float32)).numpy()[0, :, 0]


def float32_reference(exported: dict, a: int, b: int) -> np.ndarray:
    """The page's arithmetic in NumPy float32: the logits it must produce, bit for bit.

    The GRU of ``gru_tutorial.cell.GRUCell`` (reset before ``U_h``, ``h = (1 - z) h + z c``)
    with the input terms ``x W + b`` of the four input pairs precomputed, every sum and product
    rounded to float32 in the same order as ``book/_static/gru-adder.js``, and sigmoid and tanh
    computed in double and rounded once. Rounding a double sum or product of two float32 values to
    float32 gives the correctly rounded float32 result, so NumPy's float32 operations and
    JavaScript's ``Math.fround`` agree exactly.
    """
    f32 = np.float32
    w = {k: np.array(v, dtype=f32) for k, v in exported["weights"].items()}
    u = exported["units"]
    table = {}
    for k in range(4):
        x0, x1 = f32(k >> 1), f32(k & 1)
        table[k] = {g: [(x0 * w[f"W_{g}"][0, j] + x1 * w[f"W_{g}"][1, j]) + w[f"b_{g}"][j]
                        for j in range(u)] for g in "zrh"}
    h = [f32(0)] * u
    out = []
    for t in range(steps_of(a, b)):
        row = table[2 * ((a >> t) & 1) + ((b >> t) & 1)]
        hz, hr = [f32(0)] * u, [f32(0)] * u
        for i in range(u):
            for j in range(u):
                hz[j] = hz[j] + h[i] * w["U_z"][i, j]
                hr[j] = hr[j] + h[i] * w["U_r"][i, j]
        z = [f32(1 / (1 + math.exp(-float(row["z"][j] + hz[j])))) for j in range(u)]
        r = [f32(1 / (1 + math.exp(-float(row["r"][j] + hr[j])))) for j in range(u)]
        rh = [r[j] * h[j] for j in range(u)]
        hh = [f32(0)] * u
        for i in range(u):
            for j in range(u):
                hh[j] = hh[j] + rh[i] * w["U_h"][i, j]
        logit = f32(0)
        for j in range(u):
            candidate = f32(math.tanh(float(row["h"][j] + hh[j])))
            h[j] = (f32(1) - z[j]) * h[j] + z[j] * candidate
            logit = logit + h[j] * w["V"][j, 0]
        out.append(logit + w["c"][0])
    return np.array(out, dtype=f32)


def run_in_page(page, a: int, b: int) -> dict:
    """``gruAdder.run`` on the page, with the arrays as lists."""
    return page.evaluate(
        """([a, b]) => { const r = gruAdder.run(a, b);
           return {ok: r.ok, sum: r.sum, steps: r.steps, bits: Array.from(r.bits),
                   logits: Array.from(r.logits), correct: r.correct}; }""",
        [str(a), str(b)],
    )


FIXED = [
    (0, 0), (1, 0), (0, 1), (5, 7), (3, 1), (1, 1), (255, 1), (6, 123456789),
    (123456789, 987654321), (2**64 - 1, 1), (2**2000 - 1, 1), (1, 2**2000 - 1),
    (2**100, 0), (2**100, 2**100), (2**63, 2**64), (2**1000, 2**999 - 1), (2**2000, 2**2000),
]


def random_pairs(count: int = 24, seed: int = 2024) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    pairs = []
    for i in range(count):
        bits_a = rng.choice([1, 2, 7, 30, 64, 65, 300, 1000, 2000])
        bits_b = bits_a if i % 2 else rng.randint(1, 2000)
        pairs.append((rng.getrandbits(bits_a), rng.getrandbits(bits_b)))
    pairs += [(rng.getrandbits(2000) | 1 << 1999, rng.getrandbits(2000) | 1 << 1999)
              for _ in range(4)]
    return pairs


# ----------------------------------------------------------------------------- the weights


def test_the_site_carries_the_exported_weights(site_dir):
    path = site_dir / "_static" / web.JS_NAME
    assert path.is_file(), f"{path} is missing: the extension book/_ext/gru_adder.py did not run"
    text = path.read_text(encoding="utf-8")
    assert web.parse_adder_js(text) == web.export_adder(), f"{path} is stale or edited: make book"
    assert text == web.adder_js()


def test_the_weights_file_is_not_in_the_source_tree():
    found = [p for p in ROOT.joinpath("book").rglob("*") if p.name == web.JS_NAME]
    found += [p for p in (ROOT / "_static" / web.JS_NAME,) if p.exists()]
    assert not found, f"generated at build time, never stored in the sources: {found}"


def test_the_page_runs_the_exported_weights(fresh):
    on_page = json.loads(fresh.page.evaluate("() => JSON.stringify(window.GRU_ADDER)"))
    assert on_page == web.export_adder()
    scripts = fresh.page.evaluate(
        "() => Array.from(document.scripts).map(s => s.getAttribute('src')).filter(Boolean)")
    weights = [s for s in scripts if web.JS_NAME in s]
    assert weights and all(s.startswith("../_static/") for s in weights), weights


# ----------------------------------------------------------------------------- sums


def test_the_example_on_the_page_is_computed(fresh):
    page = fresh.page
    a, b = page.input_value("#adder-a"), page.input_value("#adder-b")
    assert page.text_content("#adder-sum") == str(int(a) + int(b))
    assert "Correct" in page.text_content("#adder-verdict")


@pytest.mark.parametrize("a, b", FIXED,
                         ids=[f"{a.bit_length()}b+{b.bit_length()}b" for a, b in FIXED])
def test_fixed_sums_equal_the_tensorflow_model(fresh, tf_model, a, b):
    expected = tf_model.add(a, b)
    got = fresh.add(str(a), str(b))
    assert got == str(expected), f"page {got} != TensorFlow {expected}"
    assert got == str(a + b)  # the bundled model is right, and the page says so
    sum_el = fresh.page.locator("#adder-sum")
    assert sum_el.get_attribute("data-correct") == "true"
    assert sum_el.get_attribute("data-steps") == str(steps_of(a, b))
    assert fresh.page.text_content("#adder-error") == ""


def test_random_sums_equal_the_tensorflow_model(fresh, tf_model):
    pairs = random_pairs()
    assert max(max(a.bit_length(), b.bit_length()) for a, b in pairs) == 2000
    wrong = []
    for a, b in pairs:
        got = fresh.add(str(a), str(b))
        expected = str(tf_model.add(a, b))
        if got != expected:
            wrong.append(f"{a} + {b}: page {got}, TensorFlow {expected}")
    assert not wrong, "\n".join(wrong)


def test_the_digit_limit(fresh):
    limit = fresh.page.evaluate("() => gruAdder.MAX_DIGITS")
    assert limit >= 10_000
    shown = {t.strip() for t in fresh.page.locator(".adder-limit").all_text_contents()}
    assert shown == {f"{limit:,}"}, f"the page states the limit as {shown}, the script has {limit}"
    # the largest numbers allowed: limit nines plus one, a carry through every step
    got = fresh.add("9" * limit, "1")
    assert got == "1" + "0" * limit
    assert fresh.page.locator("#adder-sum").get_attribute("data-correct") == "true"
    got = fresh.add("9" * (limit + 1), "1", expect_error=True)
    assert got == ""
    assert f"{limit + 1:,} digits" in fresh.page.text_content("#adder-error")


def test_surrounding_whitespace_is_ignored(fresh):
    assert fresh.add("  5 ", "\t7\n") == "12"
    assert fresh.add("007", "0") == "7"  # leading zeros are fine


# ----------------------------------------------------------------------------- logits


LOGIT_CASES = [(0, 0), (5, 7), (123456789, 987654321), (2**64 - 1, 1),
               (random.Random(7).getrandbits(300), random.Random(8).getrandbits(280))]


@pytest.mark.parametrize("a, b", LOGIT_CASES, ids=[f"case{i}" for i in range(len(LOGIT_CASES))])
def test_logits_equal_tensorflow_and_the_float32_reference(fresh, tf_model, a, b):
    got = run_in_page(fresh.page, a, b)
    assert got["ok"] and got["steps"] == steps_of(a, b)
    logits = np.array(got["logits"], dtype=np.float64)
    expected = tf_logits(tf_model, a, b).astype(np.float64)
    assert logits.shape == expected.shape
    np.testing.assert_allclose(logits, expected, rtol=0, atol=ABS_TOL)
    np.testing.assert_array_equal(np.array(got["bits"]), (expected > 0).astype(int))
    # exactly the float32 arithmetic the page promises (a missing Math.fround shows up here)
    reference = float32_reference(web.export_adder(), a, b)
    np.testing.assert_array_equal(logits, reference.astype(np.float64))


def test_float32_reference_is_tensorflow_up_to_rounding(tf_model):
    """The reference above is the network: it agrees with TensorFlow on a 2,000-bit sum."""
    rng = random.Random(3)
    a, b = rng.getrandbits(2000), rng.getrandbits(2000)
    reference = float32_reference(web.export_adder(), a, b)
    np.testing.assert_allclose(reference, tf_logits(tf_model, a, b), rtol=0, atol=ABS_TOL)


# ----------------------------------------------------------------------------- bad input


BAD = [
    ("", "5", "a", "is empty"),
    ("5", "   ", "b", "is empty"),
    ("-3", "5", "a", "is negative"),
    ("5", "-12", "b", "is negative"),
    ("+5", "5", "a", "starts with '+'"),
    ("12a4", "5", "a", "contains 'a' at character 3"),
    ("5", "abc", "b", "contains 'a' at character 1"),
    ("1 234", "5", "a", "space inside (at character 2)"),
    ("5", "12\u00a0345", "b", "space inside"),
    ("3.5", "1", "a", "no decimal point"),
    ("1,000", "1", "a", "no thousands separators"),
    ("1e5", "1", "a", "contains 'e'"),
    ("0x10", "1", "a", "contains 'x'"),
]


@pytest.mark.parametrize("a, b, operand, message", BAD, ids=[f"{a!r}+{b!r}" for a, b, *_ in BAD])
def test_bad_input_names_the_operand_and_computes_nothing(fresh, a, b, operand, message):
    page = fresh.page
    assert fresh.add("5", "7") == "12"  # a sum on the page, which the bad input must clear
    assert fresh.add(a, b, expect_error=True) == ""
    error = page.text_content("#adder-error")
    name = {"a": "First number (a)", "b": "Second number (b)"}[operand]
    assert name in error and message in error, error
    other = "b" if operand == "a" else "a"
    assert page.get_attribute(f"#adder-{operand}", "aria-invalid") == "true"
    assert page.get_attribute(f"#adder-{other}", "aria-invalid") is None
    assert page.text_content("#adder-verdict") == ""
    assert page.locator("#adder-steps-view").is_hidden()
    assert page.locator("#adder-steps table").count() == 0


def test_both_operands_wrong_gives_two_messages(fresh):
    assert fresh.add("x", "-1", expect_error=True) == ""
    lines = fresh.page.locator("#adder-error .adder-error-line").all_text_contents()
    assert len(lines) == 2
    assert "First number (a)" in lines[0] and "Second number (b) is negative" in lines[1]


def test_the_error_goes_away_with_good_input(fresh):
    fresh.add("abc", "1", expect_error=True)
    assert fresh.add("2", "2") == "4"
    assert fresh.page.text_content("#adder-error") == ""
    assert fresh.page.get_attribute("#adder-a", "aria-invalid") is None


# ----------------------------------------------------------------------------- step by step


STEP_TABLE = """() => {
  const table = document.querySelector('#adder-steps table');
  const rows = Array.from(table.querySelectorAll('tr'));
  return {
    head: Array.from(rows[0].querySelectorAll('th')).slice(1).map(th => th.textContent),
    rows: rows.slice(1).map(tr => ({
      name: tr.querySelector('th').textContent,
      cells: Array.from(tr.querySelectorAll('td')).map(td => ({
        text: td.textContent, title: td.getAttribute('title'),
        wrong: td.classList.contains('adder-wrong'),
        colour: td.style.backgroundColor}))})),
    caption: document.getElementById('adder-steps-caption').textContent,
  };
}"""


def test_the_step_table_shows_inputs_outputs_carries_and_gates(fresh):
    fresh.add("5", "7")  # 101 + 111 = 1100: steps 1..4, LSB first
    table = fresh.page.evaluate(STEP_TABLE)
    assert table["head"] == ["1", "2", "3", "4"]
    rows = {row["name"]: row["cells"] for row in table["rows"]}
    text = {name: "".join(c["text"] for c in cells) for name, cells in rows.items()}
    assert text["bit of a"] == "1010" and text["bit of b"] == "1110"
    assert text["network's bit"] == "0011" and text["true sum bit"] == "0011"
    assert text["true carry out"] == "1110"
    units = 3
    for sym in "zrh":
        names = [f"{sym}[{j}]" for j in range(units)]  # units numbered from 0, as in the book
        for name in names:
            assert name in rows, name
            assert all(c["title"] and c["colour"] for c in rows[name]), name
    result = fresh.page.evaluate(
        "() => ({z: Array.from(gruAdder.result.z), h: Array.from(gruAdder.result.h)})")
    # the hover text carries the value of that unit at that step
    for j in range(units):
        for t in range(4):
            for sym in "zh":
                title = rows[f"{sym}[{j}]"][t]["title"]
                assert title.endswith(f"step {t + 1}: {result[sym][t * units + j]:.4f}"), title
    assert not any(c["wrong"] for cells in rows.values() for c in cells)
    assert "every step" in fresh.page.text_content("#adder-wrong-summary")
    assert table["caption"].startswith("Showing steps 1 to 4 of 4")


def test_long_sums_show_a_window_that_moves(fresh):
    page = fresh.page
    fresh.add(str(2**2000 - 1), "1")
    caption = lambda: page.text_content("#adder-steps-caption")  # noqa: E731
    columns = lambda: page.locator("#adder-steps thead th").count() - 1  # noqa: E731
    assert caption().startswith("Showing steps 1 to 64 of 2,001") and columns() == 64
    assert page.locator("#adder-steps-prev").is_disabled()
    page.click("#adder-steps-next")
    assert caption().startswith("Showing steps 65 to 128 of 2,001") and columns() == 64
    page.click("#adder-steps-last")
    assert caption().startswith("Showing steps 1,938 to 2,001 of 2,001")
    assert page.locator("#adder-steps-next").is_disabled()
    page.select_option("#adder-steps-size", "256")
    assert caption().startswith("Showing steps 1,746 to 2,001 of 2,001") and columns() == 256
    page.fill("#adder-steps-start", "1000")
    page.dispatch_event("#adder-steps-start", "change")
    assert caption().startswith("Showing steps 1,000 to 1,255 of 2,001")
    page.click("#adder-steps-first")
    assert caption().startswith("Showing steps 1 to 256")
    table = page.evaluate(STEP_TABLE)
    rows = {row["name"]: "".join(c["text"] for c in row["cells"]) for row in table["rows"]}
    assert rows["true carry out"] == "1" * 256 and rows["network's bit"] == "0" * 256
    page.check("#adder-show-values")
    assert page.locator("#adder-steps tbody.adder-heat td").first.text_content().strip() != ""
    page.uncheck("#adder-show-values")
    page.select_option("#adder-steps-size", "64")


def test_wrong_bits_are_marked(fresh):
    """With the readout's bias raised (injected into the page) the network errs; it is marked."""
    page = fresh.page
    original = page.evaluate("() => window.GRU_ADDER")
    broken = json.loads(json.dumps(original))
    broken["weights"]["c"] = [original["weights"]["c"][0] + 4.0]
    page.evaluate("w => gruAdder.load(w)", broken)
    try:
        got = fresh.add("123456789", "987654321")
        result = page.evaluate("() => ({wrong: gruAdder.result.wrong, sum: gruAdder.result.sum})")
        assert result["wrong"], "the injected bias should make the network err"
        assert got == result["sum"] != str(123456789 + 987654321)
        assert page.locator("#adder-sum").get_attribute("data-correct") == "false"
        assert "Wrong" in page.text_content("#adder-verdict")
        assert str(123456789 + 987654321) in page.text_content("#adder-verdict")
        summary = page.text_content("#adder-wrong-summary")
        assert f"at {len(result['wrong'])} of" in summary
        table = page.evaluate(STEP_TABLE)
        rows = {row["name"]: row["cells"] for row in table["rows"]}
        marked = [t for t, c in enumerate(rows["network's bit"]) if c["wrong"]]
        assert marked == result["wrong"]
        assert all("\u2717" in rows["network's bit"][t]["text"] for t in marked)
        assert not any(c["wrong"] for c in rows["true sum bit"])
        assert page.locator("#adder-jump-wrong").is_visible()
    finally:
        page.evaluate("w => gruAdder.load(w)", original)
    assert fresh.add("123456789", "987654321") == str(123456789 + 987654321)
    assert page.locator("#adder-steps td.adder-wrong").count() == 0
    assert page.locator("#adder-jump-wrong").is_hidden()


# ----------------------------------------------------------------------------- offline, screenshot


def test_the_page_works_opened_from_disk(browser, site_dir):
    """Opened as file://, with no server: the weights load through a plain <script src>."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors, failed = [], []
    page.on("pageerror", lambda err: errors.append(f"uncaught: {err}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.on("requestfailed", lambda req: failed.append(req.url))
    try:
        page.goto((site_dir / PAGE).resolve().as_uri(), wait_until="load")
        page.wait_for_function(DONE)
        visit = Visit(page)
        assert visit.add(str(2**64 - 1), "1") == str(2**64)
        assert "Correct" in page.text_content("#adder-verdict")
        assert not [u for u in failed if "adder" in u], failed
        assert not errors, errors
    finally:
        context.close()


def test_screenshot_of_two_to_the_64(fresh):
    page = fresh.page
    assert fresh.add(str(2**64 - 1), "1") == "18446744073709551616"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "try_it-2^64.png"
    # from the top, with nothing focused, so the theme's sticky header stays where it belongs
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    assert path.stat().st_size > 10_000


# ----------------------------------------------------------------------------- on a phone


PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


@pytest.fixture(scope="module")
def phone_visit(browser, base_url):
    """The page on a phone: 390 x 844 CSS pixels, a touch screen and no mouse."""
    if not (SITE / PAGE).is_file():
        pytest.skip(f"{PAGE} was not built (run make book)")
    context = browser.new_context(**PHONE, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    yield open_page(context.new_page(), base_url)
    context.close()


@pytest.fixture
def phone(phone_visit):
    """The page on a phone, checked after each test for script errors."""
    yield phone_visit
    assert not phone_visit.errors, "\n".join(phone_visit.errors)


STEPS_BOX = """() => {
  const box = document.getElementById('adder-steps');
  return {scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
          offsetHeight: box.offsetHeight, clientHeight: box.clientHeight,
          scrollLeft: box.scrollLeft, pageWidth: document.documentElement.scrollWidth,
          pageScrollX: window.scrollX, viewport: window.innerWidth};
}"""


def swipe_left(page, locator, distance: int = 200) -> None:
    """Drag one finger ``distance`` CSS pixels to the left across ``locator`` (a real touch)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.7
    cdp = page.context.new_cdp_session(page)

    def touch(kind, *points):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": list(points)})

    try:
        touch("touchStart", {"x": x, "y": y})
        for i in range(1, 11):
            touch("touchMove", {"x": x - distance * i / 10, "y": y})
        touch("touchEnd")
    finally:
        cdp.detach()


def test_phone_the_page_is_no_wider_than_the_screen(phone):
    box = phone.page.evaluate(STEPS_BOX)
    assert box["pageWidth"] <= box["viewport"] == 390, box


def test_phone_the_step_table_scrolls_sideways_with_a_visible_scroll_bar(phone):
    page = phone.page
    assert phone.add("123456789", "987654321") == "1111111110"  # 31 steps: more than fit
    page.evaluate("() => { document.getElementById('adder-steps').scrollLeft = 0; }")
    box = page.evaluate(STEPS_BOX)
    assert box["scrollWidth"] > box["clientWidth"] + 100, box
    # A phone draws an overlay scroll bar only while scrolling; the page styles one that takes
    # room under the table, so it is always there to say that more steps lie to the right.
    assert box["offsetHeight"] - box["clientHeight"] >= 6, f"no visible scroll bar: {box}"
    swipe_left(page, page.locator("#adder-steps"))
    page.wait_for_function("() => document.getElementById('adder-steps').scrollLeft > 100")
    after = page.evaluate(STEPS_BOX)
    assert after["pageScrollX"] == 0, "the swipe moved the page, not the table"
    # the last step can be scrolled into view, and its number read there
    page.evaluate("() => { const b = document.getElementById('adder-steps');"
                  " b.scrollLeft = b.scrollWidth; }")
    last = page.locator("#adder-steps thead th").last
    assert last.text_content() == "31"
    cell, frame = last.bounding_box(), page.locator("#adder-steps").bounding_box()
    assert frame["x"] <= cell["x"] and cell["x"] + cell["width"] <= frame["x"] + frame["width"] + 1


LEGEND = """() => Array.from(document.querySelectorAll('.adder-legend-item')).map(item => ({
  id: item.id,
  parts: Array.from(item.children).map(el => {
    const r = el.getBoundingClientRect();
    return {text: el.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  })}))"""


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_each_colour_bar_stays_on_one_line_with_its_label_and_ends(request, device):
    visit = request.getfixturevalue({"phone": "phone", "desktop": "fresh"}[device])
    items = visit.page.evaluate(LEGEND)
    assert [item["id"] for item in items] == ["adder-legend-gates", "adder-legend-states"]
    for item in items:
        parts = item["parts"]
        assert [p["text"] for p in parts][1::2] == (
            ["0", "1"] if item["id"] == "adder-legend-gates" else ["\u22121", "+1"])
        middles = [(p["top"] + p["bottom"]) / 2 for p in parts]
        assert max(middles) - min(middles) <= 4, f"{item['id']} breaks across lines: {parts}"
        for left, right in zip(parts, parts[1:], strict=False):
            gap = right["left"] - left["right"]
            assert 0 <= gap <= 12, f"{item['id']}: {left['text']!r} and {right['text']!r} {gap}px"


HINT = 'to see its value; tick "show values" to see them all.'


def hint_after_a_sum(visit) -> str:
    """Add 5 + 7 on the page and return the hint under the table, whitespace collapsed."""
    assert visit.add("5", "7") == "12"
    return " ".join(visit.page.inner_text("#adder-hint").split())


def test_phone_the_hint_says_tap_and_a_tap_shows_the_value(phone):
    assert hint_after_a_sum(phone) == f"Tap a cell {HINT}"
    cell = phone.page.locator("#adder-steps tbody.adder-heat td").nth(2)
    cell.tap()
    title = cell.get_attribute("title")
    assert title.startswith("update gate z, unit 0, step 3: ")
    assert phone.page.text_content("#adder-cell-value") == title
    assert "adder-selected" in cell.get_attribute("class")
    phone.add("5", "8")  # a new sum clears the value shown
    assert phone.page.text_content("#adder-cell-value") == ""


def test_desktop_the_hint_says_hover_and_a_click_shows_the_value(fresh):
    assert hint_after_a_sum(fresh) == f"Hover over or click a cell {HINT}"
    cell = fresh.page.locator("#adder-steps tbody.adder-bits td").nth(1)
    cell.click()
    assert fresh.page.text_content("#adder-cell-value") == cell.get_attribute("title")


STEP_NUMBERS = """() => Array.from(document.querySelectorAll('#adder-steps thead th'))
  .filter(th => !th.classList.contains('adder-rowhead')).map(th => {
    const style = getComputedStyle(th);
    const range = document.createRange();
    range.selectNodeContents(th);
    const text = range.getBoundingClientRect();
    return {text: th.textContent, fontSize: parseFloat(style.fontSize),
            writingMode: style.writingMode, transform: style.transform,
            textWidth: text.width, textHeight: text.height,
            clipped: th.scrollWidth > th.clientWidth};
  })"""


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_step_numbers_are_upright_and_readable(request, device):
    visit = request.getfixturevalue({"phone": "phone", "desktop": "fresh"}[device])
    page = visit.page
    visit.add(str(2**2000 - 1), "1")
    page.click("#adder-steps-last")  # steps 1,938 to 2,001: the longest numbers of this sum
    numbers = page.evaluate(STEP_NUMBERS)
    assert [n["text"] for n in numbers] == [f"{t:,}" for t in range(1938, 2002)]
    for n in numbers:
        assert n["writingMode"] == "horizontal-tb" and n["transform"] == "none", n
        assert n["fontSize"] >= 10, n
        assert n["textWidth"] > n["textHeight"], f"not written sideways: {n}"
        assert not n["clipped"], n
    page.click("#adder-steps-first")


def test_phone_screenshots(phone):
    """The top of the page and the step-by-step view, as the phone's screen shows them.

    Not full-page: Chromium's capture beyond the viewport leaves the emulated phone without its
    styled scroll bars (and, while capturing, with a mouse's hover), so it would not show the page
    a phone shows.
    """
    page = phone.page
    assert phone.add("123456789", "987654321") == "1111111110"
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    top, steps = SCREENSHOTS / "try_it-phone.png", SCREENSHOTS / "try_it-phone-steps.png"
    page.screenshot(path=str(top), animations="disabled")
    page.locator("#adder-steps-view").screenshot(path=str(steps), animations="disabled")
    assert top.stat().st_size > 10_000 and steps.stat().st_size > 10_000
    assert page.evaluate(STEPS_BOX)["clientHeight"] < page.evaluate(STEPS_BOX)["offsetHeight"]
