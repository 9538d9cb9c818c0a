/* The page "Train it": the training loop in a Web Worker, so that the page stays responsive.
 * The loop is GRUTrain.run (gru-train-core.js); this file only passes messages.
 *   page -> worker: {type: "start", seed, slow}, {type: "slow", slow}
 *   worker -> page: GRUTrain.run's messages, or {type: "error", message}
 * The page stops a run by terminating the worker.
 */
"use strict";
importScripts("gru-net32.js", "gru-train-core.js");

let running = null;

self.onmessage = event => {
  const msg = event.data || {};
  if (msg.type === "slow" && running) running.setSlow(msg.slow);
  if (msg.type !== "start") return;
  try {
    running = self.GRUTrain.run(msg.seed, m => self.postMessage(m), { slow: Boolean(msg.slow) });
  } catch (err) {
    self.postMessage({ type: "error", message: err.message });
  }
};
