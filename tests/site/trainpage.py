"""The page "Train it" from Python: its JavaScript training functions next to the package's.

Shared by the site tests (``test_train_it.py``) and the benchmark ``benchmarks/train_page.py``.
The page's functions are ``window.GRUTrain`` (``book/_static/gru-train-core.js``); its weights
are dicts of name -> nested lists, in the layout of :func:`gru_tutorial.web.export_adder`
(``W_*`` (2, units), ``U_*`` (units, units), ``b_*`` (units,), ``V`` (units,), ``c`` (1,)).
"""

from __future__ import annotations

import numpy as np

from gru_tutorial.adder import AdderWeights
from gru_tutorial.data import AdditionBatch
from gru_tutorial.web import WEIGHT_NAMES

_JS_WEIGHTS = """
  const G = window.GRUTrain;
  const toArrays = w => Object.fromEntries(
    G.WEIGHT_NAMES.map(n => [n, Float64Array.from([w[n]].flat(2))]));
  const toLists = w => Object.fromEntries(G.WEIGHT_NAMES.map(n => [n, Array.from(w[n])]));
  const toBatch = b => ({ count: b.count, T: b.T, k: Uint8Array.from(b.k),
                          y: Uint8Array.from(b.y) });
"""


def weights_of(weights: AdderWeights) -> dict[str, list]:
    """A model's weights as the page's functions take them (float64 lists)."""
    arrays = dict(weights.arrays) | {"V": weights.V, "c": np.atleast_1d(weights.c)}
    return {name: np.asarray(arrays[name], dtype=np.float64).tolist() for name in WEIGHT_NAMES}


def js_batch(batch: AdditionBatch) -> dict:
    """A batch as the page's functions take it: input pair indices ``k = 2 a + b`` and sum bits."""
    x = np.asarray(batch.x)
    k = (2 * x[..., 0] + x[..., 1]).astype(int)
    y = np.asarray(batch.y)[..., 0].astype(int)
    return {"count": int(x.shape[0]), "T": int(x.shape[1]), "k": k.ravel().tolist(),
            "y": y.ravel().tolist()}


def js_loss_and_gradient(page, weights: dict, batch: dict, units: int) -> tuple[float, dict]:
    """The page's float64 loss and gradient of ``batch`` at ``weights``."""
    out = page.evaluate(f"""([w, b, u]) => {{ {_JS_WEIGHTS}
        const r = G.lossAndGradient(toArrays(w), u, toBatch(b));
        return {{ loss: r.loss, grads: toLists(r.grads) }};
    }}""", [weights, batch, units])
    return out["loss"], {name: np.array(v) for name, v in out["grads"].items()}


def js_train(page, weights: dict, batches: list[dict], units: int) -> tuple[list[float], dict]:
    """Adam steps of the page on ``batches`` from ``weights``: the losses, and the weights after."""
    out = page.evaluate(f"""([w, bs, u]) => {{ {_JS_WEIGHTS}
        const W = toArrays(w), adam = G.makeAdam(W), losses = [];
        for (const b of bs) {{
          const r = G.lossAndGradient(W, u, toBatch(b));
          losses.push(r.loss);
          G.adamStep(W, r.grads, adam);
        }}
        return {{ losses, weights: toLists(W) }};
    }}""", [weights, batches, units])
    return out["losses"], {name: np.array(v) for name, v in out["weights"].items()}


def tf_loss_and_gradient(weights: dict, batch: AdditionBatch, units: int) -> tuple[float, dict]:
    """The package's loss (cross-entropy on the logits) and TensorFlow's gradient, in float64."""
    import tensorflow as tf

    from gru_tutorial.model import BitAdder
    from gru_tutorial.train import loss_function

    arrays = {name: np.array(weights[name], dtype=np.float64) for name in WEIGHT_NAMES}
    arrays["c"] = arrays["c"][0]
    model = BitAdder.from_weights(AdderWeights("gru", arrays, dtype="float64"))
    loss_fn = loss_function("bce")
    x, y = tf.constant(batch.x, tf.float64), tf.constant(batch.y, tf.float64)
    variables = {name: getattr(model.cell, name) for name in WEIGHT_NAMES[:-2]}
    variables |= {"V": model.V, "c": model.c}
    with tf.GradientTape() as tape:
        loss = loss_fn(model(x), y)
    grads = tape.gradient(loss, list(variables.values()))
    out = {name: g.numpy().reshape(np.shape(arrays[name]) or (1,))
           for name, g in zip(variables, grads, strict=True)}
    out["V"] = out["V"].reshape(-1)
    return float(loss), out


def max_relative_difference(a: dict, b: dict) -> float:
    """The largest difference between two gradients, relative to the largest entry of ``b``."""
    scale = max(float(np.max(np.abs(b[name]))) for name in WEIGHT_NAMES)
    return max(float(np.max(np.abs(np.asarray(a[name]).reshape(np.shape(b[name])) - b[name])))
               for name in WEIGHT_NAMES) / scale
