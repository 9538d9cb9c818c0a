"""Training terms that make a GRU adder provable, for recipes that stop at a proof.

Explained in the chapter "Inside the adder" (``book/06_inside_the_adder.ipynb``). The
verifier (:mod:`gru_tutorial.verify`) proves a network right when one box per node of
a history graph (the carry and the last few input pairs) holds every state reached
there, and each box's image under one step lands in the next node's box. Two things
make that work:

- **Contraction.** A step that shrinks small boxes keeps images inside their targets.
  :func:`contraction_penalty` penalises every row sum of ``|d h_t / d h_{t-1}|`` above 0
  at the states the network visits: how far unit ``i`` can move per unit move of the
  previous state.
- **Clustering.** States that share a history node should lie close together, or the
  node's box has to be wide. :func:`spread_penalty` is the mean squared distance of
  each state from the mean state of its node in the batch.

A recipe adds both to the loss once the held-out rule has passed
(:attr:`gru_tutorial.recipes.Recipe.contraction` and ``spread``). Before that they
would fight the learning of the adder itself. The GRU's Jacobian is written out from
its equations; the other cells the verifier handles (the plain RNN, the GRU without
reset gate, the LSTM, whose state is ``(h, c)``) get theirs from TensorFlow's
automatic differentiation.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .cell import GRUCell
from .cells import LSTMCell

__all__ = ["step_jacobian", "visited_states", "contraction_penalty", "history_nodes",
           "spread_penalty"]


def _flat(state) -> tf.Tensor:
    return tf.concat(state, axis=-1) if isinstance(state, tuple) else state


def step_jacobian(cell, x: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
    """``J[n, i, j] = d s'_i / d s_j`` of one step of ``cell`` at states ``s`` (n, dim).

    ``dim`` is the units, or twice them for the LSTM, whose state is ``(h, c)``
    side by side. The GRU's comes from its equations (below); the other cells'
    from automatic differentiation of their ``step``.
    """
    if type(cell) is GRUCell:  # not a subclass: the formula is this cell's
        return _gru_jacobian(cell, x, h)
    with tf.GradientTape() as tape:
        tape.watch(h)
        state = tuple(tf.split(h, 2, axis=-1)) if isinstance(cell, LSTMCell) else h
        new = _flat(cell.step(x, state))
    return tape.batch_jacobian(new, h)


def visited_states(cell, x: tf.Tensor) -> tf.Tensor:
    """The states ``cell`` visits on inputs ``x`` (batch, time, 2): (batch, time, dim).

    The hidden states, or for the LSTM ``(h, c)`` side by side.
    """
    if not isinstance(cell, LSTMCell):
        return cell(x)
    h, c = tf.scan(lambda s, x_t: cell.step(x_t, s), tf.transpose(x, [1, 0, 2]),
                   initializer=cell.initial_state(tf.shape(x)[0]))
    return tf.transpose(tf.concat([h, c], axis=-1), [1, 0, 2])


def _gru_jacobian(cell, x: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
    """``J[n, i, j] = d h'_i / d h_j`` of one GRU step at states ``h`` (n, units), inputs ``x``.

    From the four equations: with ``a = x W_h + (r h) U_h + b_h``,
    ``d a_i / d h_j = r_j U_h[j, i] + sum_k h_k r_k (1 - r_k) U_h[k, i] U_r[j, k]``, and
    ``h' = (1 - z) h + z tanh(a)`` gives
    ``J = diag(1 - z) + z (1 - tanh(a)^2) da/dh + (tanh(a) - h) z (1 - z) U_z^T``.
    """
    z = tf.sigmoid(x @ cell.W_z + h @ cell.U_z + cell.b_z)
    r = tf.sigmoid(x @ cell.W_r + h @ cell.U_r + cell.b_r)
    t = tf.tanh(x @ cell.W_h + (r * h) @ cell.U_h + cell.b_h)
    da = (tf.einsum("nj,ji->nij", r, cell.U_h)
          + tf.einsum("nk,ki,jk->nij", h * r * (1 - r), cell.U_h, cell.U_r))
    return ((z * (1 - t * t))[:, :, None] * da
            + ((t - h) * z * (1 - z))[:, :, None] * tf.transpose(cell.U_z)[None]
            + tf.linalg.diag(1 - z))


def contraction_penalty(cell, x: tf.Tensor, hs: tf.Tensor) -> tf.Tensor:
    """Mean over visited states and units of ``(sum_j |J_ij|)^2``, ``J`` from :func:`step_jacobian`.

    Parameters
    ----------
    cell : RecurrentCell
        The cell (one of :data:`gru_tutorial.recipes.VERIFIABLE`).
    x : Tensor
        Inputs ``(batch, time, 2)``.
    hs : Tensor
        The states the cell visited on them (:func:`visited_states`). They are
        taken as fixed points to evaluate ``J`` at (the gradient does not flow
        through them): the penalty asks the step to contract where the network goes.
    """
    units = hs.shape[-1]
    previous = tf.concat([tf.zeros_like(hs[:, :1]), hs[:, :-1]], axis=1)
    jac = step_jacobian(cell, tf.reshape(x, [-1, 2]),
                        tf.reshape(tf.stop_gradient(previous), [-1, units]))
    return tf.reduce_mean(tf.square(tf.reduce_sum(tf.abs(jac), axis=2)))


def history_nodes(x: np.ndarray, graph) -> np.ndarray:
    """The node of ``graph`` (a :class:`~gru_tutorial.verify.HistoryGraph`) after each step.

    Returns
    -------
    numpy.ndarray
        int64 ``(batch, time)``.
    """
    x = np.asarray(x)
    codes = (2 * (x[..., 0] > 0.5) + (x[..., 1] > 0.5)).astype(np.int64)
    node = np.zeros(codes.shape[0], dtype=np.int64)
    out = np.empty(codes.shape, dtype=np.int64)
    for t in range(codes.shape[1]):
        node = out[:, t] = graph.target[node, codes[:, t]]
    return out


def spread_penalty(hs: tf.Tensor, nodes: tf.Tensor, n_nodes: int) -> tf.Tensor:
    """Mean squared distance of each state from the mean state of its history node.

    Parameters
    ----------
    hs : Tensor
        States ``(batch, time, units)``.
    nodes : Tensor
        Their nodes (:func:`history_nodes`), ``(batch, time)``.
    n_nodes : int
        Number of nodes of the graph.
    """
    flat = tf.reshape(hs, [-1, hs.shape[-1]])
    ids = tf.reshape(nodes, [-1])
    means = tf.math.unsorted_segment_mean(flat, ids, n_nodes)
    return tf.reduce_mean(tf.reduce_sum(tf.square(flat - tf.gather(means, ids)), axis=1))
