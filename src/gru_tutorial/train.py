"""Training the bit adder: one loop for every recipe, model and experiment.

Explained in the chapter "Training" (``book/05_training.ipynb``). The recipes
themselves live in :mod:`gru_tutorial.recipes` (re-exported here).

The pieces, from small to large:

- :func:`make_train_step`: one compiled training step (forward, loss, backward,
  optimizer) for a model;
- :func:`gru_tutorial.data.recipe_data`: a run's training batches and held-out
  sets; :func:`gru_tutorial.evaluate.held_out_check`: how the held-out sets are
  checked;
- :class:`Trainer`: the loop, with a callback seam (``add_callback``) through
  which experiments observe every step or stop the run, and which can keep
  training after the stopping rule is met;
- :func:`train`: a :class:`Trainer` run to the end, the usual entry point.

Training is reproducible: the same recipe and seed give identical weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm  # plain text bar: tqdm.auto warns in kernels without ipywidgets

from .checks import ArgumentError, check_choice, check_int
from .data import held_out_sets, recipe_data, training_batches
from .evaluate import EvalResult, HeldOutCheck, evaluate_sets, held_out_check
from .model import BitAdder, trace_once_per_instance
from .recipes import LOSSES, READOUTS, RECIPES, THRESHOLDS, Recipe, get_recipe

# training_batches and held_out_sets live in gru_tutorial.data; named here too, where
# chapter 5 first meets them
__all__ = ["Recipe", "RECIPES", "Adam", "History", "TrainResult", "Trainer", "train",
           "make_train_step", "loss_function", "training_batches", "held_out_sets",
           "build_model"]


class Adam:
    """Adam (Kingma & Ba, 2015), written out so every step is visible.

    Parameters
    ----------
    variables : list of Variable
        The variables to train.
    learning_rate : float
        Step size.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates.
    epsilon : float
        Added to the denominator for numerical safety.
    """

    def __init__(self, variables: list, learning_rate: float, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8) -> None:
        self.variables = list(variables)
        dtype = self.variables[0].dtype
        self.sizes = [int(np.prod(v.shape)) for v in self.variables]
        # The moment estimates of all variables, end to end in one vector each
        self.m = tf.Variable(tf.zeros(sum(self.sizes), dtype), trainable=False)
        self.v = tf.Variable(tf.zeros(sum(self.sizes), dtype), trainable=False)
        self.t = tf.Variable(0.0, dtype=dtype, trainable=False)
        self.lr, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    def apply(self, grads: list) -> None:
        """Take one step along the given gradients (same order as ``variables``).

        Every variable's update is computed in one flat vector: element by
        element the same arithmetic as a loop over the variables, in a few large
        operations instead of many small ones (faster to trace and to run).
        """
        t = self.t.assign_add(1.0)
        b1, b2 = self.beta_1, self.beta_2
        step = self.lr * tf.sqrt(1.0 - b2**t) / (1.0 - b1**t)  # bias correction
        g = tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)
        m = self.m.assign(b1 * self.m + (1.0 - b1) * g)
        v = self.v.assign(b2 * self.v + (1.0 - b2) * g * g)
        update = step * m / (tf.sqrt(v) + self.epsilon)
        for var, u in zip(self.variables, tf.split(update, self.sizes), strict=True):
            var.assign_sub(tf.reshape(u, var.shape))


@dataclass
class History:
    """Per-iteration record of training, measured on each step's training batch.

    Attributes
    ----------
    iteration : list of int
        Step number, starting at 1.
    loss : list of float
        Training loss before the step.
    bit_accuracy : list of float
        Fraction of right bits in the training batch before the step.
    exact_accuracy : list of float
        Fraction of exact sums in the training batch before the step.
    checks : list of int
        Iterations at which the held-out sets were checked (whenever a
        training batch came out all exact).
    """

    iteration: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    bit_accuracy: list[float] = field(default_factory=list)
    exact_accuracy: list[float] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : BitAdder
        The trained network.
    recipe : Recipe
        The recipe used (with any overrides).
    seed : int
        The seed used.
    iterations : int
        Steps taken.
    seconds : float
        Wall time of the training loop (model building and tracing included).
    converged : bool
        Whether the model became exact on every evaluation set.
    evaluation : dict
        Bits (or ``'adversarial'``) -> :class:`EvalResult` on the held-out
        sets at the end.
    history : History
        Per-step record.
    converged_at : int or None
        The step at which the stopping rule was first met (before any
        ``extra_steps``).
    certified_at : int or None
        With a recipe that stops when ``'proven'``: the step after which
        :func:`gru_tutorial.verify.verify` certified the network, if it did.
    proof : VerifyResult or None
        That verdict (or the last attempt's, when none certified).
    restarts : int
        How many times the run started again from new weights (``restart_after``).
    """

    model: BitAdder
    recipe: Recipe
    seed: int
    iterations: int
    seconds: float
    converged: bool
    evaluation: dict[int | str, EvalResult]
    history: History
    converged_at: int | None = None
    certified_at: int | None = None
    proof: object | None = None
    restarts: int = 0

    @property
    def exact_accuracy(self) -> float:
        """Lowest exact accuracy over the held-out evaluation sets."""
        return min(r.exact_accuracy for r in self.evaluation.values())


def loss_function(kind: str, readout: str = "logit") -> Callable[[tf.Tensor, tf.Tensor],
                                                                  tf.Tensor]:
    """The loss ``f(outputs, y)`` named by ``kind`` (one of :data:`gru_tutorial.recipes.LOSSES`).

    ``'bce'``: binary cross-entropy on the logits, mean over all bits.
    ``'mse'``: ``0.5 * sum((p - y)**2) / batch``, where ``p`` is ``sigmoid(outputs)``
    for the readout ``'logit'`` and the outputs themselves for ``'linear'``, the
    original tutorial's code (``jacobs2017code``: "Just use quadratic loss").

    Parameters
    ----------
    kind : str
        ``'bce'`` or ``'mse'``.
    readout : str
        The model's readout (:data:`gru_tutorial.recipes.READOUTS`).

    Returns
    -------
    callable
        ``loss(outputs, y)`` for tensors of shape ``(batch, time, 1)``.
    """
    check_choice(kind, "loss", LOSSES)
    check_choice(readout, "readout", READOUTS)
    if kind == "bce" and readout != "logit":
        raise ArgumentError("loss 'bce' needs the readout 'logit'")

    def bce(logits, y):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))

    def mse(outputs, y):
        batch = tf.cast(tf.shape(y)[0], outputs.dtype)
        p = tf.sigmoid(outputs) if readout == "logit" else outputs
        return 0.5 * tf.reduce_sum(tf.square(p - y)) / batch

    return bce if kind == "bce" else mse


def make_train_step(
    model: keras.Model,
    *,
    loss: str = "bce",
    learning_rate: float = 3e-2,
    jit_compile: bool = False,
    optimizer: Adam | None = None,
    contraction: float = 0.0,
    spread: float = 0.0,
    spread_history: int = 3,
) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
    """One compiled training step for ``model``: forward, loss, backward, one Adam update.

    Explained in the chapter "Training" (``book/05_training.ipynb``). How the
    model runs over time (and so which gradient it uses) was chosen when it was
    built (the ``loop`` of :class:`BitAdder`).

    Parameters
    ----------
    model : keras.Model
        Maps inputs ``(batch, time, 2)`` to logits ``(batch, time, 1)``.
    loss : str
        See :func:`loss_function`.
    learning_rate : float
        Step size of the package's hand-written :class:`Adam`.
    jit_compile : bool
        Compile the step with XLA (pays off only for long runs: chapter "Performance").
    optimizer : Adam, optional
        Go on with this optimizer and its state (default: a new :class:`Adam`).
    contraction, spread : float
        Weights of the training terms of :mod:`gru_tutorial.provable` (GRU only; 0 by
        default): the contraction penalty and the spread of states within the nodes
        of a history graph of the last ``spread_history`` input pairs.
    spread_history : int
        Window of that graph.

    Returns
    -------
    callable
        ``step(x, y) -> (loss, bit_accuracy, exact_accuracy)``, scalar tensors,
        measured on the batch before the update.
    """
    variables = model.trainable_variables
    adam = Adam(variables, learning_rate) if optimizer is None else optimizer
    readout = getattr(model, "readout", "logit")
    loss_fn = loss_function(loss, readout)
    threshold = THRESHOLDS[readout]
    if contraction or spread:
        return _provable_step(model, adam, loss_fn, threshold, float(contraction),
                              float(spread), spread_history)

    def step(x, y):
        with tf.GradientTape() as tape:
            outputs = model(x)
            value = loss_fn(outputs, y)
        adam.apply(tape.gradient(value, variables))
        correct = tf.equal(outputs > threshold, y > 0.5)
        bit_acc = tf.reduce_mean(tf.cast(correct, tf.float32))
        exact = tf.reduce_mean(tf.cast(tf.reduce_all(correct, axis=[1, 2]), tf.float32))
        return value, bit_acc, exact

    # traced once for every batch size and length, but an unrolled loop needs a static
    # length: then once per shape
    dtype = model.dtype
    signature = [tf.TensorSpec([None, None, 2], dtype), tf.TensorSpec([None, None, 1], dtype)]
    if getattr(getattr(model, "cell", None), "loop", None) == "unroll":
        signature = None
    compiled = tf.function(step, input_signature=signature, autograph=False,
                           jit_compile=jit_compile)
    trace_once_per_instance(compiled)
    return compiled


def _provable_step(model, adam, loss_fn, threshold, contraction, spread, history):
    """:func:`make_train_step` with the terms of :mod:`gru_tutorial.provable` added."""
    from .provable import contraction_penalty, history_nodes, spread_penalty, visited_states
    from .recipes import VERIFIABLE
    from .verify import HistoryGraph

    if getattr(model, "cell_kind", "gru") not in VERIFIABLE:
        raise ArgumentError(f"the contraction and spread terms need a cell of {VERIFIABLE}")
    cell, variables = model.cell, model.trainable_variables
    graph = HistoryGraph(history)
    units = cell.units

    def step(x, y, nodes):
        with tf.GradientTape() as tape:
            states = visited_states(cell, x)  # h, or the LSTM's (h, c)
            outputs = tf.einsum("btu,uk->btk", states[..., :units], model.V) + model.c
            value = loss_fn(outputs, y)
            total = value + contraction * contraction_penalty(cell, x, states) \
                + spread * spread_penalty(states, nodes, len(graph.nodes))
        adam.apply(tape.gradient(total, variables))
        correct = tf.equal(outputs > threshold, y > 0.5)
        bit_acc = tf.reduce_mean(tf.cast(correct, tf.float32))
        exact = tf.reduce_mean(tf.cast(tf.reduce_all(correct, axis=[1, 2]), tf.float32))
        return value, bit_acc, exact  # the recipe's loss, as the other steps report it

    dtype = model.dtype
    compiled = tf.function(step, autograph=False, input_signature=[
        tf.TensorSpec([None, None, 2], dtype), tf.TensorSpec([None, None, 1], dtype),
        tf.TensorSpec([None, None], tf.int64)])
    trace_once_per_instance(compiled)

    def run(x, y):
        return compiled(x, y, tf.constant(history_nodes(np.asarray(x), graph)))

    return run


def build_model(recipe: str | Recipe = "fast", seed: int = 0) -> BitAdder:
    """A fresh, untrained :class:`BitAdder` as the recipe and seed make it.

    Parameters
    ----------
    recipe : str or Recipe
        The recipe (its ``units``, ``dtype``, ``init`` and ``cell``).
    seed : int
        Seed of the initial weights.

    Returns
    -------
    BitAdder
        The model, running the GRU's hand-derived backward pass (``loop='manual'``)
        when the recipe's ``manual_gradient`` is set and the cell is ``'gru'``.
    """
    recipe = get_recipe(recipe)
    # the hand-derived backward pass where the recipe asks for it and the cell has one
    loop = "manual" if recipe.manual_gradient and recipe.cell == "gru" else "scan"
    return BitAdder(recipe.units, dtype=recipe.dtype, init=recipe.init,
                    seed=check_int(seed, "seed"), cell=recipe.cell, loop=loop,
                    readout=recipe.readout)


_OVERRIDABLE = {f.name for f in fields(Recipe)} - {"name"}


class Trainer:
    """One training run: a model, its data, its step, and the loop.

    Explained in the chapter "Training" (``book/05_training.ipynb``).

    Parameters
    ----------
    recipe : str or Recipe
        ``'fast'`` (default), ``'seed'``, or a :class:`Recipe`.
    seed : int
        Seed for the initial weights and the data; same seed, same run.
    model : keras.Model, optional
        Train this model instead of :func:`build_model`'s: any model with the
        :class:`BitAdder` interface (logits from ``model(x)``, ``predict_bits``)
        and the recipe's dtype, e.g. one with another recurrent cell.
    check : callable, optional
        The held-out check, ``check(model)`` -> scores when every held-out sum
        is exact, else None; by default the one the recipe names
        (:func:`gru_tutorial.evaluate.held_out_check`).
    stop_when_converged : bool
        Stop at the first step at which the held-out sets are all exact (the
        recipe's stopping rule), or the recipe's ``extra_steps`` later. If
        false, or if the recipe's ``stop`` is ``'max-steps'`` (the ``seed``
        recipe), record that step in :attr:`converged_at` and go on to
        ``max_steps`` (or until a callback sets :attr:`should_stop`).
    **overrides
        Recipe fields to change for this run (``max_steps``, ``eval_bits``,
        ``eval_count``, ...); ``None`` means "the recipe's". The recipe checks
        them.

    Attributes
    ----------
    recipe : Recipe
        The recipe with the overrides.
    model : keras.Model
        The network being trained.
    history : History
        Per-step record.
    iteration : int
        Steps taken so far.
    converged_at : int or None
        The step at which the held-out check first passed. The check runs after a
        step whose training batch, scored before the step, was all exact, so the
        held-out sets may have been exact a step or more earlier.
    should_stop : bool
        Set by a callback to end the run after the current step.
    restarts : int
        Times the run started again from new weights (the recipe's ``restart_after``).
    certified_at : int or None
        With a recipe that stops when ``'proven'``: the step at which ``verify``
        certified the network.
    """

    def __init__(self, recipe: str | Recipe = "fast", seed: int = 0, *,
                 model: keras.Model | None = None, check: HeldOutCheck | None = None,
                 stop_when_converged: bool = True, **overrides: object) -> None:
        unknown = set(overrides) - _OVERRIDABLE
        if unknown:
            raise ArgumentError(f"unknown recipe field(s) {sorted(unknown)}; "
                                f"choose from {sorted(_OVERRIDABLE)}")
        recipe = get_recipe(recipe)
        self.recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
        self.seed = check_int(seed, "seed")
        self.start = time.perf_counter()
        self.model = build_model(self.recipe, self.seed) if model is None else model
        if self.model.dtype != self.recipe.dtype:
            raise ArgumentError(f"the model's dtype {self.model.dtype} is not the recipe's "
                                f"{self.recipe.dtype}")
        if getattr(self.model, "readout", "logit") != self.recipe.readout:
            raise ArgumentError(f"the model's readout {self.model.readout!r} is not the "
                                f"recipe's {self.recipe.readout!r}")
        if self.recipe.restart_after and model is not None:
            raise ArgumentError("a recipe that restarts (restart_after) builds its own models: "
                                "do not pass a model")
        self._set_model(self.model)
        self.restarts = 0
        self._attempt_start = 0
        data = recipe_data(self.recipe, self.seed)
        self.batches, self.sets = data.batches, data.held_out
        self.check = held_out_check(self.recipe.check, self.sets) if check is None else check
        self.stop_when_converged = stop_when_converged
        self.history = History()
        self.iteration = 0
        self.converged_at: int | None = None
        self.converged_seconds: float | None = None
        self.certified_at: int | None = None
        self.proof = None
        self.evaluation: dict[int | str, EvalResult] = {}
        self.should_stop = False
        self._stop_at: int | None = None
        self._callbacks: list[Callable[[Trainer], None]] = []

    def _set_model(self, model: keras.Model) -> None:
        """Train ``model`` from here on, with a new optimizer and step."""
        self.model = model
        self.adam = Adam(model.trainable_variables, self.recipe.learning_rate)
        self.step = make_train_step(model, loss=self.recipe.loss,
                                    learning_rate=self.recipe.learning_rate, optimizer=self.adam)

    def _restart(self) -> None:
        """Start again from new weights and training sums; the held-out sets stay."""
        self.restarts += 1
        self.converged_at = self.converged_seconds = None
        seed = self.seed + 100_000 * self.restarts
        self._set_model(build_model(self.recipe, seed))
        self.batches = recipe_data(self.recipe, seed).batches
        self._attempt_start = self.iteration

    def add_callback(self, callback: Callable[[Trainer], None]) -> None:
        """Call ``callback(trainer)`` after every step (after the held-out check).

        The callback can read :attr:`iteration`, :attr:`history`,
        :attr:`converged_at` and :attr:`model`, and end the run by setting
        :attr:`should_stop`.
        """
        self._callbacks.append(callback)

    def train_step(self) -> tuple[float, float, float]:
        """Take one step on the next batch and check the held-out sets if it was all exact.

        Returns
        -------
        tuple of float
            Loss, bit accuracy and exact accuracy of the batch before the step.
        """
        batch = next(self.batches)
        dtype = self.recipe.dtype
        loss, bit_acc, exact = (float(v) for v in self.step(
            tf.constant(batch.x, dtype), tf.constant(batch.y, dtype)))
        self.iteration += 1
        h = self.history
        h.iteration.append(self.iteration)
        h.loss.append(loss)
        h.bit_accuracy.append(bit_acc)
        h.exact_accuracy.append(exact)
        if self.converged_at is None and exact == 1.0:  # cheap trigger for the costly check
            h.checks.append(self.iteration)
            passed = self.check(self.model)
            if passed is not None:
                self.evaluation = passed
                self.converged_at = self.iteration
                self.converged_seconds = time.perf_counter() - self.start
                if self.stop_when_converged and self.recipe.stop == "held-out":
                    self._stop_at = self.iteration + self.recipe.extra_steps
        r = self.recipe
        if self._stop_at is not None and self.iteration >= self._stop_at:
            self.should_stop = True
        if self.converged_at == self.iteration and (r.contraction or r.spread):
            # from the next step on, the loss asks for a provable network too
            self.step = make_train_step(
                self.model, loss=r.loss, learning_rate=r.learning_rate, optimizer=self.adam,
                contraction=r.contraction, spread=r.spread, spread_history=r.verify_history)
        if self.converged_at is None and r.restart_after and self.restarts + 1 < r.attempts \
                and self.iteration - self._attempt_start >= r.restart_after:
            self._restart()
        if r.stop == "proven" and self.converged_at is not None and self.certified_at is None:
            if (self.iteration - self.converged_at) % r.verify_every == 0:
                self._try_proof()
            if self.certified_at is None and self.iteration - self.converged_at >= r.proof_steps:
                if self.restarts + 1 < r.attempts:  # this network will not prove: new weights
                    self._restart()
                else:
                    self.should_stop = True
        for callback in self._callbacks:
            callback(self)
        return loss, bit_acc, exact

    def _try_proof(self) -> None:
        """Try to prove the current network right at every length; stop the run if proven."""
        from .adder import AdderWeights
        from .verify import verify

        k = self.recipe.verify_history
        self.proof = verify(AdderWeights.from_model(self.model), max_history=k, min_history=k)
        if self.proof.certified:
            self.certified_at = self.iteration
            self.should_stop = self.should_stop or self.stop_when_converged

    def run(self, progress: bool = False) -> TrainResult:
        """Train until the stopping rule, ``max_steps``, or a callback ends the run.

        Parameters
        ----------
        progress : bool
            Show a progress bar (tqdm, on stderr).

        Returns
        -------
        TrainResult
            The model, steps taken, wall time, held-out scores and history.
        """
        bar = tqdm(total=self.recipe.max_steps, desc=f"train {self.recipe.name}",
                   disable=not progress, unit="step", leave=False)
        try:
            while self.iteration < self.recipe.max_steps and not self.should_stop:
                loss, bit_acc, _ = self.train_step()
                bar.update(1)
                if self.iteration % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", bit_acc=f"{bit_acc:.4f}")
        finally:
            bar.close()
        converged = self.converged_at is not None
        if not converged or self.iteration > self.converged_at:
            self.evaluation = evaluate_sets(self.model, self.sets)
        seconds = time.perf_counter() - self.start
        return TrainResult(self.model, self.recipe, self.seed, self.iteration, seconds,
                           converged, self.evaluation, self.history, self.converged_at,
                           self.certified_at, self.proof, self.restarts)


def train(
    recipe: str | Recipe = "fast",
    seed: int = 0,
    *,
    max_steps: int | None = None,
    eval_bits: tuple[int, ...] | None = None,
    eval_count: int | None = None,
    cell: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a bit adder with a recipe until it adds exactly (a :class:`Trainer` run).

    Parameters
    ----------
    recipe, seed
        As for :class:`Trainer`: a recipe name or :class:`Recipe`, and the seed
        of the initial weights and the data.
    max_steps : int, optional
        Override the recipe's step limit.
    eval_bits : tuple of int, optional
        Override the widths of the held-out evaluation sets.
    eval_count : int, optional
        Override the number of sums per evaluation set.
    cell : str, optional
        Override the recurrent cell (one of :data:`gru_tutorial.recipes.CELLS`).
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    TrainResult
        Model, iterations, wall time, held-out scores and history.

    Raises
    ------
    ArgumentError
        For an unknown recipe or a bad override.

    Examples
    --------
    >>> result = train("fast", seed=0, progress=False)  # doctest: +SKIP
    >>> result.model.add(123, 456)  # doctest: +SKIP
    579
    """
    trainer = Trainer(recipe, seed, max_steps=max_steps, eval_bits=eval_bits,
                      eval_count=eval_count, cell=cell)
    return trainer.run(progress=progress)
