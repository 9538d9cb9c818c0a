"""The other recurrent cells: a plain (Elman) RNN, an LSTM, and Keras's own GRU.

Explained in the chapter "Why gates?" (``book/07_why_gates.ipynb``). The plain
RNN, the GRU without its reset gate and the LSTM are built like
:class:`~gru_tutorial.cell.GRUCell`: separately
named weights, a :meth:`step` that is the equations word for word, and the same
fast loops over time (:class:`~gru_tutorial.cell.RecurrentCell`).

Plain RNN (Elman, 1990)::

    h_new = tanh(x_t W + h U + b)

LSTM (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers et al., 2000)::

    i       = sigmoid(x_t W_i + h U_i + b_i)      # input gate
    f       = sigmoid(x_t W_f + h U_f + b_f)      # forget gate
    o       = sigmoid(x_t W_o + h U_o + b_o)      # output gate
    c_tilde = tanh(x_t W_c + h U_c + b_c)         # cell candidate
    c_new   = f * c + i * c_tilde                 # memory cell
    h_new   = o * tanh(c_new)                     # hidden state

:func:`make_cell` builds any cell of :data:`CELLS` by name, which is how
:class:`~gru_tutorial.model.BitAdder` and the training recipes choose one.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .cell import (
    GRUCell,
    RecurrentCell,
    cell_from_keras,
    cell_options,
    check_cell_args,
    keras_layer_arrays,
    make_initializer,
)
from .checks import ArgumentError, check_choice
from .recipes import CELLS
from .seeding import derive_seeds

__all__ = ["RNNCell", "NoResetGRUCell", "LSTMCell", "KerasGRU", "CELLS", "make_cell",
           "copy_keras_simple_rnn_weights", "from_keras_simple_rnn",
           "copy_keras_lstm_weights", "from_keras_lstm"]

_KERAS_LSTM_ORDER = ("i", "f", "c", "o")  # how Keras stores the LSTM's gates side by side


class RNNCell(RecurrentCell):
    """Plain (Elman) RNN cell: ``h_new = tanh(x_t W + h U + b)``.

    Parameters as for :class:`~gru_tutorial.cell.RecurrentCell` (default name ``'rnn_cell'``).

    Attributes
    ----------
    W : Variable
        Input weights, shape ``(input_dim, units)``.
    U : Variable
        Recurrent weights, shape ``(units, units)``.
    b : Variable
        Bias, shape ``(units,)``.
    """

    GATES = ("",)
    NAME = "rnn_cell"

    def step(self, x_t: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
        """One time step: ``tanh(x_t W + h U + b)``; shapes as in :meth:`GRUCell.step`."""
        return tf.tanh(x_t @ self.W + h @ self.U + self.b)

    def fused_step(self, xp_t: tf.Tensor, h: tf.Tensor, U: tf.Tensor) -> tf.Tensor:
        """:meth:`step` with ``x_t W + b`` precomputed (``xp_t``, from :meth:`project_inputs`)."""
        return tf.tanh(xp_t + h @ U)


class NoResetGRUCell(RecurrentCell):
    """The GRU with its reset gate switched off (``r = 1``): three equations.

    ::

        z       = sigmoid(x_t W_z + h U_z + b_z)      # update gate
        h_tilde = tanh(x_t W_h + h U_h + b_h)         # candidate: a plain RNN step
        h_new   = (1 - z) * h + z * h_tilde           # new state

    Parameters as for :class:`~gru_tutorial.cell.RecurrentCell` (default name
    ``'gru_noreset_cell'``).

    Attributes
    ----------
    W_z, W_h, U_z, U_h, b_z, b_h : Variable
        The GRU's weights without those of the reset gate.
    """

    GATES = ("z", "h")
    NAME = "gru_noreset_cell"

    def step(self, x_t: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
        """One time step: the GRU's equations with ``r = 1``; shapes as in :meth:`GRUCell.step`."""
        z = tf.sigmoid(x_t @ self.W_z + h @ self.U_z + self.b_z)  # update gate
        h_tilde = tf.tanh(x_t @ self.W_h + h @ self.U_h + self.b_h)  # candidate, r = 1
        return (1 - z) * h + z * h_tilde

    def fused_recurrent(self) -> tf.Tensor:
        """``U_z``, the matrix :meth:`fused_step` takes (``U_h`` it reads itself)."""
        return tf.convert_to_tensor(self.U_z)

    def fused_step(self, xp_t: tf.Tensor, h: tf.Tensor, U_z: tf.Tensor) -> tf.Tensor:
        """:meth:`step` with the input terms ``x_t [W_z W_h] + [b_z b_h]`` precomputed."""
        x_z, x_h = tf.split(xp_t, [self.units, self.units], axis=1)
        z = tf.sigmoid(x_z + h @ U_z)
        return (1 - z) * h + z * tf.tanh(x_h + h @ self.U_h)


class LSTMCell(RecurrentCell):
    """LSTM cell with twelve separately named weights, as in the equations.

    The state is the pair ``(h, c)``: hidden state and memory cell.

    Parameters
    ----------
    units, input_dim : int
        As for :class:`~gru_tutorial.cell.RecurrentCell`.
    unit_forget_bias : bool
        Start the forget gate's bias ``b_f`` at 1 instead of the bias
        initializer's value, as Keras does by default (Jozefowicz et al., 2015):
        the cell then starts out remembering.
    **options
        The other arguments of :class:`~gru_tutorial.cell.RecurrentCell`
        (initializers, seed, dtype, loop, name; default name ``'lstm_cell'``).

    Attributes
    ----------
    W_i, W_f, W_o, W_c : Variable
        Input weights of the input, forget and output gates and the cell
        candidate, shape ``(input_dim, units)``.
    U_i, U_f, U_o, U_c : Variable
        Recurrent weights, shape ``(units, units)``.
    b_i, b_f, b_o, b_c : Variable
        Biases, shape ``(units,)``.
    """

    GATES = ("i", "f", "o", "c")
    NAME = "lstm_cell"

    def __init__(self, units: int, input_dim: int, *, unit_forget_bias: bool = True,
                 **options: object) -> None:
        if not isinstance(unit_forget_bias, bool):
            raise ArgumentError(f"unit_forget_bias must be True or False, got {unit_forget_bias!r}")
        super().__init__(units, input_dim, **options)
        if unit_forget_bias:
            self.b_f.assign(tf.ones_like(self.b_f))

    def initial_state(self, batch: int | tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The zero state ``(h, c)`` for ``batch`` sequences."""
        zeros = tf.zeros([batch, self.units], dtype=self.dtype)
        return zeros, zeros

    def hidden(self, state: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        """``h`` of the state ``(h, c)``."""
        return state[0]

    def step(self, x_t: tf.Tensor,
             state: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """One time step, written exactly as the six LSTM equations.

        Parameters
        ----------
        x_t : Tensor
            Inputs at one time step, shape ``(batch, input_dim)``.
        state : tuple of Tensor
            Previous ``(h, c)``, each of shape ``(batch, units)``.

        Returns
        -------
        tuple of Tensor
            New ``(h, c)``.
        """
        h, c = state
        i = tf.sigmoid(x_t @ self.W_i + h @ self.U_i + self.b_i)  # input gate
        f = tf.sigmoid(x_t @ self.W_f + h @ self.U_f + self.b_f)  # forget gate
        o = tf.sigmoid(x_t @ self.W_o + h @ self.U_o + self.b_o)  # output gate
        c_tilde = tf.tanh(x_t @ self.W_c + h @ self.U_c + self.b_c)  # cell candidate
        c_new = f * c + i * c_tilde  # keep part of the old memory, write part of the new
        return o * tf.tanh(c_new), c_new

    def fused_step(self, xp_t: tf.Tensor, state: tuple[tf.Tensor, tf.Tensor],
                   U: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """:meth:`step` with precomputed input terms and one matmul for all four.

        ``xp_t`` is one step of :meth:`project_inputs` (gates in the order
        i, f, o, c) and ``U`` is ``[U_i U_f U_o U_c]``.
        """
        h, c = state
        ifo, pre_c = tf.split(xp_t + h @ U, [3 * self.units, self.units], axis=1)
        i, f, o = tf.split(tf.sigmoid(ifo), 3, axis=1)
        c_new = f * c + i * tf.tanh(pre_c)
        return o * tf.tanh(c_new), c_new


class KerasGRU(keras.layers.Layer):
    """Keras's own ``keras.layers.GRU`` behind the interface of the package's cells.

    So that :class:`~gru_tutorial.model.BitAdder` and the training loop can
    train Keras's GRU exactly as they train ours. Keras's default is
    ``reset_after=True`` (the cuDNN formulation, two recurrent biases); the
    chapter "Why gates?" compares the formulations.

    Parameters
    ----------
    units, input_dim : int
        As for :class:`~gru_tutorial.cell.RecurrentCell`.
    reset_after : bool
        Keras's option: apply the reset gate after the recurrent matmul.
    name : str
        Layer name.
    **options
        Initializers, seed and dtype as for :class:`~gru_tutorial.cell.RecurrentCell`
        (:func:`~gru_tutorial.cell.cell_options`); ``loop`` must be ``'scan'``.

    Attributes
    ----------
    layer : keras.layers.GRU
        The wrapped layer (``return_sequences=True``).
    """

    def __init__(self, units: int, input_dim: int, *, reset_after: bool = True,
                 name: str = "keras_gru", **options: object) -> None:
        options = cell_options(**options)
        units, input_dim, seed = check_cell_args(units, input_dim, options["dtype"],
                                                 options["seed"])
        if options["loop"] != "scan":
            raise ArgumentError(f"a KerasGRU runs Keras's own loop: loop must be 'scan', "
                                f"got {options['loop']!r}")
        dtype = options["dtype"]
        super().__init__(dtype=dtype, name=name)
        self.units, self.input_dim = units, input_dim
        seeds = derive_seeds(seed, 3) if seed is not None else [None] * 3
        self.layer = keras.layers.GRU(
            units, return_sequences=True, reset_after=reset_after, dtype=dtype,
            kernel_initializer=make_initializer(options["kernel_initializer"], seeds[0]),
            recurrent_initializer=make_initializer(options["recurrent_initializer"], seeds[1]),
            bias_initializer=make_initializer(options["bias_initializer"], seeds[2]))
        self.layer.build((None, None, input_dim))
        self.built = True

    def initial_state(self, batch: int | tf.Tensor) -> tf.Tensor:
        """The zero state for ``batch`` sequences."""
        return tf.zeros([batch, self.units], dtype=self.dtype)

    def hidden(self, state: tf.Tensor) -> tf.Tensor:
        """The state itself."""
        return state

    def step(self, x_t: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
        """One time step of the Keras cell."""
        out, _ = self.layer.cell(tf.convert_to_tensor(x_t, self.dtype), [h])
        return out

    def call(self, x: tf.Tensor, h0: tf.Tensor | None = None) -> tf.Tensor:
        """All hidden states, shape ``(batch, time, units)``, as Keras computes them."""
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        return self.layer(x, initial_state=None if h0 is None else [h0])


def make_cell(kind: str, units: int, input_dim: int, *,
              kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
              recurrent_initializer: str | keras.initializers.Initializer = "orthogonal",
              bias_initializer: str | keras.initializers.Initializer = "zeros",
              seed: int | None = None, dtype: str = "float32",
              loop: str = "scan") -> keras.layers.Layer:
    """A recurrent cell by name.

    Parameters
    ----------
    kind : str
        One of :data:`CELLS`: ``'rnn'`` (:class:`RNNCell`), ``'gru-noreset'``
        (:class:`NoResetGRUCell`),
        ``'gru'``, ``'lstm'`` (:class:`LSTMCell`, forget bias 1 unless the
        biases are drawn at random) or ``'keras-gru'`` (:class:`KerasGRU`).
    units, input_dim, kernel_initializer, recurrent_initializer, bias_initializer, seed, dtype
        As for :class:`~gru_tutorial.cell.RecurrentCell`.
    loop : str
        How the cell runs over time (:data:`gru_tutorial.cell.LOOPS`; ``'manual'``
        for the GRU only, ``'scan'`` for Keras's GRU).

    Returns
    -------
    keras.layers.Layer
        The cell.
    """
    check_choice(kind, "cell", CELLS)
    kw = {"kernel_initializer": kernel_initializer, "recurrent_initializer": recurrent_initializer,
          "bias_initializer": bias_initializer, "seed": seed, "dtype": dtype, "loop": loop}
    if kind == "rnn":
        return RNNCell(units, input_dim, **kw)
    if kind == "gru":
        return GRUCell(units, input_dim, **kw)
    if kind == "gru-noreset":
        return NoResetGRUCell(units, input_dim, **kw)
    if kind == "lstm":
        return LSTMCell(units, input_dim, unit_forget_bias=bias_initializer == "zeros", **kw)
    return KerasGRU(units, input_dim, **kw)


def copy_keras_simple_rnn_weights(layer: keras.layers.SimpleRNN, cell: RNNCell) -> None:
    """Copy the weights of a built Keras ``SimpleRNN`` (the same equation) into ``cell``.

    The layer must use tanh and a bias, and match the cell's size; otherwise a
    ``ValueError`` (:func:`~gru_tutorial.cell.keras_layer_arrays`).
    """
    kernel, recurrent, bias = keras_layer_arrays(layer, keras.layers.SimpleRNN, cell, RNNCell, 1)
    cell.W.assign(kernel)
    cell.U.assign(recurrent)
    cell.b.assign(bias)


def copy_keras_lstm_weights(layer: keras.layers.LSTM, cell: LSTMCell) -> None:
    """Copy the weights of a built Keras ``LSTM`` into ``cell``.

    Keras computes the same equations and stores the four blocks side by side
    in the order i, f, c, o. The layer must use tanh, sigmoid and biases, and
    match the cell's size; otherwise a ``ValueError``
    (:func:`~gru_tutorial.cell.keras_layer_arrays`).
    """
    kernel, recurrent, bias = keras_layer_arrays(layer, keras.layers.LSTM, cell, LSTMCell, 4)
    u = cell.units
    for g, gate in enumerate(_KERAS_LSTM_ORDER):
        cols = slice(g * u, (g + 1) * u)
        getattr(cell, f"W_{gate}").assign(kernel[:, cols])
        getattr(cell, f"U_{gate}").assign(recurrent[:, cols])
        getattr(cell, f"b_{gate}").assign(bias[cols])


def from_keras_simple_rnn(layer: keras.layers.SimpleRNN) -> RNNCell:
    """A new :class:`RNNCell` computing the same function as a built Keras ``SimpleRNN``."""
    return cell_from_keras(layer, keras.layers.SimpleRNN, RNNCell, copy_keras_simple_rnn_weights)


def from_keras_lstm(layer: keras.layers.LSTM) -> LSTMCell:
    """A new :class:`LSTMCell` computing the same function as a built Keras ``LSTM``."""
    return cell_from_keras(layer, keras.layers.LSTM, LSTMCell, copy_keras_lstm_weights)
