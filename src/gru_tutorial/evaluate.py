"""Measuring how well a bit adder adds.

Explained in the chapter "Training" (``book/05_training.ipynb``).

Two scores: *bit accuracy* (the fraction of output bits that are right) and
*exact accuracy* (the fraction of sums with every bit right). Only the second
says whether the network can add: a 1,000-bit sum with one wrong bit has bit
accuracy 99.9% and is still the wrong number.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import check_choice, check_int, check_steps
from .data import AdditionBatch, adversarial_pairs, encode_pairs
from .recipes import CHECKS

if TYPE_CHECKING:  # the model needs TensorFlow; these modules do not
    from .model import BitAdder

__all__ = ["EvalResult", "score_batch", "evaluate", "evaluate_sets", "adversarial_pairs",
           "evaluate_adversarial", "HeldOutCheck", "plain_check", "NumpyCheck", "held_out_check",
           "CHECK_MARGIN"]


@dataclass(frozen=True)
class EvalResult:
    """Scores of a model on a set of sums.

    Attributes
    ----------
    exact_accuracy : float
        Fraction of sums with every bit right.
    bit_accuracy : float
        Fraction of all output bits that are right.
    bits : int
        Bits per operand.
    count : int
        Number of sums.
    """

    exact_accuracy: float
    bit_accuracy: float
    bits: int
    count: int

    def to_dict(self) -> dict:
        """The result as a plain dict (for JSON)."""
        return asdict(self)


def score_batch(model: BitAdder, batch: AdditionBatch) -> tuple[np.ndarray, np.ndarray]:
    """Per-sum exactness and per-bit correctness of ``model`` on ``batch``.

    Parameters
    ----------
    model : BitAdder
        The network.
    batch : AdditionBatch
        The problems.

    Returns
    -------
    exact : numpy.ndarray
        bool, shape ``(batch,)``: whether each sum is entirely right.
    correct : numpy.ndarray
        bool, shape ``(batch, time)``: whether each output bit is right.
    """
    predicted = model.predict_bits(batch.x)
    correct = predicted == batch.y[..., 0].astype(np.uint8)
    return correct.all(axis=1), correct


def evaluate(model: BitAdder, bits: int = 20, count: int = 1000, seed: int = 0) -> EvalResult:
    """Exact and bit accuracy on ``count`` random sums of ``bits``-bit operands.

    The sums are those of :func:`gru_tutorial.data.random_batch` ``(count, bits,
    seed)``, bit for bit, but drawn and scored a chunk at a time, so the memory
    needed does not grow with ``count``: a chunk holds about 4 million
    hidden-state values (steps x units), and never less than one sum.

    Parameters
    ----------
    model : BitAdder
        The network (or anything with ``predict_bits``, such as
        :class:`gru_tutorial.engine.NumpyAdder`).
    bits : int
        Bits per operand (sequences have ``bits + 1`` steps).
    count : int
        Number of random sums; ``count x (bits + 1)`` at most
        :data:`gru_tutorial.checks.MAX_STEPS`.
    seed : int
        Seed of the random operands (or a ``numpy.random.Generator``, which is
        advanced as :func:`~gru_tutorial.data.random_batch` would advance it).

    Returns
    -------
    EvalResult
        The scores.

    Raises
    ------
    ArgumentError
        If ``bits`` or ``count`` is not a positive integer, or there would be
        more than :data:`~gru_tutorial.checks.MAX_STEPS` steps in all.
    """
    bits = check_int(bits, "bits", 1)
    count = check_int(count, "count", 1)
    check_steps(count, bits + 1, "count x (bits + 1)")
    exact = right = 0
    for x, y in _random_chunks(count, bits, seed, _chunk_bounds(model, count, bits)):
        correct = model.predict_bits(x) == y
        exact += int(np.count_nonzero(correct.all(axis=1)))
        right += int(np.count_nonzero(correct))
        del x, y, correct  # before the next chunk is drawn
    # the same floats as the mean of the whole batch's bools: an exact count over the size
    return EvalResult(exact / count, right / (count * (bits + 1)), bits, count)


_EVAL_CHUNK = 1 << 22  # hidden-state values (steps x units) per chunk of evaluate()


def _chunk_bounds(model: Any, count: int, bits: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each chunk of :func:`evaluate`'s ``count`` sums.

    A chunk never holds fewer sums than :data:`gru_tutorial.engine.NUMBA_MAX_BATCH` + 1
    when the whole evaluation holds more: the NumPy engine picks its loop by the batch
    size (numba for small batches), and its two loops round differently, so every chunk
    must take the loop the whole batch took for the bits to be those of one batch.
    """
    from .engine import NUMBA_MAX_BATCH

    units = getattr(model, "units", 1)
    units = units if isinstance(units, int) and units > 0 else 1
    per_chunk = max(1, _EVAL_CHUNK // ((bits + 1) * units))
    if count > NUMBA_MAX_BATCH:
        per_chunk = max(per_chunk, NUMBA_MAX_BATCH + 1)
    bounds = [(i, min(i + per_chunk, count)) for i in range(0, count, per_chunk)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] <= NUMBA_MAX_BATCH < count:
        bounds[-2:] = [(bounds[-2][0], count)]  # a small remainder joins the chunk before
    return bounds


class _BitStream:
    """The values of ``rng.integers(0, 2, size=N, dtype=np.uint8)``, read a piece at a time.

    NumPy draws these values a byte at a time from 32-bit words, so successive calls
    for multiples of 4 values continue one stream exactly as a single call would; the
    values a piece does not use wait in :attr:`left` for the next one.
    """

    _BLOCK = 1 << 22  # values per call when skipping

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.left = np.empty(0, dtype=np.uint8)

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` values (uint8 0s and 1s)."""
        if n <= len(self.left):
            out, self.left = self.left[:n], self.left[n:]
            return out
        need = n - len(self.left)
        drawn = self.rng.integers(0, 2, size=-(-need // 4) * 4, dtype=np.uint8)
        out = np.concatenate([self.left, drawn[:need]])
        self.left = drawn[need:]
        return out

    def skip(self, n: int) -> None:
        """Pass over the next ``n`` values, in blocks of bounded size."""
        while n > 0:
            step = min(n, self._BLOCK)
            self.read(step)
            n -= step


def _random_chunks(count: int, bits: int, seed: Any,
                   bounds: list[tuple[int, int]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The inputs ``x`` and sum bits ``y`` (uint8) of ``random_batch(count, bits, seed)``.

    One ``(x, y)`` per chunk of ``bounds``. :func:`~gru_tutorial.data.random_batch`
    draws the bits of every ``a``, then those of every ``b``, in one call; here one
    stream reads the ``a`` bits and a copy of the generator, moved past them, the
    ``b`` bits.
    """
    given = isinstance(seed, np.random.Generator)
    rng = seed if given else np.random.default_rng(seed)
    stream_a, stream_b = _BitStream(rng), _BitStream(copy.deepcopy(rng))
    stream_b.skip(count * bits)
    for start, stop in bounds:
        n = stop - start
        yield _encode_bits(stream_a.read(n * bits).reshape(n, bits),
                           stream_b.read(n * bits).reshape(n, bits))
    if given:  # leave the caller's generator where random_batch would have left it
        seed.bit_generator.state = stream_b.rng.bit_generator.state


def _encode_bits(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, bits + 1, 2)`` and sum bits ``(n, bits + 1)`` (uint8) of operands ``(n, bits)``.

    The arithmetic of :func:`~gru_tutorial.data.random_batch`: int64 sums up to 62 bits,
    Python integers beyond.
    """
    n, bits = a.shape
    x = np.zeros((n, bits + 1, 2), dtype=np.uint8)
    x[:, :bits, 0], x[:, :bits, 1] = a, b
    if bits <= 62:  # fits int64 with the carry
        weights = np.left_shift(np.int64(1), np.arange(bits + 1, dtype=np.int64))
        total = a @ weights[:bits] + b @ weights[:bits]
        return x, ((total[:, None] & weights) != 0).view(np.uint8)
    packed_a, packed_b = (np.packbits(v, axis=1, bitorder="little") for v in (a, b))
    size = (bits + 8) // 8  # bytes of a (bits + 1)-bit sum
    raw = b"".join((int.from_bytes(p.tobytes(), "little")
                    + int.from_bytes(q.tobytes(), "little")).to_bytes(size, "little")
                   for p, q in zip(packed_a, packed_b, strict=True))
    del packed_a, packed_b
    y = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(n, size), axis=1,
                      bitorder="little")[:, :bits + 1]
    return x, y


_CHUNK = 250


def evaluate_sets(model: BitAdder, sets: dict[int | str, AdditionBatch],
                  stop_early: bool = False) -> dict[int | str, EvalResult] | None:
    """Score the model on each of several sets of sums (the held-out sets of training).

    Parameters
    ----------
    model : BitAdder
        The network.
    sets : dict
        Name (bits, or e.g. ``'adversarial'``) -> :class:`AdditionBatch`.
    stop_early : bool
        Score the cheapest sets first (the loop over time costs more than the
        batch size: shortest first, then fewest sums), in chunks, and return
        ``None`` at the first wrong sum: a model that is not there yet usually
        shows it within the first chunk, which keeps the check cheap.

    Returns
    -------
    dict or None
        Name -> :class:`EvalResult`, in the order of ``sets``; ``None`` if
        ``stop_early`` found a wrong sum.
    """
    order = sorted(sets, key=lambda k: sets[k].x.shape[1::-1]) if stop_early else list(sets)
    results = {}
    for key in order:
        batch = sets[key]
        chunk = _CHUNK if stop_early else len(batch)
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


def evaluate_adversarial(model: BitAdder, bits: int) -> dict[str, bool]:
    """Whether the model gets each of :func:`adversarial_pairs` exactly right.

    Parameters
    ----------
    model : BitAdder
        The network.
    bits : int
        Bits of the longer operand.

    Returns
    -------
    dict
        Name -> ``True`` if the network's sum is exact.
    """
    pairs = adversarial_pairs(bits)
    batch = encode_pairs([p[0] for p in pairs.values()], [p[1] for p in pairs.values()])
    exact, _ = score_batch(model, batch)
    return dict(zip(pairs, (bool(e) for e in exact), strict=True))


HeldOutCheck = Callable[[Any], "dict[int | str, EvalResult] | None"]
"""The held-out check of training: ``check(model)`` returns the scores when every
held-out sum is exact, else None (see :class:`gru_tutorial.train.Trainer`)."""

CHECK_MARGIN = 1e-3
""":class:`NumpyCheck` lets the model decide when an output is this close to the threshold."""


def plain_check(sets: dict[int | str, AdditionBatch]) -> HeldOutCheck:
    """The plain held-out check: :func:`evaluate_sets` with ``stop_early``, by the model itself.

    Parameters
    ----------
    sets : dict
        The held-out sets (:func:`gru_tutorial.data.held_out_sets`).

    Returns
    -------
    callable
        ``check(model)``.
    """
    return lambda model: evaluate_sets(model, sets, stop_early=True)


class NumpyCheck:
    """The fast held-out check: the same decisions as :func:`plain_check` at a fraction of the cost.

    Explained in the chapter "Performance" (``book/08_performance.ipynb``). Each
    call runs the NumPy engine on a copy of the model's current weights (no
    compiling, several times faster than the TensorFlow model on these batches),
    with the sets of one length in one batch, shortest first, and stops at the
    first wrong bit (:meth:`~gru_tutorial.engine.NumpyAdder.all_exact`). The sums
    found wrong by the last failing call run first, on their own: if one of them
    is still wrong, the check fails at once. The engine's outputs agree with
    TensorFlow's to about 1e-5, so its bits are the model's wherever the output is
    further than that from the threshold; if any output the check computed is
    closer to it than :data:`CHECK_MARGIN`, passing or failing, :func:`plain_check`
    decides.

    Parameters
    ----------
    sets : dict
        The held-out sets.
    """

    def __init__(self, sets: dict[int | str, AdditionBatch]) -> None:
        self.sets = sets
        self.plain = plain_check(sets)
        # sets of the same length in one batch (the loop over time costs more than the
        # batch size), shortest first
        self.batches = []
        for n in sorted({batch.x.shape[1] for batch in sets.values()}):
            same = [batch for batch in sets.values() if batch.x.shape[1] == n]
            self.batches.append((np.concatenate([b.x for b in same]),
                                 np.concatenate([b.y for b in same])))
        self.suspects: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, model) -> dict[int | str, EvalResult] | None:
        """The scores if every held-out sum is exact for ``model``'s current weights, else None."""
        from .engine import NumpyAdder

        engine = NumpyAdder(model)
        if self.suspects is not None:
            check = engine.all_exact(*self.suspects)
            if not check.exact:
                return None if check.margin >= CHECK_MARGIN else self.plain(model)
        margin = float("inf")
        for x, y in self.batches:
            check = engine.all_exact(x, y)
            if not check.exact:
                self.suspects = (x[check.wrong], y[check.wrong])
                return None if check.margin >= CHECK_MARGIN else self.plain(model)
            margin = min(margin, check.margin)
        if margin < CHECK_MARGIN:
            return self.plain(model)
        return {key: EvalResult(1.0, 1.0, batch.x.shape[1] - 1, len(batch))
                for key, batch in self.sets.items()}


def held_out_check(kind: str, sets: dict[int | str, AdditionBatch]) -> HeldOutCheck:
    """The held-out check a recipe names (``Recipe.check``): ``'plain'`` or ``'numpy'``.

    Parameters
    ----------
    kind : str
        One of :data:`gru_tutorial.recipes.CHECKS`.
    sets : dict
        The held-out sets.

    Returns
    -------
    callable
        ``check(model)``: :func:`plain_check` or a :class:`NumpyCheck`.
    """
    check_choice(kind, "check", CHECKS)
    return NumpyCheck(sets) if kind == "numpy" else plain_check(sets)
