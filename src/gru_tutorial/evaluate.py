"""Measuring how well a bit adder adds.

Explained in the chapter "Training" (``book/05_training.ipynb``).

Two scores: *bit accuracy* (the fraction of output bits that are right) and
*exact accuracy* (the fraction of sums with every bit right). Only the second
says whether the network can add: a 1,000-bit sum with one wrong bit has bit
accuracy 99.9% and is still the wrong number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from .checks import check_int
from .data import AdditionBatch, encode_pairs, random_batch

if TYPE_CHECKING:  # the model needs TensorFlow; these modules do not
    from .model import BitAdder

__all__ = ["EvalResult", "score_batch", "evaluate", "evaluate_sets", "adversarial_pairs",
           "evaluate_adversarial"]


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

    Parameters
    ----------
    model : BitAdder
        The network.
    bits : int
        Bits per operand (sequences have ``bits + 1`` steps).
    count : int
        Number of random sums.
    seed : int
        Seed of the random operands.

    Returns
    -------
    EvalResult
        The scores.
    """
    batch = random_batch(count, bits, seed)
    exact, correct = score_batch(model, batch)
    return EvalResult(float(exact.mean()), float(correct.mean()), batch.x.shape[1] - 1, len(batch))


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


def adversarial_pairs(bits: int) -> dict[str, tuple[int, int]]:
    """Hand-picked hard or edge-case sums with operands of up to ``bits`` bits.

    Parameters
    ----------
    bits : int
        Bits of the longer operand (at least 2).

    Returns
    -------
    dict
        Name -> ``(a, b)``. Includes ``0 + 0``, all-ones + 1 (a carry through
        every bit), all-ones + all-ones, alternating patterns, and operands of
        very different lengths.
    """
    bits = check_int(bits, "bits", 2)
    ones = (1 << bits) - 1
    alt = int("10" * (bits // 2) + "1" * (bits % 2), 2)  # 1010...: no two neighbouring ones
    return {
        "zero + zero": (0, 0),
        "all ones + 1 (carry through every bit)": (ones, 1),
        "1 + all ones": (1, ones),
        "all ones + all ones": (ones, ones),
        "top bit + top bit": (1 << (bits - 1), 1 << (bits - 1)),
        "alternating + its complement (no carries)": (alt, ones ^ alt),
        "alternating + alternating": (alt, alt),
        "long + 1 (very different lengths)": (ones ^ 0b10, 1),
        "all ones + 0": (ones, 0),
        "all ones minus 1 + 1": (ones - 1, 1),
    }


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
