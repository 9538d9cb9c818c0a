/* Training the book's GRU adder in plain JavaScript: the page "Train it" (book/train_it.md).
 *
 * The model, loss and stopping rule of the package's "small" recipe (gru_tutorial.recipes):
 * a 3-unit GRU (gru-net32.js gives the equations) with the readout logit_t = h_t V + c, Glorot
 * uniform input weights, orthogonal recurrent weights and zero biases; binary cross-entropy on
 * the logits, mean over every bit of a batch of 100 fresh 16-bit sums with a random density of
 * ones per operand; Adam with learning rate 3e-2. The gradient is the hand-derived backward pass
 * through time of gru_tutorial.cell.scan_manual_gradient, written out for one example at a time.
 * When a training batch comes out all exact, the held-out check runs: 1,000 mixed-density sums
 * each of 20, 200 and 1,000 bits and the adversarial 1,000-bit sums, all exact, computed by the
 * float32 network of gru-net32.js (the weights rounded to float32, the arithmetic of the adder
 * and of the package's model). A run with no passed check 600 steps into an attempt starts again
 * from new weights and sums (6 attempts, 4,000 steps in all), as the recipe does.
 *
 * Training itself runs in float64 (JavaScript's numbers). What the page leaves out of the recipe:
 * its proof stage (the contraction and spread terms and the verifier): run `gru-tutorial verify`
 * on the downloaded weights. The random numbers come from this file's own generator (sfc32), not
 * NumPy's, so a seed here and the same seed in Python draw different weights and sums.
 *
 * A plain script: it sets self.GRUTrain in a page and in the worker (gru-train-worker.js).
 */
(function (root) {
  "use strict";

  const RECIPE = Object.freeze({
    name: "small", units: 3, learningRate: 3e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
    batchSize: 100, trainBits: 16, evalBits: [20, 200, 1000], evalCount: 1000,
    restartAfter: 600, attempts: 6, maxSteps: 4000,
  });
  const MAX_SEED = 4294967295; // 2**32 - 1: the generator's seed is one 32-bit word
  const GATES = ["z", "r", "h"];
  const WEIGHT_NAMES = ["W_z", "W_r", "W_h", "U_z", "U_r", "U_h", "b_z", "b_r", "b_h", "V", "c"];
  const HELD_OUT_STREAM = 1000; // the attempts use streams 0, 1, 2, ...
  const SLOW_STEPS = 2, SLOW_PAUSE_MS = 80; // slow motion: about 25 iterations a second

  // ------------------------------------------------------------------ random numbers

  /** splitmix32: spreads a 32-bit seed over the generator's state. */
  function splitmix32(a) {
    return function () {
      a = (a + 0x9e3779b9) | 0;
      let t = a ^ (a >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
  }

  /**
   * A seeded generator (sfc32) for one stream of a seed: uniform() in [0, 1) with 32 random bits,
   * normal() by Box-Muller. Same seed and stream, same numbers, in every browser.
   */
  function makeRng(seed, stream) {
    const mix = splitmix32((seed ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0);
    let a = mix(), b = mix(), c = mix(), d = mix();
    function next() {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      return (t >>> 0) / 4294967296;
    }
    for (let i = 0; i < 12; i++) next();
    return {
      uniform: next,
      normal() {
        const u1 = 1 - next(), u2 = next();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      },
    };
  }

  /** At most 40 characters of a text, with an ellipsis where it was cut. */
  function shorten(s) {
    const chars = Array.from(s);
    return chars.length > 40 ? chars.slice(0, 40).join("") + "\u2026" : s;
  }

  /** The seed field's value as a seed, or an Error whose message names the type and range. */
  function checkSeed(value) {
    const range = `a whole number from 0 to ${MAX_SEED.toLocaleString("en")}`;
    if (typeof value === "number") {
      if (Number.isInteger(value) && value >= 0 && value <= MAX_SEED) return value;
      throw new RangeError(`The seed must be ${range}; got ${value}.`);
    }
    if (typeof value !== "string") throw new TypeError(`The seed must be ${range}; got a ${typeof value}.`);
    const s = value.trim();
    if (s === "") throw new RangeError(`The seed is empty: type ${range}, such as 0.`);
    if (!/^[0-9]+$/.test(s)) {
      throw new RangeError(`The seed must be ${range} (digits only); got "${shorten(s)}".`);
    }
    const digits = s.replace(/^0+(?=[0-9])/, ""); // 007 is 7
    if (digits.length > 10 || Number(digits) > MAX_SEED) {
      throw new RangeError(`The seed must be ${range}; got ${shorten(s)}.`);
    }
    return Number(digits);
  }

  // ------------------------------------------------------------------ weights

  function shapeOf(name, u) {
    if (name[0] === "W") return [2, u];
    if (name[0] === "U") return [u, u];
    if (name === "c") return [1];
    return [u]; // b_* and V
  }

  function zeros(u) {
    const w = {};
    for (const name of WEIGHT_NAMES) w[name] = new Float64Array(shapeOf(name, u).reduce((p, q) => p * q, 1));
    return w;
  }

  /** An orthogonal u x u matrix (Keras's Orthogonal: the Q of a Gaussian matrix, diag(R) > 0). */
  function orthogonal(rng, u) {
    const a = Array.from({ length: u }, () => Array.from({ length: u }, () => rng.normal()));
    const q = new Float64Array(u * u); // column j of Q at q[i * u + j]
    for (let j = 0; j < u; j++) {
      const v = a.map(row => row[j]);
      for (let k = 0; k < j; k++) { // modified Gram-Schmidt
        let dot = 0;
        for (let i = 0; i < u; i++) dot += q[i * u + k] * v[i];
        for (let i = 0; i < u; i++) v[i] -= dot * q[i * u + k];
      }
      const norm = Math.hypot(...v);
      for (let i = 0; i < u; i++) q[i * u + j] = v[i] / norm;
    }
    return q;
  }

  /** The recipe's initial weights: Glorot uniform W and V, orthogonal U, zero biases and c. */
  function initWeights(rng, u) {
    const w = zeros(u);
    const glorot = (array, fanIn, fanOut) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < array.length; i++) array[i] = (2 * rng.uniform() - 1) * limit;
    };
    for (const g of GATES) glorot(w["W_" + g], 2, u);
    for (const g of GATES) w["U_" + g] = orthogonal(rng, u);
    glorot(w.V, u, 1);
    return w;
  }

  /**
   * Weights in the layout of gru_tutorial.web.export_adder (window.GRU_ADDER), rounded to float32:
   * what the adder on the page runs, and the file "gru-tutorial add --model" reads.
   */
  function exportWeights(w, u, source) {
    const f = Math.fround;
    const rows = (array, nrows, ncols) => Array.from({ length: nrows },
      (_, i) => Array.from(array.subarray(i * ncols, (i + 1) * ncols), f));
    const weights = {};
    for (const name of WEIGHT_NAMES) {
      const shape = shapeOf(name, u);
      if (name === "V") weights.V = rows(w.V, u, 1);
      else if (shape.length === 2) weights[name] = rows(w[name], shape[0], shape[1]);
      else weights[name] = Array.from(w[name], f);
    }
    return { format_version: 1, cell: "gru", units: u, dtype: "float32", source, weights };
  }

  // ------------------------------------------------------------------ sums

  /** Sum bits (least significant first, T = bits + 1) of two operands' bit arrays. */
  function addBits(a, b, k, y, offset, T) {
    let carry = 0;
    for (let t = 0; t < T; t++) {
      const s = a[t] + b[t] + carry;
      k[offset + t] = 2 * a[t] + b[t];
      y[offset + t] = s & 1;
      carry = s >> 1;
    }
  }

  /**
   * count sums of bits-bit operands: k[i * T + t] = 2 a_t + b_t and y the sum's bits, T = bits + 1.
   * With mixed density (the recipe's choice) each operand draws its own chance of a one.
   */
  function randomSums(rng, count, bits, mixed = true) {
    const T = bits + 1;
    const k = new Uint8Array(count * T), y = new Uint8Array(count * T);
    const a = new Uint8Array(T), b = new Uint8Array(T);
    for (let i = 0; i < count; i++) {
      const da = mixed ? rng.uniform() : 0.5, db = mixed ? rng.uniform() : 0.5;
      for (let t = 0; t < bits; t++) {
        a[t] = rng.uniform() < da ? 1 : 0;
        b[t] = rng.uniform() < db ? 1 : 0;
      }
      addBits(a, b, k, y, i * T, T);
    }
    return { count, T, k, y };
  }

  /** The adversarial sums of gru_tutorial.data.adversarial_pairs(bits), as one set. */
  function adversarialSums(bits) {
    const T = bits + 1;
    const one = t => (t < bits ? 1 : 0);
    const alt = t => (t < bits && (bits - 1 - t) % 2 === 0 ? 1 : 0); // 1010...1 read from the top
    const pairs = [
      [() => 0, () => 0], // zero + zero
      [one, t => (t === 0 ? 1 : 0)], // all ones + 1
      [t => (t === 0 ? 1 : 0), one], // 1 + all ones
      [one, one], // all ones + all ones
      [t => (t === bits - 1 ? 1 : 0), t => (t === bits - 1 ? 1 : 0)], // top bit + top bit
      [alt, t => one(t) - alt(t)], // alternating + its complement
      [alt, alt], // alternating + alternating
      [t => (t === 1 ? 0 : one(t)), t => (t === 0 ? 1 : 0)], // long + 1
      [one, () => 0], // all ones + 0
      [t => (t === 0 ? 0 : one(t)), t => (t === 0 ? 1 : 0)], // all ones minus 1 + 1
    ];
    const k = new Uint8Array(pairs.length * T), y = new Uint8Array(pairs.length * T);
    const a = new Uint8Array(T), b = new Uint8Array(T);
    pairs.forEach(([fa, fb], i) => {
      for (let t = 0; t < T; t++) { a[t] = fa(t); b[t] = fb(t); }
      addBits(a, b, k, y, i * T, T);
    });
    return { count: pairs.length, T, k, y };
  }

  // ------------------------------------------------------------------ loss and gradient

  /**
   * Loss, accuracies and gradient of a batch (float64).
   *
   * loss = mean over every bit of softplus(logit) - y logit (binary cross-entropy on the logits);
   * the gradient is backpropagation through time, step by step from the last step to the first,
   * as in gru_tutorial.cell.scan_manual_gradient. Returns {loss, bitAccuracy, exactAccuracy,
   * grads} with grads in the layout of the weights.
   */
  function lossAndGradient(w, u, batch) {
    const { count, T, k, y } = batch;
    const n = count * T;
    const grads = zeros(u);
    const hs = new Float64Array((T + 1) * u); // h_0 .. h_T of one example
    const zs = new Float64Array(T * u), rs = new Float64Array(T * u), cs = new Float64Array(T * u);
    const dlogits = new Float64Array(T);
    const dh = new Float64Array(u), g = new Float64Array(u), dc = new Float64Array(u);
    const drh = new Float64Array(u), daz = new Float64Array(u), dar = new Float64Array(u);
    let loss = 0, rightBits = 0, exact = 0;
    for (let e = 0; e < count; e++) {
      // forward
      let allRight = true;
      for (let t = 0; t < T; t++) {
        const kt = k[e * T + t], x0 = kt >> 1, x1 = kt & 1;
        const hp = t * u, hn = (t + 1) * u;
        for (let j = 0; j < u; j++) {
          let az = x0 * w.W_z[j] + x1 * w.W_z[u + j] + w.b_z[j];
          let ar = x0 * w.W_r[j] + x1 * w.W_r[u + j] + w.b_r[j];
          for (let i = 0; i < u; i++) {
            az += hs[hp + i] * w.U_z[i * u + j];
            ar += hs[hp + i] * w.U_r[i * u + j];
          }
          zs[t * u + j] = 1 / (1 + Math.exp(-az));
          rs[t * u + j] = 1 / (1 + Math.exp(-ar));
        }
        let logit = w.c[0];
        for (let j = 0; j < u; j++) {
          let ac = x0 * w.W_h[j] + x1 * w.W_h[u + j] + w.b_h[j];
          for (let i = 0; i < u; i++) ac += rs[t * u + i] * hs[hp + i] * w.U_h[i * u + j];
          const c = Math.tanh(ac), z = zs[t * u + j];
          cs[t * u + j] = c;
          hs[hn + j] = (1 - z) * hs[hp + j] + z * c;
          logit += hs[hn + j] * w.V[j];
        }
        const target = y[e * T + t];
        loss += Math.max(logit, 0) - logit * target + Math.log1p(Math.exp(-Math.abs(logit)));
        const right = (logit > 0 ? 1 : 0) === target;
        rightBits += right ? 1 : 0;
        allRight = allRight && right;
        dlogits[t] = (1 / (1 + Math.exp(-logit)) - target) / n;
      }
      exact += allRight ? 1 : 0;
      // backward
      dh.fill(0);
      for (let t = T - 1; t >= 0; t--) {
        const kt = k[e * T + t], x0 = kt >> 1, x1 = kt & 1;
        const hp = t * u, hn = (t + 1) * u, d = dlogits[t];
        grads.c[0] += d;
        for (let j = 0; j < u; j++) {
          grads.V[j] += d * hs[hn + j];
          g[j] = dh[j] + d * w.V[j]; // dL/dh_t: from the readout and from step t + 1
          const z = zs[t * u + j], c = cs[t * u + j];
          dc[j] = g[j] * z * (1 - c * c); // candidate pre-activation
          daz[j] = g[j] * (c - hs[hp + j]) * z * (1 - z); // update gate pre-activation
        }
        for (let i = 0; i < u; i++) {
          let s = 0;
          for (let j = 0; j < u; j++) s += dc[j] * w.U_h[i * u + j];
          drh[i] = s; // dL/d(r_t * h_{t-1})
          const r = rs[t * u + i];
          dar[i] = s * hs[hp + i] * r * (1 - r); // reset gate pre-activation
        }
        for (let i = 0; i < u; i++) {
          const hpi = hs[hp + i], r = rs[t * u + i];
          let back = g[i] * (1 - zs[t * u + i]) + drh[i] * r;
          for (let j = 0; j < u; j++) {
            back += daz[j] * w.U_z[i * u + j] + dar[j] * w.U_r[i * u + j];
            grads.U_z[i * u + j] += hpi * daz[j];
            grads.U_r[i * u + j] += hpi * dar[j];
            grads.U_h[i * u + j] += r * hpi * dc[j];
          }
          dh[i] = back;
        }
        for (let j = 0; j < u; j++) {
          grads.W_z[j] += x0 * daz[j]; grads.W_z[u + j] += x1 * daz[j]; grads.b_z[j] += daz[j];
          grads.W_r[j] += x0 * dar[j]; grads.W_r[u + j] += x1 * dar[j]; grads.b_r[j] += dar[j];
          grads.W_h[j] += x0 * dc[j]; grads.W_h[u + j] += x1 * dc[j]; grads.b_h[j] += dc[j];
        }
      }
    }
    return { loss: loss / n, bitAccuracy: rightBits / n, exactAccuracy: exact / count, grads };
  }

  /** Adam's moments for weights w. */
  function makeAdam(w) {
    const m = {}, v = {};
    for (const name of WEIGHT_NAMES) {
      m[name] = new Float64Array(w[name].length);
      v[name] = new Float64Array(w[name].length);
    }
    return { m, v, t: 0 };
  }

  /** One Adam step (Kingma & Ba 2015), the arithmetic of gru_tutorial.train.Adam. */
  function adamStep(w, grads, adam, r = RECIPE) {
    adam.t += 1;
    const step = r.learningRate * Math.sqrt(1 - r.beta2 ** adam.t) / (1 - r.beta1 ** adam.t);
    for (const name of WEIGHT_NAMES) {
      const p = w[name], gr = grads[name], m = adam.m[name], v = adam.v[name];
      for (let i = 0; i < p.length; i++) {
        m[i] = r.beta1 * m[i] + (1 - r.beta1) * gr[i];
        v[i] = r.beta2 * v[i] + (1 - r.beta2) * gr[i] * gr[i];
        p[i] -= step * m[i] / (Math.sqrt(v[i]) + r.epsilon);
      }
    }
  }

  // ------------------------------------------------------------------ the held-out check

  /** The held-out sets of a seed: drawn once, kept over restarts (as in the package). */
  function heldOutSets(seed, r = RECIPE) {
    const rng = makeRng(seed, HELD_OUT_STREAM);
    const sets = r.evalBits.map(bits => ({ name: String(bits), ...randomSums(rng, r.evalCount, bits) }));
    const longest = Math.max(...r.evalBits);
    return [{ name: "adversarial", ...adversarialSums(longest) }, ...sets];
  }

  /**
   * Whether the float32 network (exported weights) gets every held-out sum exactly right. Tries
   * the sums that were wrong at the last check first (suspects: a list of [set, index] it
   * updates), and stops at the first wrong sum. Returns {passed, wrong: {set, index} or null}.
   */
  function checkHeldOut(exported, sets, suspects = []) {
    const net = root.GRUNet32.prepare(exported);
    const wrongAt = (s, i) => {
      const set = sets[s], T = set.T, k = set.k.subarray(i * T, (i + 1) * T);
      const { logits } = root.GRUNet32.forward(net, k, false);
      for (let t = 0; t < T; t++) if ((logits[t] > 0 ? 1 : 0) !== set.y[i * T + t]) return true;
      return false;
    };
    for (let n = 0; n < suspects.length; n++) {
      const [s, i] = suspects[n];
      if (wrongAt(s, i)) {
        suspects.splice(n, 1);
        suspects.unshift([s, i]);
        return { passed: false, wrong: { set: sets[s].name, index: i } };
      }
    }
    for (let s = 0; s < sets.length; s++) {
      for (let i = 0; i < sets[s].count; i++) {
        if (wrongAt(s, i)) {
          suspects.unshift([s, i]);
          if (suspects.length > 16) suspects.pop();
          return { passed: false, wrong: { set: sets[s].name, index: i } };
        }
      }
    }
    return { passed: true, wrong: null };
  }

  // ------------------------------------------------------------------ a training run

  /** The carry chain shown on the page: (2**bits - 1) + 1, a carry through every bit. */
  function carryChain(bits) {
    const T = bits + 1, a = new Uint8Array(T), b = new Uint8Array(T);
    for (let t = 0; t < bits; t++) a[t] = 1;
    b[0] = 1;
    const k = new Uint8Array(T), y = new Uint8Array(T);
    addBits(a, b, k, y, 0, T);
    return { count: 1, T, k, y };
  }

  /**
   * A training run of the small recipe for one seed. step() takes one step and returns what
   * happened; state is "training", then "exact" (the held-out check passed) or "failed".
   */
  class Trainer {
    constructor(seed, overrides = {}) {
      this.seed = checkSeed(seed);
      this.recipe = Object.freeze({ ...RECIPE, ...overrides });
      this.units = this.recipe.units;
      this.sets = heldOutSets(this.seed, this.recipe);
      this.suspects = [];
      this.iteration = 0;
      this.restarts = 0;
      this.checks = 0;
      this.state = "training";
      this.convergedAt = null;
      this.startAttempt();
    }

    startAttempt() {
      this.rng = makeRng(this.seed, this.restarts);
      this.weights = initWeights(this.rng, this.units);
      this.adam = makeAdam(this.weights);
      this.attemptStart = this.iteration;
    }

    exported() {
      return exportWeights(this.weights, this.units, {
        model: "trained in the page", recipe: this.recipe.name, seed: this.seed,
        converged_at: this.convergedAt, iterations: this.iteration, restarts: this.restarts,
        trained_in: "JavaScript, float64; weights rounded to float32",
      });
    }

    step() {
      if (this.state !== "training") throw new Error(`the run is over (${this.state})`);
      const r = this.recipe;
      const batch = randomSums(this.rng, r.batchSize, r.trainBits);
      const out = lossAndGradient(this.weights, this.units, batch);
      adamStep(this.weights, out.grads, this.adam, r);
      this.iteration += 1;
      const event = {
        iteration: this.iteration, loss: out.loss, bitAccuracy: out.bitAccuracy,
        exactAccuracy: out.exactAccuracy, checked: false, passed: false, restarted: false,
        attempt: this.restarts + 1,
      };
      if (out.exactAccuracy === 1) { // cheap trigger for the costly check, as in the package
        this.checks += 1;
        event.checked = true;
        const result = checkHeldOut(this.exported(), this.sets, this.suspects);
        event.wrong = result.wrong;
        if (result.passed) {
          this.convergedAt = this.iteration;
          this.state = "exact";
          event.passed = true;
          return event;
        }
      }
      if (this.iteration >= r.maxSteps) {
        this.state = "failed";
      } else if (this.iteration - this.attemptStart >= r.restartAfter && this.restarts + 1 < r.attempts) {
        this.restarts += 1;
        this.startAttempt();
        event.restarted = true;
      }
      return event;
    }

    /** z, r, h and the logits of the float32 network on the carry chain of `bits` bits. */
    carryStates(bits = 40) {
      const chain = carryChain(bits);
      const net = root.GRUNet32.prepare(this.exported());
      return { ...root.GRUNet32.forward(net, chain.k, true), y: chain.y, T: chain.T, units: this.units };
    }
  }

  /**
   * Train one seed in slices of about sliceMs milliseconds, each followed by a post(message) and
   * a pause that lets the page (or the worker's message queue) run: the one loop of the worker
   * and of the page's fallback when a worker cannot start (pages opened from disk). Messages:
   * {type: "progress", iteration, attempt, checks, seconds, history: {iteration, loss,
   * bitAccuracy, exactAccuracy, failedCheck}, restartedAt, lastWrong (the sum that failed the slice's last
   * failed check, or null), states}, then one of {type: "exact", ...,
   * exported} or {type: "failed", ...}. With slow, at most two steps per slice and a pause between
   * slices: slow motion for the reader. Returns {stop(), setSlow(value)}.
   */
  function run(seed, post, { sliceMs = 40, overrides = {}, chainBits = 40, slow = false } = {}) {
    const trainer = new Trainer(seed, overrides);
    const start = performance.now();
    let stopped = false, timer = null;
    function slice() {
      timer = null;
      if (stopped) return;
      const history = { iteration: [], loss: [], bitAccuracy: [], exactAccuracy: [], failedCheck: [] };
      const restartedAt = [];
      let lastWrong = null;
      const until = performance.now() + sliceMs;
      let steps = 0; // slow motion: SLOW_STEPS steps per slice, SLOW_PAUSE_MS apart
      while (trainer.state === "training" && performance.now() < until && !(slow && steps >= SLOW_STEPS)) {
        steps += 1;
        const e = trainer.step();
        for (const key of ["iteration", "loss", "bitAccuracy", "exactAccuracy"]) history[key].push(e[key]);
        history.failedCheck.push(e.checked && !e.passed);
        if (e.restarted) restartedAt.push(e.iteration);
        if (e.checked && !e.passed) lastWrong = e.wrong;
      }
      const seconds = (performance.now() - start) / 1000;
      const common = { iteration: trainer.iteration, attempt: trainer.restarts + 1,
        checks: trainer.checks, seconds, seed: trainer.seed };
      post({ type: "progress", ...common, history, restartedAt, lastWrong,
        states: trainer.carryStates(chainBits) });
      if (trainer.state === "exact") post({ type: "exact", ...common, exported: trainer.exported() });
      else if (trainer.state === "failed") post({ type: "failed", ...common });
      else timer = setTimeout(slice, slow ? SLOW_PAUSE_MS : 0);
    }
    timer = setTimeout(slice, 0);
    return {
      trainer,
      setSlow(value) { slow = Boolean(value); },
      stop() {
        stopped = true;
        if (timer !== null) clearTimeout(timer);
      },
    };
  }

  root.GRUTrain = {
    run, RECIPE, MAX_SEED, WEIGHT_NAMES, makeRng, checkSeed, initWeights, exportWeights,
    randomSums, adversarialSums, carryChain, lossAndGradient, makeAdam, adamStep, heldOutSets,
    checkHeldOut, Trainer,
  };
})(typeof self !== "undefined" ? self : globalThis);
