/* The page "Train it" (book/train_it.md): train the small recipe's GRU in the browser.
 *
 * The training loop is GRUTrain.run (gru-train-core.js), in a Web Worker (gru-train-worker.js)
 * so that the page stays responsive; where a worker cannot start (a page opened from disk), the
 * same loop runs on the page itself, in slices. This file draws what the loop reports: the loss
 * and accuracies (canvas #train-loss), the network's gates and state on a long carry chain
 * (canvas #train-states), the status line (#train-status: data-state idle | training | exact |
 * stopped | failed, data-iteration), and, once the held-out check passes, hands the weights to
 * the adder on the page (window.gruAdder.load) and to the download button.
 *
 * For tests: window.gruTrain = {start(seed), stop(), get run() {...}}.
 */
(function () {
  "use strict";

  const WORKER_URL = (document.currentScript && document.currentScript.src || "")
    .replace(/gru-train\.js(\?.*)?$/, "gru-train-worker.js");
  const CHAIN_BITS = 40;
  const el = id => document.getElementById(id);
  const fmt = n => n.toLocaleString("en");

  /** The current run: {seed, worker or local, history, restarts, states, exported, ...}. */
  let run = null;
  /** The last network that passed the check: the adder runs it and the button downloads it. */
  let adderNet = null;
  let drawPending = false;

  // ------------------------------------------------------------------ status

  /**
   * The status line (a polite live region: its text changes with the state only, so a screen
   * reader announces a start, an end or a stop, not every progress report) and its data-state and
   * data-iteration, which follow every report.
   */
  function setStatus(state, text) {
    const status = el("train-status");
    status.dataset.iteration = String(run ? run.iteration : 0);
    if (status.dataset.state !== state || state !== "training") status.textContent = text;
    status.dataset.state = state;
    el("train-widget").dataset.state = state;
    const busy = state === "training";
    el("train-start").disabled = busy;
    el("train-stop").disabled = !busy;
    el("train-seed").disabled = busy;
  }

  function progressText() {
    const h = run.history, n = h.iteration.length;
    const last = n ? `loss ${h.loss[n - 1].toFixed(4)}, bit accuracy ${(100 * h.bitAccuracy[n - 1]).toFixed(1)}%, ` +
      `exact sums ${(100 * h.exactAccuracy[n - 1]).toFixed(0)}% of the batch` : "starting";
    const sets = { adversarial: "one of the adversarial sums" };
    const wrong = run.lastWrong
      ? ` The last check failed on ${sets[run.lastWrong.set] || `a ${run.lastWrong.set}-bit sum`}.` : "";
    return `Iteration ${fmt(run.iteration)} (attempt ${run.attempt}): ${last}. ` +
      `Held-out checks so far: ${run.checks}.${wrong} ${run.seconds.toFixed(1)} s.`;
  }

  // ------------------------------------------------------------------ messages from the loop

  function onMessage(msg) {
    if (!run || msg.runId !== undefined && msg.runId !== run.id) return;
    if (msg.type === "error") {
      stopLoop();
      setStatus("failed", `The run could not start: ${msg.message}`);
      return;
    }
    run.iteration = msg.iteration;
    run.attempt = msg.attempt;
    run.checks = msg.checks;
    run.seconds = msg.seconds;
    if (msg.type === "progress") {
      for (const key of Object.keys(run.history)) run.history[key].push(...msg.history[key]);
      run.restartedAt.push(...msg.restartedAt);
      if (msg.lastWrong) run.lastWrong = msg.lastWrong;
      run.states = msg.states;
      setStatus("training", `Training seed ${run.seed}.`);
      el("train-progress").textContent = progressText();
      scheduleDraw();
    } else if (msg.type === "exact") {
      stopLoop();
      run.exported = msg.exported;
      const restarts = msg.attempt > 1 ? ` after ${msg.attempt - 1} restart${msg.attempt > 2 ? "s" : ""}` : "";
      setStatus("exact", `Exact: seed ${run.seed} passed the held-out check at iteration ` +
        `${fmt(msg.iteration)}${restarts}, in ${msg.seconds.toFixed(1)} s. The adder below now runs ` +
        "this network.");
      run.lastWrong = null; // it passed
      el("train-progress").textContent = progressText();
      adderNet = { seed: run.seed, exported: msg.exported };
      el("train-download").disabled = false;
      el("train-download-note").textContent = `gru-adder-seed${run.seed}.json: the network the adder ` +
        "below runs.";
      if (window.gruAdder) window.gruAdder.load(msg.exported);
      draw();
    } else if (msg.type === "failed") {
      stopLoop();
      setStatus("failed", `Failed: seed ${run.seed} did not pass the held-out check in ` +
        `${fmt(msg.iteration)} iterations (${msg.attempt} attempts). Try another seed.`);
      draw();
    }
  }

  function stopLoop() {
    if (!run) return;
    if (run.worker) run.worker.terminate();
    if (run.local) run.local.stop();
    run.worker = run.local = null;
  }

  // ------------------------------------------------------------------ start and stop

  let nextId = 1;

  function start(seedText) {
    const error = el("train-error");
    let seed;
    try {
      seed = window.GRUTrain.checkSeed(seedText);
    } catch (err) {
      error.textContent = err.message;
      el("train-seed").setAttribute("aria-invalid", "true");
      return false;
    }
    error.textContent = "";
    el("train-seed").removeAttribute("aria-invalid");
    stopLoop();
    run = {
      id: nextId++, seed, iteration: 0, attempt: 1, checks: 0, seconds: 0, states: null,
      history: { iteration: [], loss: [], bitAccuracy: [], exactAccuracy: [], failedCheck: [] },
      restartedAt: [],
      exported: null, worker: null, local: null, inWorker: false, lastWrong: null,
    };
    const id = run.id;
    const local = () => { // train on the page itself, in slices
      run.worker = null;
      run.inWorker = false;
      run.local = window.GRUTrain.run(seed, m => onMessage({ ...m, runId: id }),
        { chainBits: CHAIN_BITS, slow: el("train-slow").checked });
    };
    try {
      const worker = new Worker(WORKER_URL);
      let heard = false; // whether this worker has sent anything
      worker.onmessage = event => { heard = true; onMessage({ ...event.data, runId: id }); };
      worker.onerror = event => {
        event.preventDefault();
        if (!run || run.id !== id) return;
        if (!heard) { worker.terminate(); local(); return; } // the worker did not load
        onMessage({ type: "error", runId: id, message: event.message || "the worker failed" });
      };
      worker.postMessage({ type: "start", seed, slow: el("train-slow").checked });
      run.worker = worker;
      run.inWorker = true;
    } catch (err) { // pages opened from disk may not start workers
      local();
    }
    el("train-progress").textContent = "";
    el("train-status").dataset.state = "starting"; // a new run: announce it even after another
    setStatus("training", `Training seed ${seed}.`);
    draw();
    return true;
  }

  function stop() {
    if (!run || !(run.worker || run.local)) return;
    stopLoop();
    setStatus("stopped", `Stopped at iteration ${fmt(run.iteration)} (seed ${run.seed}). ` +
      "Press Train to start again.");
  }

  function download() {
    if (!adderNet) return;
    const blob = new Blob([JSON.stringify(adderNet.exported, null, 1) + "\n"], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `gru-adder-seed${adderNet.seed}.json`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // ------------------------------------------------------------------ drawing

  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; draw(); });
  }

  /** A canvas sized to its box in CSS pixels, at the screen's pixel density. */
  function context2d(canvas, height) {
    canvas.style.width = "100%"; // the figure's content box: read back in CSS pixels
    canvas.style.height = height + "px";
    const width = canvas.clientWidth;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.font = "12px sans-serif";
    const css = getComputedStyle(canvas);
    return { ctx, width, height, ink: css.color || "#222" };
  }

  const COLOURS = { loss: "#333", bit: "#1565c0", exact: "#2e7d32", restart: "#c62828", check: "#888" };

  /** The legend items in rows that fit in `width` pixels. */
  function legendRows(ctx, items, width) {
    const rows = [[]];
    let x = 0;
    for (const item of items) {
      const w = 26 + ctx.measureText(item[0]).width;
      if (x + w > width && rows[rows.length - 1].length) { rows.push([]); x = 0; }
      rows[rows.length - 1].push(item);
      x += w;
    }
    return rows;
  }

  function drawLoss() {
    const canvas = el("train-loss");
    const { ctx, width, height, ink } = context2d(canvas, 250);
    const items = [["loss (left axis)", COLOURS.loss], ["bit accuracy", COLOURS.bit],
      ["exact sums", COLOURS.exact], ["failed check", COLOURS.check], ["restart", COLOURS.restart]];
    ctx.font = "12px sans-serif";
    const rows = legendRows(ctx, items, width - 48);
    const left = 48, right = 44, top = 8 + 16 * rows.length, bottom = 30;
    const w = width - left - right, hgt = height - top - bottom;
    const h = run ? run.history
      : { iteration: [], loss: [], bitAccuracy: [], exactAccuracy: [], failedCheck: [] };
    const n = h.iteration.length;
    const xmax = Math.max(100, Math.ceil((n ? h.iteration[n - 1] : 0) / 100) * 100);
    const X = i => left + (w * i) / xmax;
    // loss on a log scale, from 1 down to a power of ten below the lowest loss (1e-6 at least)
    const lowest = n ? Math.min(...h.loss) : 0.1;
    const lmin = Math.max(-6, Math.min(-1, Math.floor(Math.log10(lowest)))), lmax = 0;
    const YL = v => top + hgt * (lmax - Math.min(lmax, Math.max(lmin, Math.log10(v)))) / (lmax - lmin);
    const YA = v => top + hgt * (1 - v);
    ctx.strokeStyle = ink; ctx.fillStyle = ink; ctx.lineWidth = 1;
    ctx.strokeRect(left, top, w, hgt);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (let e = lmin; e <= lmax; e++) {
      ctx.fillText(e === 0 ? "1" : `1e${e}`, left - 4, YL(10 ** e));
    }
    ctx.textAlign = "left";
    for (const v of [0, 0.5, 1]) ctx.fillText(`${v * 100}%`, left + w + 4, YA(v));
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (let i = 0; i <= 4; i++) ctx.fillText(fmt(Math.round((xmax * i) / 4)), X((xmax * i) / 4), top + hgt + 4);
    ctx.fillText("iteration", left + w / 2, top + hgt + 16);
    for (const [x, angle, label] of [[12, -1, "loss (log scale)"], [width - 8, 1, "share right"]]) {
      ctx.save();
      ctx.translate(x, top + hgt / 2); ctx.rotate((angle * Math.PI) / 2);
      ctx.textBaseline = "middle"; ctx.fillText(label, 0, 0);
      ctx.restore();
    }
    const line = (values, Y, colour) => {
      ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
      for (let i = 0; i < n; i++) {
        const x = X(h.iteration[i]), y = Y(values[i]);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
    };
    line(h.loss, YL, COLOURS.loss);
    line(h.bitAccuracy, YA, COLOURS.bit);
    line(h.exactAccuracy, YA, COLOURS.exact);
    // failed held-out checks: a tick each, along the top of the plot
    ctx.strokeStyle = COLOURS.check; ctx.lineWidth = 1;
    for (let i = 0; i < n; i++) {
      if (!h.failedCheck[i]) continue;
      ctx.beginPath(); ctx.moveTo(X(h.iteration[i]), top); ctx.lineTo(X(h.iteration[i]), top + 7); ctx.stroke();
    }
    // restarts (new weights), on top of the curves
    ctx.strokeStyle = COLOURS.restart; ctx.lineWidth = 1.5; ctx.setLineDash([4, 3]);
    for (const it of run ? run.restartedAt : []) {
      ctx.beginPath(); ctx.moveTo(X(it), top); ctx.lineTo(X(it), top + hgt); ctx.stroke();
    }
    // legend, above the plot, in as many rows as the width needs
    ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.lineWidth = 3;
    rows.forEach((row, r) => {
      let x = left;
      const y = 10 + 16 * r;
      for (const [label, colour] of row) {
        ctx.strokeStyle = colour;
        ctx.setLineDash(colour === COLOURS.restart ? [4, 3] : []);
        ctx.beginPath();
        if (colour === COLOURS.check) { ctx.lineWidth = 1; ctx.moveTo(x + 7, y - 5); ctx.lineTo(x + 7, y + 5); }
        else { ctx.lineWidth = 3; ctx.moveTo(x, y); ctx.lineTo(x + 14, y); }
        ctx.stroke();
        ctx.fillStyle = ink; ctx.fillText(label, x + 18, y);
        x += 26 + ctx.measureText(label).width;
      }
    });
    ctx.setLineDash([]);
    canvas.setAttribute("aria-label", n
      ? `Training curves of seed ${run.seed} up to iteration ${h.iteration[n - 1]}: loss ` +
        `${h.loss[n - 1].toFixed(4)}, bit accuracy ${(100 * h.bitAccuracy[n - 1]).toFixed(1)}%, exact sums ` +
        `${(100 * h.exactAccuracy[n - 1]).toFixed(0)}% of the batch.`
      : "Training curves: empty until you press Train.");
  }

  function drawStates() {
    const canvas = el("train-states");
    const s = run && run.states;
    const u = s ? s.units : 3, T = s ? s.T : CHAIN_BITS + 1;
    const rowH = 14, rows = 3 * u + 4, head = 6, labelW = 40, foot = 18;
    const { ctx, width, height, ink } = context2d(canvas, head + rows * rowH + 4 + foot);
    const cw = (width - labelW) / T;
    const colX = t => Math.round(labelW + t * cw); // whole pixels: no seams between columns
    const adder = window.gruAdder;
    const labels = [];
    for (const [sym, values, colour] of [["z", s && s.z, adder.gateColour], ["r", s && s.r, adder.gateColour],
      ["h", s && s.h, adder.stateColour]]) {
      for (let j = 0; j < u; j++) labels.push([`${sym}[${j}]`, values, colour, j]);
    }
    ctx.textBaseline = "middle"; ctx.textAlign = "right";
    labels.forEach(([label, values, colour, j], row) => {
      const y = head + row * rowH;
      ctx.fillStyle = ink; ctx.fillText(label, labelW - 6, y + rowH / 2);
      for (let t = 0; t < T; t++) {
        ctx.fillStyle = values ? adder.rgb(colour(values[t * u + j])) : "#eee";
        ctx.fillRect(colX(t), y, colX(t + 1) - colX(t), rowH - 1);
      }
    });
    let wrong = 0;
    const yb = head + 3 * u * rowH + 2;
    const chainBit = (row, t) => { // rows: a, b (the inputs), the network's bit, the sum's bit
      if (row === 0) return t < T - 1 ? 1 : 0;
      if (row === 1) return t === 0 ? 1 : 0;
      return row === 2 ? (s.logits[t] > 0 ? 1 : 0) : s.y[t];
    };
    for (const [row, label] of [[0, "a"], [1, "b"], [2, "net"], [3, "sum"]]) {
      const y = yb + row * rowH;
      ctx.fillStyle = ink; ctx.textAlign = "right"; ctx.fillText(label, labelW - 6, y + rowH / 2);
      ctx.textAlign = "center";
      for (let t = 0; t < T; t++) {
        const bit = !s ? null : chainBit(row, t);
        const bad = s && row === 2 && bit !== s.y[t];
        wrong += bad ? 1 : 0;
        ctx.fillStyle = bad ? "#c62828" : row === 2 ? "#f5f5f5" : "#fff";
        ctx.fillRect(colX(t), y, colX(t + 1) - colX(t), rowH - 1);
        if (bit !== null && cw >= 8) {
          ctx.fillStyle = bad ? "#fff" : "#000";
          ctx.fillText(String(bit), labelW + (t + 0.5) * cw, y + rowH / 2);
        }
      }
    }
    ctx.fillStyle = ink; ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.fillText("step 1", labelW, yb + 4 * rowH + 4);
    ctx.textAlign = "right";
    ctx.fillText(`step ${T}`, width, yb + 4 * rowH + 4);
    const summary = !s ? "Gates and state on the carry chain: empty until you press Train."
      : `Gates and state of the network on the carry chain at iteration ${run.iteration}: ` +
        (wrong ? `${wrong} of ${T} sum bits wrong.` : `all ${T} sum bits right.`);
    canvas.setAttribute("aria-label", summary);
    el("train-states-summary").textContent = s ? (wrong
      ? `At iteration ${fmt(run.iteration)}: ${wrong} of the ${T} bits of this sum are wrong (red).`
      : `At iteration ${fmt(run.iteration)}: all ${T} bits of this sum are right.`) : "";
  }

  function draw() {
    drawLoss();
    drawStates();
  }

  // ------------------------------------------------------------------ set up

  function setUp() {
    if (!el("train-widget")) return;
    if (!window.GRUTrain || !window.GRUNet32 || !window.gruAdder) {
      el("train-error").textContent = "The training scripts did not load; this page cannot train.";
      el("train-start").disabled = true;
      return;
    }
    el("train-form").addEventListener("submit", event => {
      event.preventDefault();
      start(el("train-seed").value);
    });
    el("train-stop").addEventListener("click", stop);
    el("train-download").addEventListener("click", download);
    el("train-slow").addEventListener("change", event => {
      if (run && run.worker) run.worker.postMessage({ type: "slow", slow: event.target.checked });
      if (run && run.local) run.local.setSlow(event.target.checked);
    });
    let width = 0;
    const resized = () => {
      const w = el("train-widget").clientWidth;
      if (w !== width) { width = w; scheduleDraw(); }
    };
    if (window.ResizeObserver) new ResizeObserver(resized).observe(el("train-widget"));
    else window.addEventListener("resize", resized);
    setStatus("idle", "Not started: choose a seed and press Train.");
    draw();
  }

  window.gruTrain = {
    start, stop,
    get run() { return run; },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
