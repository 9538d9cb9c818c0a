/* The float32 GRU adder's forward pass, shared by the pages "Try it" and "Train it".
 *
 * One definition of the arithmetic the pages run: the package's GRU (gru_tutorial.cell.GRUCell)
 * in float32, every sum, product and activation rounded to float32 with Math.fround.
 *
 *   z_t = sigmoid(x_t W_z + h_{t-1} U_z + b_z)          update gate
 *   r_t = sigmoid(x_t W_r + h_{t-1} U_r + b_r)          reset gate
 *   c_t = tanh(x_t W_h + (r_t * h_{t-1}) U_h + b_h)     candidate
 *   h_t = (1 - z_t) * h_{t-1} + z_t * c_t               new state
 *   logit_t = h_t V + c,  sum bit t = (logit_t > 0)
 *
 * A plain script: it sets self.GRUNet32 = {prepare, forward, FORMAT_VERSION} in a page
 * (gru-adder.js, gru-train.js) and in the training worker (gru-train-worker.js, importScripts).
 */
(function (root) {
  "use strict";

  const f = Math.fround;
  const FORMAT_VERSION = 1;

  function toFloat32Matrix(rows, nrows, ncols, name) {
    if (!Array.isArray(rows) || rows.length !== nrows) {
      throw new Error(`weight ${name} should have ${nrows} rows`);
    }
    const out = new Float32Array(nrows * ncols);
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== ncols) {
        throw new Error(`weight ${name} should have ${ncols} columns`);
      }
      row.forEach((v, j) => { out[i * ncols + j] = v; });
    });
    return out;
  }

  /** Prepare exported weights (the layout of gru_tutorial.web.export_adder) for the loop. */
  function prepare(exported) {
    if (!exported || exported.format_version !== FORMAT_VERSION) {
      throw new Error(`expected weights of format_version ${FORMAT_VERSION}`);
    }
    if (exported.cell !== "gru") {
      throw new Error(`this page runs the cell "gru", not "${exported.cell}"`);
    }
    const u = exported.units;
    const w = exported.weights;
    const m = { units: u, exported };
    const W = {}, b = {};
    for (const g of ["z", "r", "h"]) {
      W[g] = toFloat32Matrix(w["W_" + g], 2, u, "W_" + g);
      b[g] = toFloat32Matrix([w["b_" + g]], 1, u, "b_" + g);
    }
    // x W + b for the four input pairs (a, b), row 2a + b: [z | r | h], 3u values per row
    m.table = new Float32Array(4 * 3 * u);
    for (let k = 0; k < 4; k++) {
      const x0 = k >> 1, x1 = k & 1;
      ["z", "r", "h"].forEach((g, gi) => {
        for (let j = 0; j < u; j++) {
          const xw = f(f(x0 * W[g][j]) + f(x1 * W[g][u + j]));
          m.table[k * 3 * u + gi * u + j] = f(xw + b[g][j]);
        }
      });
    }
    m.Uz = toFloat32Matrix(w.U_z, u, u, "U_z");
    m.Ur = toFloat32Matrix(w.U_r, u, u, "U_r");
    m.Uh = toFloat32Matrix(w.U_h, u, u, "U_h");
    m.V = toFloat32Matrix(w.V, u, 1, "V");
    m.c = f(toFloat32Matrix([w.c], 1, 1, "c")[0]);
    return m;
  }

  function sigmoid(a) { return f(1 / (1 + Math.exp(-a))); }
  function tanh(a) { return f(Math.tanh(a)); }

  /**
   * The forward pass over the input pair indices k[t] = 2 a_t + b_t. With record false, only
   * the logits are kept (z, r and h are null): the held-out check of "Train it" runs millions
   * of steps and needs no more.
   */
  function forward(m, k, record = true) {
    const u = m.units, T = k.length, table = m.table;
    const Uz = m.Uz, Ur = m.Ur, Uh = m.Uh, V = m.V;
    const Z = new Float32Array(record ? T * u : u), R = new Float32Array(record ? T * u : u);
    const H = record ? new Float32Array(T * u) : null;
    const s = record ? u : 0; // row stride of Z and R: 0 overwrites one row
    const logits = new Float32Array(T);
    const h = new Float32Array(u), rh = new Float32Array(u), hz = new Float32Array(u);
    const hr = new Float32Array(u), hh = new Float32Array(u);
    for (let t = 0; t < T; t++) {
      const row = k[t] * 3 * u;
      for (let j = 0; j < u; j++) { hz[j] = 0; hr[j] = 0; hh[j] = 0; }
      for (let i = 0; i < u; i++) {       // h U_z and h U_r, row by row
        const hi = h[i];
        for (let j = 0; j < u; j++) {
          hz[j] = f(hz[j] + f(hi * Uz[i * u + j]));
          hr[j] = f(hr[j] + f(hi * Ur[i * u + j]));
        }
      }
      for (let j = 0; j < u; j++) {
        Z[t * s + j] = sigmoid(f(table[row + j] + hz[j]));
        R[t * s + j] = sigmoid(f(table[row + u + j] + hr[j]));
        rh[j] = f(R[t * s + j] * h[j]);    // reset before U_h
      }
      for (let i = 0; i < u; i++) {
        const ri = rh[i];
        for (let j = 0; j < u; j++) hh[j] = f(hh[j] + f(ri * Uh[i * u + j]));
      }
      let logit = 0;
      for (let j = 0; j < u; j++) {
        const z = Z[t * s + j];
        const candidate = tanh(f(table[row + 2 * u + j] + hh[j]));
        h[j] = f(f(f(1 - z) * h[j]) + f(z * candidate));
        if (record) H[t * u + j] = h[j];
        logit = f(logit + f(h[j] * V[j]));
      }
      logits[t] = f(logit + m.c);
    }
    return record ? { z: Z, r: R, h: H, logits } : { z: null, r: null, h: null, logits };
  }

  root.GRUNet32 = { prepare, forward, FORMAT_VERSION };
})(typeof self !== "undefined" ? self : globalThis);
