"""The bit adder: a GRU over the bit sequence plus a per-step readout.

Explained in the chapter "Training" (``book/05_training.ipynb``).

For every time step the readout turns the state ``h_t`` into one number
``h_t V + c``. With the readout ``'logit'`` (the default) it is a logit and the
predicted sum bit is 1 where it is positive (the sigmoid probability above 1/2);
with ``'linear'``, the original tutorial's, it is regressed onto the 0/1 target
and the bit is 1 where it is above 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from .adder import AdderWeights
from .bits import check_nonnegative_int, from_bits
from .cell import make_initializer
from .cells import make_cell
from .checks import ArgumentError, check_choice, check_input_shape
from .data import encode_pairs
from .recipes import INITS, READOUTS, THRESHOLDS
from .seeding import derive_seeds

__all__ = ["BitAdder", "INITS", "XLA_MIN_STEPS", "length_bucket", "trace_once_per_instance"]

# True float32 matrix products on every device: a GPU's TF32 mode keeps 10 bits of the
# mantissa, more error than the verifier's certificates allow for (gru_tutorial.verify).
tf.config.experimental.enable_tensor_float_32_execution(False)

_MIN_BUCKET = 8
_MAX_ELEMENTS_PER_CHUNK = 1 << 22  # batch * time per inference call, bounds memory
XLA_MIN_STEPS = 1025
"""Sequences at least this long run XLA-compiled: compiling costs about a second
per length bucket but then removes most of the per-step loop overhead."""


def trace_once_per_instance(*functions: tf.types.experimental.PolymorphicFunction) -> None:
    """Silence TensorFlow's "frequent retracing" warning for per-model functions.

    Every model builds its own compiled functions and traces each once (per
    length bucket for XLA). TensorFlow counts traces per source code, not per
    function object, so a few models in one process look like retracing and it
    logs a warning. There is no public switch; this sets the flag it checks.

    Parameters
    ----------
    *functions : tf.function
        Functions that belong to one model (or one training run).
    """
    for fn in functions:
        fn._omit_frequent_tracing_warning = True


def length_bucket(length: int) -> int:
    """Padded length for XLA: the next power of two >= ``length`` (at least 8).

    XLA compiles one program per input shape; padding to buckets means one
    compile serves every length up to the bucket.

    Parameters
    ----------
    length : int
        Time steps.

    Returns
    -------
    int
        The bucket.
    """
    return max(_MIN_BUCKET, 1 << (length - 1).bit_length())


class BitAdder(keras.Model):
    """A recurrent cell (a GRU by default) over time plus a linear readout to one number per bit.

    Parameters
    ----------
    units : int
        Hidden state size of the cell.
    dtype : str
        ``'float32'`` or ``'float64'``.
    init : str
        ``'keras'`` or ``'seed'``, see :data:`INITS`.
    seed : int, optional
        Seed for the initial weights.
    cell : str
        The recurrent cell, one of :data:`gru_tutorial.recipes.CELLS`: ``'gru'``
        (default, :class:`~gru_tutorial.cell.GRUCell`), ``'gru-noreset'``,
        ``'rnn'``, ``'lstm'`` or ``'keras-gru'`` (see
        :func:`gru_tutorial.cells.make_cell`).
    loop : str
        How the cell runs over time (:data:`gru_tutorial.cell.LOOPS`): ``'scan'``
        (default), ``'unroll'``, or ``'manual'`` (the GRU's hand-derived
        backward pass, which training uses). The same numbers up to rounding.
    readout : str
        How a bit is read from ``h V + c`` (:data:`gru_tutorial.recipes.READOUTS`):
        ``'logit'`` (default, threshold 0) or ``'linear'`` (threshold 0.5).
    name : str
        Model name.
    """

    def __init__(
        self,
        units: int = 16,
        dtype: str = "float32",
        init: str = "keras",
        seed: int | None = None,
        cell: str = "gru",
        loop: str = "scan",
        readout: str = "logit",
        name: str = "bit_adder",
    ) -> None:
        check_choice(init, "init", INITS)
        check_choice(readout, "readout", READOUTS)
        super().__init__(name=name, dtype=dtype)
        if init == "keras":
            specs = ("glorot_uniform", "orthogonal", "zeros")
        else:
            specs = ("truncated_normal_0.01",) * 3
        # the cell, V and c each get their own seed, derived from `seed`
        cell_seed, v_seed, c_seed = derive_seeds(seed, 3) if seed is not None else [None] * 3
        self.cell = make_cell(
            cell, units, 2, kernel_initializer=specs[0], recurrent_initializer=specs[1],
            bias_initializer=specs[2], seed=cell_seed, dtype=dtype, loop=loop,
        )
        self.cell_kind = cell
        self.V = self.add_weight(shape=(self.cell.units, 1), name="V", dtype=dtype,
                                 initializer=make_initializer(specs[0], v_seed))
        self.c = self.add_weight(shape=(1,), name="c", dtype=dtype,
                                 initializer=make_initializer(specs[2], c_seed))
        self.init_scheme, self.readout = init, readout
        self.built = True
        spec = [tf.TensorSpec([None, None, 2], dtype)]
        self._bits_plain = tf.function(self._bits_graph, input_signature=spec, autograph=False)
        self._bits_xla = tf.function(self._bits_graph, input_signature=spec, autograph=False,
                                     jit_compile=True)
        trace_once_per_instance(self._bits_plain, self._bits_xla)

    @property
    def units(self) -> int:
        """Hidden state size."""
        return self.cell.units

    @property
    def threshold(self) -> float:
        """The output above which a bit is 1: 0 for a logit, 0.5 for a linear readout."""
        return THRESHOLDS[self.readout]

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """Outputs ``h V + c`` (logits or linear outputs), ``(batch, time, 1)``, for ``x``."""
        h = self.cell(x)
        return tf.einsum("btu,uk->btk", h, self.V) + self.c

    def _bits_graph(self, x: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.call(x)[..., 0] > self.threshold, tf.uint8)

    def predict_bits(self, x: np.ndarray, jit_compile: bool | None = None) -> np.ndarray:
        """Predicted sum bits for inputs ``x``, for sequences of any length.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs of shape ``(batch, time, 2)`` holding 0s and 1s.
        jit_compile : bool, optional
            Run XLA-compiled. By default only for sequences of at least
            :data:`XLA_MIN_STEPS` steps, where compiling pays for itself.

        Returns
        -------
        numpy.ndarray
            ``uint8`` bits of shape ``(batch, time)``.
        """
        x = np.asarray(x)
        check_input_shape(x)
        batch, time, _ = x.shape
        if jit_compile is None:
            jit_compile = time >= XLA_MIN_STEPS
        if jit_compile:
            # XLA compiles one program per shape, so pad the length to a power of two.
            # The network is causal: zeros appended after the last step cannot change
            # the outputs before them.
            padded = length_bucket(time)
            xp = np.zeros((batch, padded, 2), dtype=self.dtype)
            xp[:, :time] = x
            fn = self._bits_xla
        else:
            padded, xp, fn = time, x.astype(self.dtype, copy=False), self._bits_plain
        rows = max(1, _MAX_ELEMENTS_PER_CHUNK // padded)
        out = [fn(tf.constant(xp[i : i + rows])).numpy() for i in range(0, batch, rows)]
        return np.concatenate(out, axis=0)[:, :time]

    def add_many(self, a: Sequence[int], b: Sequence[int]) -> list[int]:
        """Add pairs of non-negative integers with the network.

        Parameters
        ----------
        a, b : sequence of int
            Operands of any size, the same number of each.

        Returns
        -------
        list of int
            The network's sums (right only if the network has learned to add).
        """
        batch = encode_pairs(a, b)
        return [from_bits(row) for row in self.predict_bits(batch.x)]

    def add(self, a: int, b: int) -> int:
        """Add two non-negative integers of any size with the network.

        The sequence length is chosen as one more than the longer operand,
        room for the final carry.

        Parameters
        ----------
        a, b : int
            Non-negative integers.

        Returns
        -------
        int
            The sum computed by the network.

        Raises
        ------
        BitsError
            (a ``ValueError``) if ``a`` or ``b`` is not a non-negative integer.

        Examples
        --------
        >>> from gru_tutorial import load_pretrained
        >>> load_pretrained().add(3, 1)
        4
        """
        a = check_nonnegative_int(a, "a")
        b = check_nonnegative_int(b, "b")
        return self.add_many([a], [b])[0]

    @classmethod
    def from_weights(cls, weights: AdderWeights, loop: str = "scan") -> BitAdder:
        """A model computing with ``weights`` (e.g. from :func:`gru_tutorial.adder.load`).

        Parameters
        ----------
        weights : AdderWeights
            The weights, cell and dtype.
        loop : str
            As for the constructor.

        Returns
        -------
        BitAdder
            The model, with the weights' ``info``.
        """
        model = cls(weights.units, dtype=weights.dtype, init=weights.init, cell=weights.cell,
                    loop=loop, readout=weights.readout)
        model.set_adder_weights(weights)
        model.info = dict(weights.info)
        return model

    def set_adder_weights(self, weights: AdderWeights) -> None:
        """Set every weight of the model from ``weights`` (same cell and size)."""
        if not isinstance(weights, AdderWeights):
            raise ArgumentError(f"weights must be AdderWeights, got {type(weights).__name__}")
        if (weights.cell, weights.units, weights.readout) != (self.cell_kind, self.units,
                                                              self.readout):
            raise ArgumentError(f"the weights are of a {weights.units}-unit {weights.cell!r} "
                                f"adder with readout {weights.readout!r}, the model is a "
                                f"{self.units}-unit {self.cell_kind!r} with {self.readout!r}")
        arrays = {k: v.astype(self.dtype) for k, v in weights.arrays.items()}
        if self.cell_kind == "keras-gru":
            self.cell.layer.set_weights([arrays[name] for name in weights.names])
        else:
            for name in weights.names:
                getattr(self.cell, name).assign(arrays[name])
        self.V.assign(arrays["V"][:, None])
        self.c.assign(arrays["c"][None])

    def get_config(self) -> dict:
        """Constructor arguments, for the JSON config saved next to the weights."""
        return {"units": self.units, "dtype": self.dtype, "init": self.init_scheme,
                "cell": self.cell_kind, "readout": self.readout}
