"""Training recipes: everything that defines a training run except the seed.

Explained in the chapter "Training" (``book/05_training.ipynb``). Three named
recipes (:data:`RECIPES`):

``seed``
    The original tutorial's code (``jacobs2017code``), detail by detail: a
    16-unit GRU in float64 with ``h_0 = 0``, every weight and bias (the
    readout's too) drawn from a truncated normal with std 0.01, a *linear*
    output per step regressed onto the 0/1 bit with the squared error
    ``0.5 * sum((output - y)**2) / batch`` and read as 1 above 0.5
    (``readout='linear'``), Adam with its defaults (learning rate 1e-3), and
    one full-batch step per iteration on one fixed set of 100 five-bit sums
    (operands 0 to 14), backpropagated by TensorFlow's automatic gradient,
    for 5,000 iterations (``stop='max-steps'``: the code has no stopping
    rule). Its held-out set is its validation sample, 100 more sums drawn the
    same way; ``converged_at`` records when the trainer found it all exact
    (see :class:`gru_tutorial.train.Trainer`).
``fast`` (default)
    A fresh random batch of 16-bit additions every step, with each operand's
    density of ones drawn at random so that long carry chains occur (an
    operand is then all zeros or all ones with probability 1/17 each, so some
    sums do come up more than once); binary cross-entropy on the logits,
    Glorot and orthogonal initialisation, Adam with learning rate 3e-2,
    float32, and the GRU's hand-derived backward pass. It is done when exact
    on held-out random sums of 20, 200 and 1,000 bits, drawn with mixed
    density like the training sums, and on the adversarial 1,000-bit sums of
    :func:`gru_tutorial.evaluate.adversarial_pairs`.
``small``
    The fast recipe with 3 hidden units, made to end in a proof. It starts again
    from new weights when the held-out check has not passed 600 steps into an
    attempt; once the check passes, it adds the contraction and spread terms of
    :mod:`gru_tutorial.provable` to the loss and tries to prove the network right
    every 10 steps (:mod:`gru_tutorial.verify`, certificates over the last 3 input
    pairs). It stops at the first certificate; a network still unproven 300 steps
    after its check passed is dropped for new weights too. At most 6 attempts and
    4,000 steps; a run that ends unproven says so. The bundled model is its seed 0.

A :class:`Recipe` checks itself when it is made, and again after
``dataclasses.replace``. This module imports no TensorFlow, so the command line
can list the recipes quickly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .checks import MAX_UNITS, ArgumentError, check_choice, check_int, check_steps

__all__ = ["Recipe", "RECIPES", "CELLS", "CHECKS", "DTYPES", "INITS", "LOSSES", "READOUTS",
           "STOPS", "THRESHOLDS", "VERIFIABLE", "get_recipe"]

DTYPES = ("float32", "float64")
"""Floating-point types a model can use."""

INITS = ("keras", "seed")
"""Initialisation schemes: ``'keras'`` (Keras-style: Glorot kernels, orthogonal
recurrent weights, zero biases) and ``'seed'`` (truncated normal, std 0.01, for
every weight and bias, as in the original tutorial)."""

CELLS = ("rnn", "gru-noreset", "gru", "lstm", "keras-gru")
"""Recurrent cells a model can use (chapter "Why gates?"): a plain RNN, the GRU
without its reset gate (``r = 1``), the book's GRU, an LSTM, and Keras's own
``keras.layers.GRU`` (see :func:`gru_tutorial.cells.make_cell`)."""

CHECKS = ("plain", "numpy")
"""How the held-out sets are checked during training (:mod:`gru_tutorial.evaluate`):
``'plain'`` scores them with the model itself; ``'numpy'`` runs the NumPy engine on a
copy of the weights, tries the sums that were wrong last time first, and lets the
model decide close calls (the same decisions, a fraction of the cost)."""

LOSSES = ("bce", "mse")
"""``'bce'``: binary cross-entropy on the logits, mean over bits (readout ``'logit'``
only); ``'mse'``: ``0.5 * sum of squared errors / batch`` of the model's output, the
sigmoid of the logit or, with the readout ``'linear'``, the raw output itself."""

READOUTS = ("logit", "linear")
"""How a bit is read from the readout ``h V + c``: ``'logit'``, it is a logit and the bit
is 1 where it is positive (the probability ``sigmoid(h V + c)`` above 1/2); ``'linear'``,
it is regressed onto the 0/1 target and the bit is 1 where it is above 0.5, as in the
original tutorial's code (``jacobs2017code``)."""

THRESHOLDS = {"logit": 0.0, "linear": 0.5}
"""The value of ``h V + c`` above which a bit is 1, by readout."""

STOPS = ("held-out", "max-steps", "proven")
"""When a run ends: ``'held-out'``, once the held-out check passes (plus
``extra_steps``), or at ``max_steps``; ``'max-steps'``, always after ``max_steps``
steps, recording when the check passed in ``converged_at`` (the original code's
fixed 5,000 iterations); ``'proven'``, once :func:`gru_tutorial.verify.verify`
certifies the network, tried every ``verify_every`` steps from the step at which
the held-out check passes (a cell of :data:`VERIFIABLE`), or at ``max_steps``
unproven."""

VERIFIABLE = ("gru", "gru-noreset", "rnn", "lstm")
"""The cells :func:`gru_tutorial.verify.verify` can prove right (its own tuple)."""


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ArgumentError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run except the seed.

    Attributes
    ----------
    name : str
        Recipe name.
    units : int
        Hidden state size (1 to :data:`gru_tutorial.checks.MAX_UNITS`).
    dtype : str
        One of :data:`DTYPES`.
    init : str
        One of :data:`INITS`.
    loss : str
        One of :data:`LOSSES`.
    learning_rate : float
        Adam step size (positive).
    batch_size : int
        Examples per step.
    train_bits : int
        Bits per operand of the fresh training sums, which take ``train_bits + 1``
        steps; with ``fixed_data``, the seed scheme's sequence length instead (2 to
        63): its operands are drawn from ``0 .. 2**(train_bits - 1) - 2``, 0 to 14
        for 5 steps.
    fixed_data : bool
        Train on one fixed data set (the seed scheme) instead of fresh batches.
    mixed_density : bool
        Draw each training operand's density of ones at random (see
        :func:`gru_tutorial.data.random_batch`).
    eval_bits : tuple of int
        Bits per operand of the held-out evaluation sets; training stops when
        the model is exact on all of them.
    eval_count : int
        Sums per evaluation set.
    eval_adversarial : bool
        Also require exact results on :func:`gru_tutorial.evaluate.adversarial_pairs`
        with operands as long as the longest evaluation set.
    max_steps : int
        Give up after this many steps.
    eval_mixed_density : bool
        Draw the held-out random sums with a random density of ones per operand
        (as ``mixed_density`` does for training sums) instead of uniform bits
        (the default).
    extra_steps : int
        Steps to keep training after the stopping rule is first met (default 0).
        Training on saturates the gates, which can make the model provable (see
        :mod:`gru_tutorial.verify`); the held-out sets are scored again at the end.
    cell : str
        The recurrent cell, one of :data:`CELLS` (default ``'gru'``).
    readout : str
        How a bit is read from the network's output, one of :data:`READOUTS`
        (default ``'logit'``).
    check : str
        How the held-out sets are checked, one of :data:`CHECKS` (default
        ``'plain'``; the named recipes use ``'numpy'``).
    stop : str
        When the run ends, one of :data:`STOPS` (default ``'held-out'``).
    verify_every : int
        With ``stop='proven'``: steps between two attempts at a proof (default 10).
    verify_history : int
        With ``stop='proven'``: the input window of the certificates tried (1 to 8,
        default 4), and of the history graph of the ``spread`` term.
    proof_steps : int
        With ``stop='proven'``: give up on a network this many steps after its
        held-out check passed (default 500): start again from new weights if
        attempts are left (see ``attempts``), else end the run unproven.
    contraction, spread : float
        Weights of the training terms of :mod:`gru_tutorial.provable`, added to the
        loss from the step at which the held-out check passes (default 0: none).
    restart_after : int
        Start again from new weights and training sums (the seed plus 100,000 times
        the attempt) when the held-out check has not passed this many steps into an
        attempt (default 0: never).
    attempts : int
        The most attempts (default 1): starts from new weights, after
        ``restart_after`` steps without a passed check or ``proof_steps`` steps
        without a proof.
    manual_gradient : bool
        Backpropagate with the GRU's hand-derived backward pass
        (:func:`gru_tutorial.cell.scan_manual_gradient`; the same gradients as
        TensorFlow's up to rounding, and faster) instead of TensorFlow's
        automatic one (default true). Cells without one use TensorFlow's.

    Raises
    ------
    ArgumentError
        If a field has the wrong type or value, or a batch would be larger than
        :data:`gru_tutorial.checks.MAX_STEPS`.
    """

    name: str
    units: int
    dtype: str
    init: str
    loss: str
    learning_rate: float
    batch_size: int
    train_bits: int
    fixed_data: bool
    mixed_density: bool
    eval_bits: tuple[int, ...]
    eval_count: int
    eval_adversarial: bool
    max_steps: int
    eval_mixed_density: bool = False
    extra_steps: int = 0
    cell: str = "gru"
    manual_gradient: bool = True
    check: str = "plain"
    readout: str = "logit"
    stop: str = "held-out"
    verify_every: int = 10
    verify_history: int = 4
    proof_steps: int = 500
    contraction: float = 0.0
    spread: float = 0.0
    restart_after: int = 0
    attempts: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ArgumentError(f"name must be a non-empty string, got {self.name!r}")
        check_int(self.units, "units", 1, MAX_UNITS)
        check_choice(self.dtype, "dtype", DTYPES)
        check_choice(self.init, "init", INITS)
        check_choice(self.loss, "loss", LOSSES)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) \
                or lr <= 0:
            raise ArgumentError(f"learning_rate must be a positive number, got {lr!r}")
        check_int(self.batch_size, "batch_size", 1)
        check_int(self.train_bits, "train_bits", 1)
        _flag(self.fixed_data, "fixed_data")
        _flag(self.mixed_density, "mixed_density")
        _flag(self.eval_mixed_density, "eval_mixed_density")
        _flag(self.eval_adversarial, "eval_adversarial")
        if self.fixed_data:
            check_int(self.train_bits, "train_bits (with fixed_data)", 2, 63)
        check_steps(self.batch_size, self.train_bits + 1, "batch_size x (train_bits + 1)")
        if isinstance(self.eval_bits, (str, bytes)) or not hasattr(self.eval_bits, "__iter__"):
            raise ArgumentError(f"eval_bits must be a tuple of integers, got {self.eval_bits!r}")
        eval_bits = tuple(check_int(b, "each of eval_bits", 1) for b in self.eval_bits)
        if not eval_bits:
            raise ArgumentError("eval_bits must hold at least one width")
        object.__setattr__(self, "eval_bits", eval_bits)
        check_int(self.eval_count, "eval_count", 1)
        check_steps(self.eval_count, max(eval_bits) + 1, "eval_count x (max(eval_bits) + 1)")
        if self.eval_adversarial and max(eval_bits) < 2:
            raise ArgumentError("eval_adversarial needs an evaluation width of at least 2 bits")
        check_int(self.max_steps, "max_steps", 1)
        check_int(self.extra_steps, "extra_steps", 0)
        check_choice(self.cell, "cell", CELLS)
        _flag(self.manual_gradient, "manual_gradient")
        check_choice(self.check, "check", CHECKS)
        check_choice(self.readout, "readout", READOUTS)
        check_choice(self.stop, "stop", STOPS)
        check_int(self.verify_every, "verify_every", 1)
        check_int(self.verify_history, "verify_history", 1, 8)
        check_int(self.proof_steps, "proof_steps", 1)
        for name in ("contraction", "spread"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0:
                raise ArgumentError(f"{name} must be a number >= 0, got {v!r}")
        if (self.contraction or self.spread) and self.cell not in VERIFIABLE:
            raise ArgumentError(f"the contraction and spread terms need a cell of "
                                f"{VERIFIABLE}, got {self.cell!r}")
        check_int(self.restart_after, "restart_after", 0)
        check_int(self.attempts, "attempts", 1)
        if self.stop == "proven" and self.cell not in VERIFIABLE:
            raise ArgumentError(f"stop 'proven' needs a cell the verifier handles, one of "
                                f"{VERIFIABLE}, got {self.cell!r}")
        if self.readout == "linear" and self.loss == "bce":
            raise ArgumentError("loss 'bce' needs the readout 'logit' (a linear readout is "
                                "regressed onto the targets: use loss 'mse')")


RECIPES: dict[str, Recipe] = {
    # jacobs2017code: units, float64, init, linear output, loss, Adam(), data, range(5000)
    "seed": Recipe("seed", units=16, dtype="float64", init="seed", loss="mse",
                   learning_rate=1e-3, batch_size=100, train_bits=5, fixed_data=True,
                   mixed_density=False, eval_bits=(5,), eval_count=100, eval_adversarial=False,
                   max_steps=5000, manual_gradient=False, check="numpy", readout="linear",
                   stop="max-steps"),
    "fast": Recipe("fast", units=16, dtype="float32", init="keras", loss="bce",
                   learning_rate=3e-2, batch_size=100, train_bits=16, fixed_data=False,
                   mixed_density=True, eval_bits=(20, 200, 1000), eval_count=1000,
                   eval_adversarial=True, max_steps=1000, eval_mixed_density=True,
                   check="numpy"),
    # the fast recipe with 3 units, ending in a proof (chapter "Inside the adder")
    "small": Recipe("small", units=3, dtype="float32", init="keras", loss="bce",
                    learning_rate=3e-2, batch_size=100, train_bits=16, fixed_data=False,
                    mixed_density=True, eval_bits=(20, 200, 1000), eval_count=1000,
                    eval_adversarial=True, max_steps=4000, eval_mixed_density=True,
                    check="numpy", stop="proven", verify_every=10, verify_history=3,
                    proof_steps=300, contraction=0.3, spread=5.0, restart_after=600,
                    attempts=6),
}
"""The named recipes; see the module docstring."""


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name, or the given :class:`Recipe` itself.

    Parameters
    ----------
    recipe : str or Recipe
        A name in :data:`RECIPES` or a recipe.

    Returns
    -------
    Recipe
        The recipe.

    Raises
    ------
    ArgumentError
        For an unknown name or anything that is not a recipe.
    """
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and recipe in RECIPES:
        return RECIPES[recipe]
    if isinstance(recipe, str):
        raise ArgumentError(f"unknown recipe {recipe!r}; choose one of {sorted(RECIPES)}")
    raise ArgumentError(f"recipe must be a name or a Recipe, got {type(recipe).__name__}")
