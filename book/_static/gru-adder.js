/* The page "Try it" (book/try_it.md): the bundled GRU adder running in the browser.
 *
 * The weights come from _static/gru-adder-weights.js, written on every build by
 * gru_tutorial.web (book/_ext/gru_adder.py), which sets window.GRU_ADDER. The forward pass
 * is the float32 GRU of gru-net32.js (window.GRUNet32), loaded before this script.
 *
 * x_t = (bit t of a, bit t of b), least significant bit first, for
 * max(bit length of a, bit length of b) + 1 steps (0 + 0 takes one step), as in
 * gru_tutorial.engine.NumpyAdder.add. No network requests, no kernel: it works from file:// too.
 *
 * For tests and the curious: window.gruAdder.run(aString, bString) returns the whole result
 * ({ok, sum, trueSum, correct, steps, bits, logits, z, r, h, ...}); gruAdder.load(exported)
 * swaps in other weights (same layout as window.GRU_ADDER) and returns the previous ones.
 */
(function () {
  "use strict";

  const { prepare, forward } = window.GRUNet32;
  const MAX_DIGITS = 100000;
  const WINDOW_SIZES = [32, 64, 128, 256];
  const DEFAULT_WINDOW = 64;
  const NAMES = { a: "First number (a)", b: "Second number (b)" };

  // ------------------------------------------------------------------ the network

  let model = null; // {units, table: Float32Array(4 * 3u), Uzr, Uh, V, c, exported}

  // ------------------------------------------------------------------ input and numbers

  function describeChar(ch) {
    if (/\s/u.test(ch)) return "a space";
    if (ch === ".") return "'.' (no decimal point: whole numbers only)";
    if (ch === ",") return "',' (no thousands separators)";
    if (ch === "_") return "'_' (no digit separators)";
    return `'${ch}'`;
  }

  /** Check one operand; returns {ok: true, digits} or {ok: false, message}. */
  function check(text, which) {
    const name = NAMES[which] || which;
    const s = String(text).trim();
    if (s === "") return { ok: false, message: `${name} is empty: type a non-negative integer, such as 42.` };
    if (s[0] === "+") return { ok: false, message: `${name} starts with '+': type the digits only, without a sign.` };
    if (s[0] === "-" || s[0] === "\u2212") {
      return { ok: false, message: `${name} is negative: the network adds non-negative integers only.` };
    }
    if (!/^[0-9]+$/.test(s)) {
      const chars = Array.from(s);
      const i = chars.findIndex(ch => !/^[0-9]$/.test(ch));
      const ch = chars[i];
      const where = `at character ${(i + 1).toLocaleString("en")}`;
      if (/\s/u.test(ch)) {
        return { ok: false, message: `${name} has a space inside (${where}): type the digits without spaces.` };
      }
      return { ok: false, message: `${name} contains ${describeChar(ch)} ${where}: only the digits 0 to 9 are allowed.` };
    }
    if (s.length > MAX_DIGITS) {
      return {
        ok: false,
        message: `${name} has ${s.length.toLocaleString("en")} digits; the limit is ` +
          `${MAX_DIGITS.toLocaleString("en")} digits.`,
      };
    }
    return { ok: true, digits: s };
  }

  /** Reversed bits (least significant first) of a non-negative BigInt, length T (zero-padded). */
  function bitsOf(n, T) {
    const out = new Uint8Array(T);
    if (n === 0n) return out;
    const s = n.toString(2);
    const L = s.length;
    for (let t = 0; t < L; t++) out[t] = s.charCodeAt(L - 1 - t) - 48;
    return out;
  }

  function bitLength(n) { return n === 0n ? 0 : n.toString(2).length; }

  /** Bits (least significant first) to a BigInt. */
  function fromBits(bits) {
    const T = bits.length;
    const chars = new Uint8Array(T);
    for (let t = 0; t < T; t++) chars[T - 1 - t] = 48 + bits[t];
    return BigInt("0b" + new TextDecoder().decode(chars));
  }

  /** Add two decimal strings with the network. Returns the whole computation. */
  function run(aText, bText) {
    if (!model) return { ok: false, errors: [{ operand: null, message: loadError }] };
    const ca = check(aText, "a"), cb = check(bText, "b");
    const errors = [];
    if (!ca.ok) errors.push({ operand: "a", message: ca.message });
    if (!cb.ok) errors.push({ operand: "b", message: cb.message });
    if (errors.length) return { ok: false, errors };
    const time = {};
    let t0 = performance.now();
    const A = BigInt(ca.digits), B = BigInt(cb.digits);
    time.parse = performance.now() - t0;

    t0 = performance.now();
    const T = Math.max(bitLength(A), bitLength(B)) + 1;
    const a = bitsOf(A, T), b = bitsOf(B, T);
    const k = new Uint8Array(T);
    for (let t = 0; t < T; t++) k[t] = 2 * a[t] + b[t];
    time.encode = performance.now() - t0;

    t0 = performance.now();
    const out = forward(model, k);
    time.forward = performance.now() - t0;

    t0 = performance.now();
    const bits = new Uint8Array(T), trueBits = new Uint8Array(T), carries = new Uint8Array(T);
    const wrong = [];
    let carry = 0;
    for (let t = 0; t < T; t++) {
      bits[t] = out.logits[t] > 0 ? 1 : 0;
      const s = a[t] + b[t] + carry;
      trueBits[t] = s & 1;
      carry = s >> 1;
      carries[t] = carry;
      if (bits[t] !== trueBits[t]) wrong.push(t);
    }
    const S = fromBits(bits);
    const trueS = A + B;
    const sum = S.toString(10);
    const trueSum = trueS.toString(10);
    time.decode = performance.now() - t0;
    return {
      ok: true, steps: T, units: model.units, a, b, bits, trueBits, carries, wrong,
      logits: out.logits, z: out.z, r: out.r, h: out.h,
      sum, trueSum, correct: S === trueS, time,
      digits: { a: ca.digits.length, b: cb.digits.length },
    };
  }

  // ------------------------------------------------------------------ the page

  let loadError = null;
  const el = id => document.getElementById(id);
  const fmt = n => n.toLocaleString("en");
  const state = { result: null, start: 0, size: DEFAULT_WINDOW, showValues: false };

  /** Colour of a gate value in [0, 1]: white to dark violet. */
  function gateColour(v) {
    const x = Math.min(1, Math.max(0, v));
    const lo = [255, 255, 255], hi = [63, 0, 125];
    return lo.map((c, i) => Math.round(c + (hi[i] - c) * x));
  }

  /** Colour of a state value in [-1, 1]: blue, white at 0, orange-red. */
  function stateColour(v) {
    const x = Math.min(1, Math.max(-1, v));
    const mid = [255, 255, 255], neg = [33, 102, 172], pos = [178, 24, 43];
    const end = x < 0 ? neg : pos;
    const s = Math.abs(x);
    return mid.map((c, i) => Math.round(c + (end[i] - c) * s));
  }

  function rgb(c) { return `rgb(${c[0]}, ${c[1]}, ${c[2]})`; }
  function ink(c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 140 ? "#fff" : "#000"; }

  function cell(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== null && text !== undefined) node.textContent = text;
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "style") Object.assign(node.style, value);
      else node.setAttribute(key, value);
    }
    return node;
  }


  function renderSteps() {
    const res = state.result;
    const box = el("adder-steps");
    const caption = el("adder-steps-caption");
    box.textContent = "";
    el("adder-cell-value").textContent = "";
    if (!res) {
      caption.textContent = "";
      el("adder-steps-view").hidden = true;
      return;
    }
    el("adder-steps-view").hidden = false;
    const T = res.steps, u = res.units;
    const size = state.size;
    const start = Math.max(0, Math.min(state.start, Math.max(0, T - size)));
    state.start = start;
    const end = Math.min(T, start + size);
    caption.textContent = `Showing steps ${fmt(start + 1)} to ${fmt(end)} of ${fmt(T)}; ` +
      "step t holds the bits worth 2";
    caption.appendChild(cell("sup", "t\u22121"));
    caption.appendChild(document.createTextNode("."));
    el("adder-steps-start").value = String(start + 1);
    el("adder-steps-start").max = String(T);
    el("adder-steps-first").disabled = el("adder-steps-prev").disabled = start === 0;
    el("adder-steps-last").disabled = el("adder-steps-next").disabled = end >= T;

    const table = cell("table", null, { class: "adder-steps-table" });
    table.appendChild(cell("caption", "One column per time step: the input bits, the network's " +
      "bit, the true sum bit and carry, then the gates and the state of every unit.",
      { class: "adder-sr-only" }));
    const head = cell("thead");
    const headRow = cell("tr");
    headRow.appendChild(cell("th", "step t", { scope: "col", class: "adder-rowhead" }));
    for (let t = start; t < end; t++) headRow.appendChild(cell("th", fmt(t + 1), { scope: "col" }));
    head.appendChild(headRow);
    table.appendChild(head);

    const wrongSet = new Set(res.wrong.filter(t => t >= start && t < end));
    const bitRows = [
      ["bit of a", t => res.a[t], t => `a: step ${t + 1}, the bit worth 2^${t} = ${res.a[t]}`],
      ["bit of b", t => res.b[t], t => `b: step ${t + 1}, the bit worth 2^${t} = ${res.b[t]}`],
      ["network's bit", t => res.bits[t], t => {
        const ok = res.bits[t] === res.trueBits[t];
        return `network's bit at step ${t + 1}: ${res.bits[t]} (logit ${res.logits[t].toFixed(4)})` +
          (ok ? "" : `; wrong, the true bit is ${res.trueBits[t]}`);
      }],
      ["true sum bit", t => res.trueBits[t], t => `true sum bit at step ${t + 1}: ${res.trueBits[t]}`],
      ["true carry out", t => res.carries[t], t => `carry out of step ${t + 1}: ${res.carries[t]}`],
    ];
    const bitBody = cell("tbody", null, { class: "adder-bits" });
    bitRows.forEach(([label, value, title], rowIndex) => {
      const tr = cell("tr");
      tr.appendChild(cell("th", label, { scope: "row", class: "adder-rowhead" }));
      for (let t = start; t < end; t++) {
        const wrong = rowIndex === 2 && wrongSet.has(t);
        const td = cell("td", String(value(t)) + (wrong ? "\u2717" : ""), { title: title(t) });
        if (wrong) td.className = "adder-wrong";
        tr.appendChild(td);
      }
      bitBody.appendChild(tr);
    });
    table.appendChild(bitBody);

    const groups = [
      ["z", "update gate z", res.z, gateColour],
      ["r", "reset gate r", res.r, gateColour],
      ["h", "state h", res.h, stateColour],
    ];
    for (const [sym, what, values, colour] of groups) {
      const body = cell("tbody", null, { class: "adder-heat" });
      for (let j = 0; j < u; j++) {
        const tr = cell("tr");
        tr.appendChild(cell("th", `${sym}[${j}]`, {
          scope: "row", class: "adder-rowhead", title: `${what}, unit ${j}`,
        }));
        for (let t = start; t < end; t++) {
          const v = values[t * u + j];
          const c = colour(v);
          const text = state.showValues ? v.toFixed(2) : "";
          tr.appendChild(cell("td", text, {
            title: `${what}, unit ${j}, step ${t + 1}: ${v.toFixed(4)}`,
            "aria-label": v.toFixed(4),
            style: { backgroundColor: rgb(c), color: ink(c) },
          }));
        }
        body.appendChild(tr);
      }
      table.appendChild(body);
    }
    box.appendChild(table);
  }

  function showErrors(errors) {
    const box = el("adder-error");
    box.textContent = "";
    for (const which of ["a", "b"]) el("adder-" + which).removeAttribute("aria-invalid");
    for (const e of errors) {
      box.appendChild(cell("span", e.message, { class: "adder-error-line" }));
      if (e.operand) el("adder-" + e.operand).setAttribute("aria-invalid", "true");
    }
  }

  function clearResult() {
    state.result = null;
    const sum = el("adder-sum");
    sum.textContent = "";
    for (const key of ["correct", "steps"]) delete sum.dataset[key];
    el("adder-verdict").textContent = "";
    el("adder-verdict").className = "";
    el("adder-stats").textContent = "";
    el("adder-wrong-summary").textContent = "";
    el("adder-jump-wrong").hidden = true;
    el("adder-widget").dataset.state = "error";
    renderSteps();
  }

  function compute() {
    const res = run(el("adder-a").value, el("adder-b").value);
    if (!res.ok) {
      showErrors(res.errors);
      clearResult();
      return res;
    }
    showErrors([]);
    state.result = res;
    state.start = 0;
    const sum = el("adder-sum");
    sum.textContent = res.sum;
    sum.dataset.correct = String(res.correct);
    sum.dataset.steps = String(res.steps);
    const verdict = el("adder-verdict");
    if (res.correct) {
      verdict.textContent = "\u2713 Correct: this is a + b, checked with JavaScript's exact BigInt arithmetic.";
      verdict.className = "adder-right";
    } else {
      verdict.textContent = `\u2717 Wrong: a + b is ${res.trueSum.length > 60
        ? res.trueSum.slice(0, 30) + "\u2026" + res.trueSum.slice(-30) + ` (${fmt(res.trueSum.length)} digits)`
        : res.trueSum} (exact BigInt arithmetic).`;
      verdict.className = "adder-wrong-text";
    }
    const tm = res.time;
    el("adder-stats").textContent =
      `${fmt(res.digits.a)} + ${fmt(res.digits.b)} digits: ${fmt(res.steps)} time steps; ` +
      `forward pass ${tm.forward.toFixed(1)} ms, decimal to bits ${(tm.parse + tm.encode).toFixed(1)} ms, ` +
      `bits to decimal ${tm.decode.toFixed(1)} ms.`;
    const n = res.wrong.length;
    el("adder-wrong-summary").textContent = n === 0
      ? "The network's bit equals the true sum bit at every step."
      : `The network's bit differs from the true sum bit at ${fmt(n)} of ${fmt(res.steps)} steps ` +
        `(first at step ${fmt(res.wrong[0] + 1)}); those bits are marked \u2717 below.`;
    el("adder-jump-wrong").hidden = n === 0;
    el("adder-widget").dataset.state = "done";
    renderSteps();
    return res;
  }

  function moveTo(start) {
    state.start = start;
    renderSteps();
  }

  /** Show the value of a tapped or clicked cell under the table: a title shows on hover only. */
  function showCell(event) {
    const target = event.target.closest("td[title], th[title]");
    if (!target) return;
    const previous = el("adder-steps").querySelector(".adder-selected");
    if (previous) previous.classList.remove("adder-selected");
    target.classList.add("adder-selected");
    el("adder-cell-value").textContent = target.getAttribute("title");
  }

  /** The line "The model: ..." under the widget, from the weights' source. */
  function describeModel() {
    const src = model.exported.source || {};
    const where = src.model === "trained in the page" ? "trained in this page" : "the bundled model";
    const more = src.iterations !== src.converged_at ? `, ${fmt(src.iterations)} in all` : "";
    el("adder-model").textContent = `${where}: ${model.units} units, trained with the ` +
      `"${src.recipe}" recipe and seed ${src.seed} (held-out check passed after ` +
      `${fmt(src.converged_at)} iterations${more})`;
  }

  function setUp() {
    const widget = el("adder-widget");
    if (!widget) return;
    for (const size of WINDOW_SIZES) {
      const option = cell("option", String(size), { value: String(size) });
      if (size === DEFAULT_WINDOW) option.selected = true;
      el("adder-steps-size").appendChild(option);
    }
    for (const node of document.querySelectorAll(".adder-limit")) node.textContent = fmt(MAX_DIGITS);
    el("adder-legend-gate").style.background =
      `linear-gradient(to right, ${rgb(gateColour(0))}, ${rgb(gateColour(0.5))}, ${rgb(gateColour(1))})`;
    el("adder-legend-state").style.background =
      `linear-gradient(to right, ${rgb(stateColour(-1))}, ${rgb(stateColour(0))}, ${rgb(stateColour(1))})`;
    if (!model) {
      showErrors([{ operand: null, message: loadError }]);
      el("adder-run").disabled = true;
      widget.dataset.state = "broken";
      return;
    }
    describeModel();
    el("adder-form").addEventListener("submit", event => { event.preventDefault(); compute(); });
    el("adder-steps-first").addEventListener("click", () => moveTo(0));
    el("adder-steps-prev").addEventListener("click", () => moveTo(state.start - state.size));
    el("adder-steps-next").addEventListener("click", () => moveTo(state.start + state.size));
    el("adder-steps-last").addEventListener("click", () => moveTo(Infinity));
    el("adder-steps-start").addEventListener("change", event => {
      const t = parseInt(event.target.value, 10);
      if (Number.isFinite(t)) moveTo(t - 1);
    });
    el("adder-steps-size").addEventListener("change", event => {
      state.size = parseInt(event.target.value, 10);
      renderSteps();
    });
    el("adder-steps").addEventListener("click", showCell);
    el("adder-show-values").addEventListener("change", event => {
      state.showValues = event.target.checked;
      renderSteps();
    });
    el("adder-jump-wrong").addEventListener("click", () => {
      if (state.result && state.result.wrong.length) {
        moveTo(state.result.wrong[0] - Math.floor(state.size / 4));
      }
    });
    widget.dataset.state = "ready";
    compute();
  }

  /** Swap in other weights (the layout of window.GRU_ADDER); returns the previous ones. */
  function load(exported) {
    const previous = model ? model.exported : null;
    model = prepare(exported);
    const widget = el("adder-widget");
    if (widget && widget.dataset.state !== "loading" && widget.dataset.state !== "broken") {
      describeModel();
      compute();
    }
    return previous;
  }

  try {
    if (!window.GRU_ADDER) throw new Error("the weights file _static/gru-adder-weights.js did not load");
    model = prepare(window.GRU_ADDER);
  } catch (err) {
    loadError = `The network could not be loaded: ${err.message}.`;
  }

  window.gruAdder = {
    run, check, load, compute, forward, MAX_DIGITS, gateColour, stateColour, rgb,
    get model() { return model; },
    get result() { return state.result; },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
