"""A GRU cell written from the four equations of Chung et al. (2014).

Explained in the chapters "The GRU equations" and "The cell in TensorFlow"
(``book/02_gru_equations.ipynb``, ``book/04_cell_in_tensorflow.ipynb``).

With input ``x_t`` (a row vector) and previous state ``h``::

    z       = sigmoid(x_t W_z + h U_z + b_z)            # update gate   (eq. gru-z)
    r       = sigmoid(x_t W_r + h U_r + b_r)            # reset gate    (eq. gru-r)
    h_tilde = tanh(x_t W_h + (r * h) U_h + b_h)         # candidate     (eq. gru-candidate)
    h_new   = (1 - z) * h + z * h_tilde                 # new state     (eq. gru-state)

``*`` is the elementwise (Hadamard) product. This is the "reset before"
variant of Cho et al. (2014, v3), which Keras calls ``reset_after=False``.
Keras writes the last line as ``z * h + (1 - z) * h_tilde``: its update gate is
our ``1 - z``, a difference of notation. Since ``1 - sigmoid(a) = sigmoid(-a)``,
copying Keras's weights negates the update gate's kernel, recurrent kernel and
bias (see :func:`copy_keras_gru_weights`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .checks import MAX_UNITS, ArgumentError, check_choice, check_int
from .recipes import DTYPES
from .seeding import derive_seeds

__all__ = ["RecurrentCell", "GRUCell", "from_keras_gru", "copy_keras_gru_weights",
           "scan_manual_gradient", "gru_step_parts", "make_initializer", "INITIALIZERS", "LOOPS",
           "keras_layer_arrays", "cell_options", "CELL_OPTIONS", "cell_from_keras"]

_GATES = ("z", "r", "h")

LOOPS = ("scan", "unroll", "manual")
"""How a cell runs over time (see :class:`RecurrentCell`)."""


INITIALIZERS = ("glorot_uniform", "orthogonal", "zeros", "truncated_normal_0.01")
"""Initializer names :func:`make_initializer` accepts."""


def make_initializer(spec: str | keras.initializers.Initializer,
                     seed: int | None) -> keras.initializers.Initializer:
    """A Keras initializer from a name in :data:`INITIALIZERS`, with an explicit seed.

    Parameters
    ----------
    spec : str or keras.initializers.Initializer
        A name, or an initializer, which is returned as it is.
    seed : int, optional
        Seed, for reproducible weights.

    Returns
    -------
    keras.initializers.Initializer
        The initializer.

    Raises
    ------
    ArgumentError
        For an unknown name.
    """
    if isinstance(spec, keras.initializers.Initializer):
        return spec
    if spec == "glorot_uniform":
        return keras.initializers.GlorotUniform(seed=seed)
    if spec == "orthogonal":
        return keras.initializers.Orthogonal(seed=seed)
    if spec == "zeros":
        return keras.initializers.Zeros()
    if spec == "truncated_normal_0.01":
        return keras.initializers.TruncatedNormal(stddev=0.01, seed=seed)
    raise ArgumentError(
        f"unknown initializer {spec!r}; use one of {INITIALIZERS} or a "
        "keras.initializers.Initializer")


CELL_OPTIONS = {"kernel_initializer": "glorot_uniform", "recurrent_initializer": "orthogonal",
                "bias_initializer": "zeros", "seed": None, "dtype": "float32", "loop": "scan"}
"""The keyword arguments every cell takes, with their defaults (see :class:`RecurrentCell`)."""


def cell_options(**options: object) -> dict:
    """:data:`CELL_OPTIONS` updated with ``options``; an unknown name is an error."""
    unknown = set(options) - set(CELL_OPTIONS)
    if unknown:
        raise ArgumentError(f"unknown cell option(s) {sorted(unknown)}; choose from "
                            f"{sorted(CELL_OPTIONS)}")
    return {**CELL_OPTIONS, **options}


def check_cell_args(units: int, input_dim: int, dtype: str,
                    seed: int | None) -> tuple[int, int, int | None]:
    """``units``, ``input_dim`` and ``seed`` checked (and ``dtype`` one of :data:`DTYPES`).

    Raises
    ------
    ArgumentError
        Naming the argument and its allowed range.
    """
    units = check_int(units, "units", 1, MAX_UNITS)
    input_dim = check_int(input_dim, "input_dim", 1, MAX_UNITS)
    check_choice(dtype, "dtype", DTYPES)
    return units, input_dim, None if seed is None else check_int(seed, "seed")


class RecurrentCell(keras.layers.Layer):
    """What every recurrent cell of the package shares: named weights and the loops over time.

    A subclass names its gates (:attr:`gates`) and writes two versions of one
    time step: :meth:`step`, the equations word for word, and
    :meth:`fused_step`, the same arithmetic arranged for speed (all input terms
    precomputed by :meth:`project_inputs`, one matmul for the recurrent terms).
    This class creates the weights ``W_g`` (input), ``U_g`` (recurrent) and
    ``b_g`` (bias) of every gate ``g`` and runs the fast step over a whole
    sequence, with ``tf.scan`` (:meth:`run_scan`), unrolled (:meth:`run_unrolled`)
    or, for the GRU, with a hand-derived backward pass
    (:meth:`GRUCell.run_manual_gradient`): the ``loop`` chosen when the cell is
    built. Chapter "Why gates?" (``book/07_why_gates.ipynb``).

    A subclass sets :attr:`GATES` (one ``W``, ``U`` and ``b`` per name; ``''``
    names them plain ``W``, ``U``, ``b``) and :attr:`NAME`, its default layer name.

    Parameters
    ----------
    units : int
        Size of the hidden state ``h``.
    input_dim : int
        Size of each input vector ``x_t``.
    kernel_initializer, recurrent_initializer, bias_initializer : str or Initializer
        How to initialise ``W_*``, ``U_*`` and ``b_*`` (see :data:`INITIALIZERS`).
    seed : int, optional
        Seed for the initializers; the same seed gives the same weights.
    dtype : str
        ``'float32'`` or ``'float64'``.
    loop : str
        How :meth:`call` runs over time, one of :data:`LOOPS`: ``'scan'``
        (default, :meth:`run_scan`), ``'unroll'`` (:meth:`run_unrolled`) or
        ``'manual'`` (``run_manual_gradient``, only where
        :attr:`MANUAL_GRADIENT`). The numbers are the same.
    name : str, optional
        Layer name (default :attr:`NAME`).
    """

    GATES: tuple[str, ...] = ()
    NAME = "cell"
    MANUAL_GRADIENT = False
    """Whether the cell has a hand-derived backward pass (``loop='manual'``)."""

    def __init__(
        self,
        units: int,
        input_dim: int,
        *,
        kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
        recurrent_initializer: str | keras.initializers.Initializer = "orthogonal",
        bias_initializer: str | keras.initializers.Initializer = "zeros",
        seed: int | None = None,
        dtype: str = "float32",
        loop: str = "scan",
        name: str | None = None,
    ) -> None:
        if not self.GATES:
            raise TypeError(f"{type(self).__name__} names no gates: subclass RecurrentCell "
                            "and set GATES")
        units, input_dim, seed = check_cell_args(units, input_dim, dtype, seed)
        check_choice(loop, "loop", LOOPS)
        if loop == "manual" and not self.MANUAL_GRADIENT:
            raise ArgumentError(f"{type(self).__name__} has no hand-written gradient; "
                                "loop='manual' is for a GRUCell")
        super().__init__(dtype=dtype, name=name or self.NAME)
        self.units, self.input_dim, self.gates, self.loop = units, input_dim, self.GATES, loop
        specs = {"W": (kernel_initializer, (self.input_dim, self.units)),
                 "U": (recurrent_initializer, (self.units, self.units)),
                 "b": (bias_initializer, (self.units,))}
        # one seed per weight, derived from `seed` (None: Keras draws them)
        n = 3 * len(self.gates)
        seeds = iter(derive_seeds(seed, n) if seed is not None else [None] * n)
        for kind, (spec, shape) in specs.items():
            for gate in self.gates:
                var_name = f"{kind}_{gate}" if gate else kind
                var = self.add_weight(shape=shape, initializer=make_initializer(spec, next(seeds)),
                                      name=var_name, dtype=dtype)
                setattr(self, var_name, var)
        self.built = True

    def _weights_of(self, kind: str) -> list[tf.Variable]:
        return [getattr(self, f"{kind}_{g}" if g else kind) for g in self.gates]

    # -- to be written by each cell ------------------------------------------
    def step(self, x_t: tf.Tensor, state):
        """One time step, written as the cell's equations (see the subclass)."""
        raise NotImplementedError

    def fused_step(self, xp_t: tf.Tensor, state, U: tf.Tensor):
        """:meth:`step` with the input terms precomputed (see the subclass)."""
        raise NotImplementedError

    def initial_state(self, batch: int | tf.Tensor):
        """The zero state for ``batch`` sequences: ``h`` of shape ``(batch, units)``."""
        return tf.zeros([batch, self.units], dtype=self.dtype)

    def hidden(self, state) -> tf.Tensor:
        """The hidden state ``h`` inside a state (the state itself for a GRU or RNN)."""
        return state

    def fused_recurrent(self) -> tf.Tensor:
        """The recurrent matrices :meth:`fused_step` uses, side by side."""
        return tf.concat(self._weights_of("U"), axis=1)

    # -- shared: the loops over time -----------------------------------------
    def project_inputs(self, x: tf.Tensor) -> tf.Tensor:
        """Input terms of every gate for all time steps in one matmul.

        Parameters
        ----------
        x : Tensor
            Inputs, shape ``(batch, time, input_dim)``.

        Returns
        -------
        Tensor
            ``x [W_g ...] + [b_g ...]`` over the gates in :attr:`gates` order,
            shape ``(batch, time, len(gates) * units)``.
        """
        W = tf.concat(self._weights_of("W"), axis=1)
        b = tf.concat(self._weights_of("b"), axis=0)
        return tf.einsum("btd,dk->btk", x, W) + b

    def call(self, x: tf.Tensor, h0=None) -> tf.Tensor:
        """Run the cell over a whole sequence, with the cell's :attr:`loop`.

        Parameters
        ----------
        x, h0 : Tensor
            Inputs and initial state, as for :meth:`run_scan`.

        Returns
        -------
        Tensor
            All hidden states ``h_1 .. h_T``, shape ``(batch, time, units)``.
            Every loop computes the same numbers (``tests/test_fast_paths.py``).
        """
        if self.loop == "unroll":
            return self.run_unrolled(x, h0)
        if self.loop == "manual":
            return self.run_manual_gradient(x, h0)
        return self.run_scan(x, h0)

    def _inputs(self, x: tf.Tensor, h0) -> tuple:
        """``x`` as a tensor of the cell's dtype, and the initial state (zeros by default)."""
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        if h0 is None:
            h0 = self.initial_state(tf.shape(x)[0])
        return x, h0

    def run_scan(self, x: tf.Tensor, h0=None) -> tf.Tensor:
        """Run over a sequence with ``tf.scan``: the loop :meth:`call` uses by default.

        Parameters
        ----------
        x : Tensor
            Inputs, shape ``(batch, time, input_dim)``.
        h0 : Tensor or tuple of Tensor, optional
            Initial state (``h``, or ``(h, c)`` for an LSTM); zeros by default.

        Returns
        -------
        Tensor
            All hidden states ``h_1 .. h_T``, shape ``(batch, time, units)``.
        """
        x, h0 = self._inputs(x, h0)
        U = self.fused_recurrent()
        xp = tf.transpose(self.project_inputs(x), [1, 0, 2])  # (time, batch, k * units)
        states = tf.scan(lambda s, xp_t: self.fused_step(xp_t, s, U), xp, initializer=h0)
        return tf.transpose(self.hidden(states), [1, 0, 2])  # (batch, time, units)

    def run_unrolled(self, x: tf.Tensor, h0=None) -> tf.Tensor:
        """:meth:`run_scan` without a loop: one :meth:`fused_step` per time step in the graph.

        Same arguments and result as :meth:`run_scan`; ``x`` needs a static number
        of steps. The graph is traced again for every length, but saves the
        loop's bookkeeping, which pays off for short sequences of a fixed length
        (chapter "Performance", ``book/08_performance.ipynb``).
        """
        x, h0 = self._inputs(x, h0)
        if x.shape[1] is None:
            raise ValueError("loop='unroll' needs a static number of time steps")
        U = self.fused_recurrent()
        state, states = h0, []
        for xp_t in tf.unstack(self.project_inputs(x), axis=1):
            state = self.fused_step(xp_t, state, U)
            states.append(self.hidden(state))
        return tf.stack(states, axis=1)

    def run_stepwise(self, x: tf.Tensor, h0=None) -> tf.Tensor:
        """:meth:`run_scan` as a plain Python loop over :meth:`step` (slow, for teaching).

        Same arguments and result as :meth:`run_scan`.
        """
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        state = self.initial_state(x.shape[0]) if h0 is None else h0
        states = []
        for t in range(x.shape[1]):
            state = self.step(x[:, t, :], state)
            states.append(self.hidden(state))
        return tf.stack(states, axis=1)


class GRUCell(RecurrentCell):
    """GRU cell with nine separately named weights, as in the equations.

    Parameters as for :class:`RecurrentCell` (default name ``'gru_cell'``); it
    alone has ``loop='manual'``.

    Attributes
    ----------
    W_z, W_r, W_h : Variable
        Input weights, shape ``(input_dim, units)``.
    U_z, U_r, U_h : Variable
        Recurrent weights, shape ``(units, units)``.
    b_z, b_r, b_h : Variable
        Biases, shape ``(units,)``.
    """

    GATES = _GATES
    NAME = "gru_cell"
    MANUAL_GRADIENT = True

    # -- the equations, one step at a time ---------------------------------
    def step(self, x_t: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
        """One time step, the four equations: ``x_t`` (batch, input_dim), ``h`` (batch, units)."""
        z = tf.sigmoid(x_t @ self.W_z + h @ self.U_z + self.b_z)  # update gate
        r = tf.sigmoid(x_t @ self.W_r + h @ self.U_r + self.b_r)  # reset gate
        h_tilde = tf.tanh(x_t @ self.W_h + (r * h) @ self.U_h + self.b_h)  # candidate
        return (1 - z) * h + z * h_tilde  # interpolate old state and candidate

    # -- the same arithmetic, arranged for speed ----------------------------
    def fused_recurrent(self) -> tf.Tensor:
        """``[U_z U_r]`` side by side: both gates' recurrent terms in one matmul."""
        return tf.concat([self.U_z, self.U_r], axis=1)

    def fused_step(self, xp_t: tf.Tensor, h: tf.Tensor, U_zr: tf.Tensor) -> tf.Tensor:
        """:meth:`step` with precomputed input terms and one matmul for both gates.

        Parameters
        ----------
        xp_t : Tensor
            One time step of :meth:`project_inputs`, shape ``(batch, 3 * units)``.
        h : Tensor
            Previous state, shape ``(batch, units)``.
        U_zr : Tensor
            :meth:`fused_recurrent`: ``[U_z U_r]``, shape ``(units, 2 * units)``.

        Returns
        -------
        Tensor
            New state, shape ``(batch, units)``.
        """
        return gru_step_parts(xp_t, h, U_zr, self.U_h)[0]

    def run_manual_gradient(self, x: tf.Tensor, h0: tf.Tensor | None = None) -> tf.Tensor:
        """:meth:`run_scan` backpropagated by the hand-derived :func:`scan_manual_gradient`.

        Same arguments and result as :meth:`run_scan`, and the same gradients up
        to rounding (the weight gradients are summed over time in one matmul
        instead of step by step).
        """
        x, h0 = self._inputs(x, h0)
        U_zr = self.fused_recurrent()
        xp = tf.transpose(self.project_inputs(x), [1, 0, 2])  # (time, batch, 3 * units)
        hs = scan_manual_gradient(xp, h0, U_zr, tf.convert_to_tensor(self.U_h))
        return tf.transpose(hs, [1, 0, 2])  # (batch, time, units)


def gru_step_parts(xp_t: tf.Tensor, h: tf.Tensor, U_zr: tf.Tensor,
                   U_h: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """:meth:`GRUCell.fused_step`, also returning the gates: ``(h_new, z, r, h_tilde)``.

    The one copy of the GRU's fast step, for :meth:`GRUCell.fused_step` and the
    forward pass of :func:`scan_manual_gradient` (which keeps the gates for its
    backward pass). Shapes as for :meth:`GRUCell.fused_step`.
    """
    u = U_h.shape[0]
    # tf.split rather than slicing: the same numbers, but its gradient is one
    # concat where each slice's gradient pads a full-size zero tensor.
    x_zr, x_h = tf.split(xp_t, [2 * u, u], axis=1)
    z, r = tf.split(tf.sigmoid(x_zr + h @ U_zr), 2, axis=1)
    h_tilde = tf.tanh(x_h + (r * h) @ U_h)
    return (1 - z) * h + z * h_tilde, z, r, h_tilde


def scan_manual_gradient(xp: tf.Tensor, h0: tf.Tensor, U_zr: tf.Tensor,
                         U_h: tf.Tensor) -> tf.Tensor:
    """The loop of :meth:`GRUCell.call` with a hand-written backward pass.

    The forward pass is :meth:`GRUCell.fused_step` under ``tf.scan`` and keeps
    the gates ``z``, ``r`` and the candidate ``h_tilde`` of every step. The
    backward pass runs one reverse ``tf.scan`` that carries ``dL/dh`` and emits the
    gradients of the gate pre-activations; the weight gradients are then one
    matmul over all time steps, not a sum built up step by step inside the loop.
    Chapter "Performance" (``book/08_performance.ipynb``).

    Parameters
    ----------
    xp : Tensor
        Projected inputs, time-major, shape ``(time, batch, 3 * units)``.
    h0 : Tensor
        Initial state, shape ``(batch, units)``.
    U_zr : Tensor
        ``[U_z U_r]``, shape ``(units, 2 * units)``.
    U_h : Tensor
        Shape ``(units, units)``.

    Returns
    -------
    Tensor
        All states, time-major, shape ``(time, batch, units)``.
    """

    @tf.custom_gradient
    def run(xp, h0, U_zr, U_h):
        def forward(carry, xp_t):
            return gru_step_parts(xp_t, carry[0], U_zr, U_h)

        zeros = tf.zeros_like(h0)
        hs, zs, rs, h_tildes = tf.scan(forward, xp, initializer=(h0, zeros, zeros, zeros))

        def grad(d_hs):
            h_prev = tf.concat([h0[None], hs[:-1]], axis=0)
            U_zr_T, U_h_T = tf.transpose(U_zr), tf.transpose(U_h)

            def backward(carry, step):
                d_out, h_p, z, r, h_tilde = step
                g = d_out + carry[0]  # dL/dh_t: from the readout and from step t + 1
                d_c = g * z * (1 - h_tilde * h_tilde)  # candidate pre-activation
                d_rh = d_c @ U_h_T
                d_a = tf.concat([g * (h_tilde - h_p) * (z * (1 - z)),  # gate pre-activations
                                 d_rh * h_p * (r * (1 - r))], axis=1)
                d_h = g * (1 - z) + d_rh * r + d_a @ U_zr_T
                return d_h, d_a, d_c

            init = (zeros, tf.concat([zeros, zeros], axis=1), zeros)
            d_h, d_as, d_cs = tf.scan(backward, (d_hs, h_prev, zs, rs, h_tildes),
                                      initializer=init, reverse=True)
            d_U_zr = tf.einsum("tbu,tbk->uk", h_prev, d_as)
            d_U_h = tf.einsum("tbu,tbk->uk", rs * h_prev, d_cs)
            return tf.concat([d_as, d_cs], axis=2), d_h[0], d_U_zr, d_U_h

        return hs, grad

    return run(xp, h0, U_zr, U_h)


def keras_layer_arrays(layer: keras.layers.Layer, kind: type, cell: RecurrentCell,
                       cell_type: type, k: int) -> tuple[np.ndarray, ...]:
    """The checked ``(kernel, recurrent kernel, bias)`` of a built Keras recurrent layer.

    Parameters
    ----------
    layer : keras.layers.Layer
        A Keras ``GRU``, ``SimpleRNN`` or ``LSTM``.
    kind : type
        The layer class expected.
    cell : RecurrentCell
        The destination cell.
    cell_type : type
        The cell class expected.
    k : int
        Blocks side by side in the layer's kernel (3 for a GRU, 4 for an LSTM).

    Raises
    ------
    ValueError
        If the layer is not a built, forward, tanh/sigmoid layer with biases of
        the cell's size.
    """
    if not isinstance(layer, kind):
        raise ValueError(f"layer must be a keras.layers.{kind.__name__}, "
                         f"got {type(layer).__name__}")
    if not isinstance(cell, cell_type):
        raise ValueError(f"cell must be a {cell_type.__name__}, got {type(cell).__name__}")
    if not layer.built:
        raise ValueError("the Keras layer is not built yet: call it on an input first")
    if layer.go_backwards:
        raise ValueError("layer must run forwards (go_backwards=False)")
    act = keras.activations.serialize(layer.cell.activation)
    rec_fn = getattr(layer.cell, "recurrent_activation", None)  # SimpleRNN has none
    rec = "sigmoid" if rec_fn is None else keras.activations.serialize(rec_fn)
    if act != "tanh" or rec != "sigmoid" or not layer.use_bias:
        raise ValueError("layer must use activation='tanh', recurrent_activation='sigmoid' "
                         "and use_bias=True")
    kernel, recurrent, bias = (np.asarray(w) for w in layer.get_weights())
    if kernel.shape != (cell.input_dim, k * cell.units):
        raise ValueError(f"layer kernel has shape {kernel.shape}, cell needs "
                         f"({cell.input_dim}, {k * cell.units})")
    return kernel, recurrent, bias


def copy_keras_gru_weights(layer: keras.layers.GRU, cell: GRUCell) -> None:
    """Copy the weights of a Keras ``GRU(reset_after=False)`` into ``cell``.

    Keras computes ``h = z * h_prev + (1 - z) * h_tilde``; our equation is
    ``h = (1 - z) * h_prev + z * h_tilde``: Keras's update gate is our ``1 - z``.
    Since ``1 - sigmoid(a) = sigmoid(-a)``, our ``z`` is Keras's gate computed with
    its kernel, recurrent kernel and bias for ``z`` negated, which is what this copies.
    Keras stores the gates side by side in the order z, r, h.

    Parameters
    ----------
    layer : keras.layers.GRU
        A built Keras GRU layer with ``reset_after=False``, sigmoid recurrent
        activation and tanh activation.
    cell : GRUCell
        Destination cell with the same ``units`` and ``input_dim``.

    Raises
    ------
    ValueError
        If the layer is not a compatible, built Keras GRU.
    """
    kernel, recurrent, bias = keras_layer_arrays(layer, keras.layers.GRU, cell, GRUCell, 3)
    if layer.reset_after:
        raise ValueError("layer must have reset_after=False (the reset gate is applied before U_h)")
    u = cell.units
    sign = {"z": -1.0, "r": 1.0, "h": 1.0}
    for g, gate in enumerate(_GATES):
        cols = slice(g * u, (g + 1) * u)
        getattr(cell, f"W_{gate}").assign(sign[gate] * kernel[:, cols])
        getattr(cell, f"U_{gate}").assign(sign[gate] * recurrent[:, cols])
        getattr(cell, f"b_{gate}").assign(sign[gate] * bias[cols])


def from_keras_gru(layer: keras.layers.GRU) -> GRUCell:
    """A new :class:`GRUCell` computing the same function as a Keras GRU layer.

    Parameters
    ----------
    layer : keras.layers.GRU
        A built Keras GRU with ``reset_after=False``.

    Returns
    -------
    GRUCell
        A cell of the layer's size and dtype holding the converted weights.
    """
    return cell_from_keras(layer, keras.layers.GRU, GRUCell, copy_keras_gru_weights)


def cell_from_keras(layer: keras.layers.Layer, kind: type, cell_type: type,
                    copy) -> RecurrentCell:
    """A new ``cell_type`` of a built Keras layer's size and dtype, holding its weights.

    Parameters
    ----------
    layer : keras.layers.Layer
        A built layer of class ``kind``.
    kind, cell_type : type
        The Keras layer class and the package's cell class.
    copy : callable
        ``copy(layer, cell)``, e.g. :func:`copy_keras_gru_weights`.

    Returns
    -------
    RecurrentCell
        The new cell.
    """
    if not isinstance(layer, kind) or not layer.built:
        raise ValueError(f"layer must be a built keras.layers.{kind.__name__}")
    kernel = layer.get_weights()[0]
    cell = cell_type(layer.units, kernel.shape[0], dtype=str(kernel.dtype))
    copy(layer, cell)
    return cell
