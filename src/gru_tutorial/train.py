"""Training the bit adder: the original recipe and a faster one.

Explained in the chapter "Training" (``book/05_training.ipynb``).

Two named recipes (:data:`RECIPES`):

``seed``
    The original tutorial, faithfully: 16 hidden units, float64, every weight
    and bias drawn from a truncated normal with std 0.01, squared error
    ``0.5 * sum((sigmoid(logit) - y)**2) / batch``, Adam with learning rate
    1e-3, and one full-batch step per iteration on one fixed set of 100
    five-bit examples. It is done when exact on its own 5-bit test set.
``fast`` (default)
    A fresh random batch of 16-bit additions every step, with each operand's
    density of ones drawn at random so that long carry chains occur (an
    operand is then all zeros or all ones with probability 1/17 each, so some
    sums do come up more than once); binary cross-entropy on the
    logits, Glorot and orthogonal initialisation, Adam with learning rate
    3e-2, float32. It is done when exact on held-out random sums of 20, 200
    and 1,000 bits and on the adversarial 1,000-bit sums of
    :func:`gru_tutorial.evaluate.adversarial_pairs`.

Training is reproducible: the same recipe and seed give identical weights.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import tensorflow as tf
from tqdm import tqdm  # plain text bar: tqdm.auto warns in kernels without ipywidgets

from .bits import BitsError, check_nonnegative_int
from .data import AdditionBatch, encode_pairs, random_batch, seed_dataset
from .evaluate import EvalResult, adversarial_pairs, score_batch
from .model import BitAdder, _trace_once_per_instance

__all__ = ["Recipe", "RECIPES", "Adam", "History", "TrainResult", "train", "training_batches",
           "held_out_sets"]


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run except the seed.

    Attributes
    ----------
    name : str
        Recipe name.
    units : int
        Hidden state size.
    dtype : str
        ``'float32'`` or ``'float64'``.
    init : str
        ``'keras'`` or ``'seed'`` (see :data:`gru_tutorial.model.INITS`).
    loss : str
        ``'bce'`` (binary cross-entropy on logits, mean over bits) or ``'mse'``
        (``0.5 * sum of squared errors of the sigmoid / batch``).
    learning_rate : float
        Adam step size.
    batch_size : int
        Examples per step.
    train_bits : int
        Bits per operand of the training sums.
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


RECIPES: dict[str, Recipe] = {
    "seed": Recipe("seed", units=16, dtype="float64", init="seed", loss="mse",
                   learning_rate=1e-3, batch_size=100, train_bits=5, fixed_data=True,
                   mixed_density=False, eval_bits=(5,), eval_count=100, eval_adversarial=False,
                   max_steps=6000),
    "fast": Recipe("fast", units=16, dtype="float32", init="keras", loss="bce",
                   learning_rate=3e-2, batch_size=100, train_bits=16, fixed_data=False,
                   mixed_density=True, eval_bits=(20, 200, 1000), eval_count=1000,
                   eval_adversarial=True, max_steps=1000),
}
"""The named recipes; see the module docstring."""


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
        self.m = [tf.Variable(tf.zeros(v.shape, dtype), trainable=False) for v in self.variables]
        self.v = [tf.Variable(tf.zeros(v.shape, dtype), trainable=False) for v in self.variables]
        self.t = tf.Variable(0.0, dtype=dtype, trainable=False)
        self.lr, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    def apply(self, grads: list) -> None:
        """Take one step along the given gradients (same order as ``variables``)."""
        t = self.t.assign_add(1.0)
        b1, b2 = self.beta_1, self.beta_2
        step = self.lr * tf.sqrt(1.0 - b2**t) / (1.0 - b1**t)  # bias correction
        for var, g, m, v in zip(self.variables, grads, self.m, self.v, strict=True):
            m.assign(b1 * m + (1.0 - b1) * g)
            v.assign(b2 * v + (1.0 - b2) * g * g)
            var.assign_sub(step * m / (tf.sqrt(v) + self.epsilon))


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
    """

    model: BitAdder
    recipe: Recipe
    seed: int
    iterations: int
    seconds: float
    converged: bool
    evaluation: dict[int | str, EvalResult]
    history: History

    @property
    def exact_accuracy(self) -> float:
        """Lowest exact accuracy over the held-out evaluation sets."""
        return min(r.exact_accuracy for r in self.evaluation.values())


def _loss_fn(kind: str):
    def bce(logits, y):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))

    def mse(logits, y):
        batch = tf.cast(tf.shape(y)[0], logits.dtype)
        return 0.5 * tf.reduce_sum(tf.square(tf.sigmoid(logits) - y)) / batch

    if kind not in ("bce", "mse"):
        raise ValueError(f"loss must be 'bce' or 'mse', got {kind!r}")
    return bce if kind == "bce" else mse


def _make_step(model: BitAdder, recipe: Recipe):
    """A compiled training step: forward, loss, backward, Adam; returns loss and scores."""
    variables = model.trainable_variables
    optimizer = Adam(variables, recipe.learning_rate)
    loss_fn = _loss_fn(recipe.loss)
    spec = tf.TensorSpec([None, None, 2], recipe.dtype)
    label_spec = tf.TensorSpec([None, None, 1], recipe.dtype)

    @tf.function(input_signature=[spec, label_spec], autograph=False)
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x)
            loss = loss_fn(logits, y)
        optimizer.apply(tape.gradient(loss, variables))
        correct = tf.equal(logits > 0, y > 0.5)
        bit_acc = tf.reduce_mean(tf.cast(correct, tf.float32))
        exact = tf.reduce_mean(tf.cast(tf.reduce_all(correct, axis=[1, 2]), tf.float32))
        return loss, bit_acc, exact

    _trace_once_per_instance(step)
    return step


_EVAL_CHUNK = 250


def _evaluate_sets(model: BitAdder, sets: dict[int | str, AdditionBatch],
                   stop_early: bool) -> dict[int | str, EvalResult] | None:
    """Score the model on each held-out set.

    With ``stop_early``, score the cheapest sets first (the loop over time
    costs more than the batch size: shortest first, then fewest sums), in
    chunks, and return ``None`` at the first wrong sum: a model that is not
    there yet usually shows it within the first chunk, which keeps the check
    cheap. The result lists the sets in their given order either way.
    """
    order = sorted(sets, key=lambda k: sets[k].x.shape[1::-1]) if stop_early else list(sets)
    results = {}
    for key in order:
        batch = sets[key]
        chunk = _EVAL_CHUNK if stop_early else len(batch)
        exact_parts, correct_parts = [], []
        for i in range(0, len(batch), chunk):
            part = AdditionBatch(batch.x[i : i + chunk], batch.y[i : i + chunk], [], [])
            exact, correct = score_batch(model, part)
            if stop_early and not exact.all():
                return None
            exact_parts.append(exact)
            correct_parts.append(correct)
        exact, correct = np.concatenate(exact_parts), np.concatenate(correct_parts)
        width = batch.x.shape[1] - 1
        results[key] = EvalResult(float(exact.mean()), float(correct.mean()), width, len(exact))
    return {key: results[key] for key in sets}


def _recipe(recipe: str | Recipe) -> Recipe:
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose one of {sorted(RECIPES)}")
        return RECIPES[recipe]
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe must be a name or a Recipe, got {type(recipe).__name__}")
    return recipe


def training_batches(recipe: str | Recipe = "fast", seed: int = 0) -> Iterator[AdditionBatch]:
    """The training batches of :func:`train`, in the order it uses them (endless).

    Explained in the chapter "Training" (``book/05_training.ipynb``).

    Parameters
    ----------
    recipe : str or Recipe
        ``'fast'``, ``'seed'`` or a :class:`Recipe`.
    seed : int
        The run's seed.

    Yields
    ------
    AdditionBatch
        With ``fixed_data``, the same fixed set every time; otherwise a fresh
        random batch per step.
    """
    recipe = _recipe(recipe)
    rng = np.random.default_rng([check_nonnegative_int(seed, "seed"), 0])
    if recipe.fixed_data:
        fixed = seed_dataset(rng, recipe.batch_size, recipe.train_bits)
        while True:
            yield fixed
    while True:
        yield random_batch(recipe.batch_size, recipe.train_bits, rng, recipe.mixed_density)


def held_out_sets(recipe: str | Recipe = "fast", seed: int = 0) -> dict[int | str, AdditionBatch]:
    """The held-out sets that decide when :func:`train` stops.

    Explained in the chapter "Training" (``book/05_training.ipynb``).

    Parameters
    ----------
    recipe : str or Recipe
        ``'fast'``, ``'seed'`` or a :class:`Recipe`.
    seed : int
        The run's seed.

    Returns
    -------
    dict
        Bits per operand -> :class:`AdditionBatch` of ``eval_count`` sums, plus
        ``'adversarial'`` when the recipe asks for it. A fixed-data recipe
        draws the set at its own training width the same way as its training
        data (the original tutorial's scheme); other widths are random sums.
    """
    recipe = _recipe(recipe)
    rng = np.random.default_rng([check_nonnegative_int(seed, "seed"), 1])
    sets: dict[int | str, AdditionBatch] = {}
    for b in sorted(recipe.eval_bits):
        if recipe.fixed_data and b == recipe.train_bits:
            sets[b] = seed_dataset(rng, recipe.eval_count, b)
        else:
            sets[b] = random_batch(recipe.eval_count, b, rng)
    if recipe.eval_adversarial:
        pairs = adversarial_pairs(max(recipe.eval_bits)).values()
        sets["adversarial"] = encode_pairs([p for p, _ in pairs], [q for _, q in pairs])
    return sets


def train(
    recipe: str | Recipe = "fast",
    seed: int = 0,
    *,
    max_steps: int | None = None,
    eval_bits: tuple[int, ...] | None = None,
    eval_count: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a bit adder with a named recipe until it adds exactly.

    Parameters
    ----------
    recipe : str or Recipe
        ``'fast'`` (default), ``'seed'``, or a :class:`Recipe`.
    seed : int
        Seed for the initial weights and the data; same seed, same weights.
    max_steps : int, optional
        Override the recipe's step limit.
    eval_bits : tuple of int, optional
        Override the widths of the held-out evaluation sets.
    eval_count : int, optional
        Override the number of sums per evaluation set.
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    TrainResult
        Model, iterations, wall time, held-out scores and history.

    Examples
    --------
    >>> result = train("fast", seed=0, progress=False)  # doctest: +SKIP
    >>> result.model.add(123, 456)  # doctest: +SKIP
    579
    """
    recipe = _recipe(recipe)
    seed = check_nonnegative_int(seed, "seed")
    overrides = {}
    if max_steps is not None:
        overrides["max_steps"] = check_nonnegative_int(max_steps, "max_steps")
    if eval_bits is not None:
        eval_bits = tuple(check_nonnegative_int(b, "eval_bits") for b in eval_bits)
        if not eval_bits or min(eval_bits) < 1:
            raise BitsError("eval_bits must be a non-empty tuple of positive integers")
        overrides["eval_bits"] = eval_bits
    if eval_count is not None:
        overrides["eval_count"] = check_nonnegative_int(eval_count, "eval_count")
        if overrides["eval_count"] < 1:
            raise BitsError("eval_count must be at least 1")
    recipe = replace(recipe, **overrides)

    start = time.perf_counter()
    model = BitAdder(recipe.units, dtype=recipe.dtype, init=recipe.init, seed=seed)
    batches = training_batches(recipe, seed)
    sets = held_out_sets(recipe, seed)
    step = _make_step(model, recipe)
    history = History()
    converged = False
    evaluation: dict[int | str, EvalResult] = {}
    bar = tqdm(total=recipe.max_steps, desc=f"train {recipe.name}", disable=not progress,
               unit="step", leave=False)
    it = 0
    try:
        while it < recipe.max_steps:
            it += 1
            batch = next(batches)
            loss, bit_acc, exact = (float(v) for v in step(
                tf.constant(batch.x, recipe.dtype), tf.constant(batch.y, recipe.dtype)))
            history.iteration.append(it)
            history.loss.append(loss)
            history.bit_accuracy.append(bit_acc)
            history.exact_accuracy.append(exact)
            bar.update(1)
            if it % 10 == 0:
                bar.set_postfix(loss=f"{loss:.4f}", bit_acc=f"{bit_acc:.4f}")
            if exact == 1.0:  # cheap trigger: only then pay for the held-out sets
                history.checks.append(it)
                passed = _evaluate_sets(model, sets, stop_early=True)
                if passed is not None:
                    evaluation, converged = passed, True
                    break
    finally:
        bar.close()
    if not converged:
        evaluation = _evaluate_sets(model, sets, stop_early=False)
    seconds = time.perf_counter() - start
    return TrainResult(model, recipe, seed, it, seconds, converged, evaluation, history)
