"""Addition problems as bit sequences.

Explained in the chapter "Bitstring data" (``book/03_bitstring_data.ipynb``).

One example is a pair of integers ``a, b``. The book counts time steps
``t = 1 .. T``; the array index of step ``t`` is ``i = t - 1``, and it holds the
bits worth ``2**i``: the network reads ``x[:, i] = (bit i of a, bit i of b)``
and must output ``y[:, i] = bit i of a + b``. Two ``n``-bit numbers can have an
``(n + 1)``-bit sum (``3 + 1 = 4`` is ``11 + 10 = 001`` reversed), so every
sequence gets one extra step for the final carry.

Carries and carry chains (:func:`carries`, :func:`carry_chains`,
:func:`longest_carry_chain`) are defined once, here, for every chapter:
a step *generates* a carry when both its bits are 1, *passes on* an incoming
carry when exactly one is 1, and stops it when both are 0. The carry chain
arriving at a step is the number of steps the incoming carry has travelled:
from the step that generated it, through every step that passed it on. It is
0 when no carry comes in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .bits import BitsError, check_nonnegative_int, to_bits
from .checks import check_input_shape, check_int, check_steps
from .recipes import Recipe, get_recipe

__all__ = [
    "AdditionBatch",
    "encode_pairs",
    "random_batch",
    "seed_dataset",
    "carries",
    "carry_chains",
    "longest_carry_chain",
    "adversarial_pairs",
    "RecipeData",
    "recipe_data",
    "training_batches",
    "held_out_sets",
    "SEED_EXAMPLES",
    "SEED_BITS",
]

SEED_EXAMPLES = 100
"""Number of examples in the original tutorial's fixed data set."""

SEED_BITS = 5
"""Bits per sequence in the original tutorial's fixed data set."""


@dataclass(frozen=True)
class AdditionBatch:
    """A batch of addition problems as network inputs and targets.

    Attributes
    ----------
    x : numpy.ndarray
        float32, shape ``(batch, time, 2)``: ``x[:, i]`` holds bit ``i`` of ``a``
        and of ``b`` (worth ``2**i``), read at time step ``i + 1``.
    y : numpy.ndarray
        float32, shape ``(batch, time, 1)``: ``y[:, i, 0]`` is bit ``i`` of ``a + b``.
    a, b : list of int
        The operands, as Python integers.
    """

    x: np.ndarray
    y: np.ndarray
    a: list[int]
    b: list[int]

    def __len__(self) -> int:
        return len(self.a)

    @property
    def sums(self) -> list[int]:
        """The true sums ``a + b``."""
        return [p + q for p, q in zip(self.a, self.b, strict=True)]


def encode_pairs(a: Sequence[int], b: Sequence[int], width: int | None = None) -> AdditionBatch:
    """Encode given pairs of integers as an :class:`AdditionBatch`.

    Parameters
    ----------
    a, b : sequence of int
        Non-negative operands of any size, the same number of each.
    width : int, optional
        Time steps per sequence. Defaults to the fewest that hold every sum,
        i.e. one more than the longest operand (and at least 1).

    Returns
    -------
    AdditionBatch
        Inputs ``x`` and targets ``y`` of shape ``(len(a), width, .)``.

    Raises
    ------
    BitsError
        If an operand is not a non-negative integer, the lengths differ, or
        ``width`` is too small for a sum.
    ArgumentError
        If the batch would be larger than :data:`gru_tutorial.checks.MAX_STEPS`.
    """
    a = [check_nonnegative_int(v, "a") for v in a]
    b = [check_nonnegative_int(v, "b") for v in b]
    if len(a) != len(b):
        raise BitsError(f"a and b must have the same length, got {len(a)} and {len(b)}")
    if not a:
        raise BitsError("need at least one pair of operands")
    sums = [p + q for p, q in zip(a, b, strict=True)]
    needed = max(max(s.bit_length() for s in sums), 1)
    if width is None:
        longest = max(max(p.bit_length(), q.bit_length()) for p, q in zip(a, b, strict=True))
        width = max(longest + 1, needed)
    else:
        width = check_int(width, "width", 1, error=BitsError)
        if width < needed:
            raise BitsError(f"width={width} is too small: a sum needs {needed} bits")
    check_steps(len(a), width, "pairs x width")
    x = np.empty((len(a), width, 2), dtype=np.float32)
    y = np.empty((len(a), width, 1), dtype=np.float32)
    for i, (p, q, s) in enumerate(zip(a, b, sums, strict=True)):
        x[i, :, 0] = to_bits(p, width)
        x[i, :, 1] = to_bits(q, width)
        y[i, :, 0] = to_bits(s, width)
    return AdditionBatch(x=x, y=y, a=a, b=b)


def random_batch(
    batch_size: int,
    bits: int,
    rng: np.random.Generator | int | None = None,
    mixed_density: bool = False,
) -> AdditionBatch:
    """Random addition problems with ``bits``-bit operands.

    Parameters
    ----------
    batch_size : int
        Number of examples (at least 1).
    bits : int
        Bits per operand (at least 1); sequences have ``bits + 1`` steps.
    rng : numpy.random.Generator or int, optional
        Random generator, or a seed for a new one. Same seed, same batch.
    mixed_density : bool
        If false (default), every bit is 1 with probability 1/2, i.e. operands
        are uniform in ``[0, 2**bits)``. If true, each operand draws its own
        probability of a 1 uniformly from [0, 1]: that gives runs of ones and
        zeros, and so long carry chains, which uniform bits almost never have.

    Returns
    -------
    AdditionBatch
        The batch, with ``x`` of shape ``(batch_size, bits + 1, 2)``.

    Raises
    ------
    ArgumentError
        If a size is not a positive integer, or the batch would be larger than
        :data:`gru_tutorial.checks.MAX_STEPS`.
    """
    batch_size = check_int(batch_size, "batch_size", 1)
    bits = check_int(bits, "bits", 1)
    check_steps(batch_size, bits + 1, "batch_size x (bits + 1)")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if mixed_density:
        density = rng.uniform(0.0, 1.0, size=(2, batch_size, 1))
        operand_bits = (rng.uniform(size=(2, batch_size, bits)) < density).astype(np.uint8)
    else:
        operand_bits = rng.integers(0, 2, size=(2, batch_size, bits), dtype=np.uint8)
    if bits <= 62:  # fits int64 with the carry: add all pairs at once in NumPy
        weights = np.left_shift(np.int64(1), np.arange(bits + 1, dtype=np.int64))
        a_int, b_int = (operand_bits.astype(np.int64) * weights[:bits]).sum(axis=2)
        x = np.zeros((batch_size, bits + 1, 2), dtype=np.float32)
        x[:, :bits, :] = operand_bits.transpose(1, 2, 0)
        y = (((a_int + b_int)[:, None] & weights) != 0).astype(np.float32)[..., None]
        return AdditionBatch(x=x, y=y, a=[int(v) for v in a_int], b=[int(v) for v in b_int])
    # Longer operands: Python integers from the packed bits, and the sums' bits unpacked
    # from their bytes (the same batch as encode_pairs(a, b, bits + 1), without its checks)
    packed = np.packbits(operand_bits, axis=2, bitorder="little")
    a, b = ([int.from_bytes(row.tobytes(), "little") for row in half] for half in packed)
    size = (bits + 8) // 8  # bytes of a (bits + 1)-bit sum
    raw = b"".join((p + q).to_bytes(size, "little") for p, q in zip(a, b, strict=True))
    sum_bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(batch_size, size),
                             axis=1, bitorder="little")[:, :bits + 1]
    x = np.zeros((batch_size, bits + 1, 2), dtype=np.float32)
    x[:, :bits, :] = operand_bits.transpose(1, 2, 0)
    return AdditionBatch(x=x, y=sum_bits.astype(np.float32)[..., None], a=a, b=b)


def seed_dataset(
    rng: np.random.Generator | int | None = None,
    n_examples: int = SEED_EXAMPLES,
    bits: int = SEED_BITS,
) -> AdditionBatch:
    """The original tutorial's data: ``n_examples`` sums of ``bits``-bit sequences.

    As in the seed post, both operands are drawn with
    ``randint(0, 2**(bits - 1) - 1)`` (upper end excluded), i.e. from
    ``0 .. 2**(bits - 1) - 2``; their sum then always fits in ``bits`` bits.
    With the defaults that is 0..14, so only 15 x 15 = 225 distinct pairs exist.

    Parameters
    ----------
    rng : numpy.random.Generator or int, optional
        Random generator, or a seed for a new one.
    n_examples : int
        Number of examples.
    bits : int
        Sequence length, 2 to 63.

    Returns
    -------
    AdditionBatch
        ``x`` of shape ``(n_examples, bits, 2)``.

    Raises
    ------
    ArgumentError
        If a size is out of range.
    """
    n_examples = check_int(n_examples, "n_examples", 1)
    bits = check_int(bits, "bits (the seed scheme draws int64 operands; use random_batch "
                     "for longer sums)", 2, 63)
    check_steps(n_examples, bits, "n_examples x bits")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    high = 2 ** (bits - 1) - 1
    a = [int(v) for v in rng.integers(0, high, size=n_examples)]
    b = [int(v) for v in rng.integers(0, high, size=n_examples)]
    return encode_pairs(a, b, width=bits)


def _operand_bits(x: AdditionBatch | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The operand bits of ``x`` as two boolean arrays ``(batch, time)``, checked."""
    arr = x.x if isinstance(x, AdditionBatch) else x
    try:
        arr = np.asarray(arr)
    except (TypeError, ValueError) as exc:
        raise BitsError(f"x must be an array of 0s and 1s: {exc}") from None
    check_input_shape(arr, error=BitsError, empty_ok=True)
    if arr.dtype.kind not in "biuf":
        raise BitsError(f"x must hold only 0 and 1, got dtype {arr.dtype}")
    ones = arr == 1
    if not np.all(ones | (arr == 0)):
        raise BitsError(f"x must hold only 0 and 1, found {arr[~(ones | (arr == 0))][0]!r}")
    return ones[..., 0], ones[..., 1]


def _last_decisive(x: AdditionBatch | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Last step at or before each step whose two bits are equal, and whether both are 1.

    The index is -1 where no such step exists.
    """
    a, b = _operand_bits(x)
    decisive = a == b  # both 0 (stops a carry) or both 1 (generates one)
    index = np.where(decisive, np.arange(a.shape[1]), -1)
    last = np.maximum.accumulate(index, axis=1)
    generated = np.take_along_axis(decisive & a, np.maximum(last, 0), axis=1) & (last >= 0)
    return last, generated


def carries(x: AdditionBatch | np.ndarray) -> np.ndarray:
    """Carry out of every time step.

    Explained in the chapter "Bitstring data" (``book/03_bitstring_data.ipynb``).

    Parameters
    ----------
    x : AdditionBatch or array_like
        Inputs of shape ``(batch, time, 2)`` holding 0s and 1s, least
        significant bit first (or a batch, whose ``x`` is used).

    Returns
    -------
    numpy.ndarray
        int64, shape ``(batch, time)``: ``c[:, i] = 1`` when step ``i + 1``
        passes a carry to the next step, i.e. ``a_i + b_i + (carry in) >= 2``.

    Raises
    ------
    BitsError
        If ``x`` does not have shape ``(batch, time, 2)`` or holds anything
        but 0 and 1.
    """
    # A carry leaves a step exactly when the last step at or before it whose two
    # bits are equal has both bits 1: steps with unequal bits pass the carry on.
    _, generated = _last_decisive(x)
    return generated.astype(np.int64)


def carry_chains(x: AdditionBatch | np.ndarray) -> np.ndarray:
    """Length of the carry chain arriving at every time step.

    Explained in the chapter "Bitstring data" (``book/03_bitstring_data.ipynb``).
    A step generates a carry when both its bits are 1 and passes an incoming
    carry on when exactly one is 1. The chain arriving at step ``t`` has length
    ``t - g`` when the carry it receives was generated at step ``g`` (so ``1``
    when generated just before, plus one for every step that passed it on), and
    length 0 when no carry arrives. It is how many steps back the input lies
    that decided the carry: in ``7 + 1`` (``111 + 1``) the carry generated by
    the lowest bits arrives at the fourth step with length 3.

    Parameters
    ----------
    x : AdditionBatch or array_like
        Inputs, as for :func:`carries`.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(batch, time)``: the chain arriving at step ``i + 1``
        in column ``i``. Column 0 is always 0 (no carry enters the first step).

    Raises
    ------
    BitsError
        If ``x`` does not have shape ``(batch, time, 2)`` or holds anything
        but 0 and 1.

    Examples
    --------
    >>> carry_chains(encode_pairs([7], [1])).tolist()
    [[0, 1, 2, 3]]
    """
    last, generated = _last_decisive(x)
    chains = np.zeros(last.shape, dtype=np.int64)
    # the carry arriving at column i left column i - 1
    arriving = generated[:, :-1]
    steps = np.arange(1, last.shape[1])
    chains[:, 1:] = np.where(arriving, steps - last[:, :-1], 0)
    return chains


def longest_carry_chain(x: AdditionBatch | np.ndarray) -> np.ndarray:
    """Longest carry chain (see :func:`carry_chains`) in each example.

    Explained in the chapter "Bitstring data" (``book/03_bitstring_data.ipynb``).

    Parameters
    ----------
    x : AdditionBatch or array_like
        Inputs of shape ``(batch, time, 2)``, as for :func:`carry_chains`.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(batch,)``. For ``n``-bit operands (``n + 1`` steps) it
        is at most ``n``, reached by ``(2**n - 1) + 1``.

    Raises
    ------
    BitsError
        If ``x`` is not a valid input array.
    """
    chains = carry_chains(x)
    return chains.max(axis=1, initial=0)


def adversarial_pairs(bits: int) -> dict[str, tuple[int, int]]:
    """Hand-picked hard or edge-case sums with operands of up to ``bits`` bits.

    Explained in the chapter "Training" (``book/05_training.ipynb``).

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


def training_batches(recipe: str | Recipe = "fast", seed: int = 0) -> Iterator[AdditionBatch]:
    """A recipe's training batches, in the order training uses them (endless).

    Explained in the chapter "Training" (``book/05_training.ipynb``).

    Parameters
    ----------
    recipe : str or Recipe
        A recipe name (:data:`gru_tutorial.recipes.RECIPES`) or a :class:`Recipe`.
    seed : int
        The run's seed.

    Yields
    ------
    AdditionBatch
        With ``fixed_data``, the same fixed set every time; otherwise a fresh
        random batch per step.
    """
    recipe = get_recipe(recipe)
    rng = np.random.default_rng([check_int(seed, "seed"), 0])
    if recipe.fixed_data:
        fixed = seed_dataset(rng, recipe.batch_size, recipe.train_bits)
        while True:
            yield fixed
    while True:
        yield random_batch(recipe.batch_size, recipe.train_bits, rng, recipe.mixed_density)


def held_out_sets(recipe: str | Recipe = "fast", seed: int = 0) -> dict[int | str, AdditionBatch]:
    """The held-out sets that decide when a recipe's training stops.

    Explained in the chapter "Training" (``book/05_training.ipynb``). Arguments
    as for :func:`training_batches`.

    Returns
    -------
    dict
        Bits per operand -> :class:`AdditionBatch` of ``eval_count`` sums, plus
        ``'adversarial'`` (:func:`adversarial_pairs` at the longest width) when
        the recipe asks for it. A fixed-data recipe draws the set at its own
        training width the same way as its training data (the original
        tutorial's scheme); other widths are random sums.
    """
    recipe = get_recipe(recipe)
    rng = np.random.default_rng([check_int(seed, "seed"), 1])
    sets: dict[int | str, AdditionBatch] = {}
    for b in sorted(recipe.eval_bits):
        if recipe.fixed_data and b == recipe.train_bits:
            sets[b] = seed_dataset(rng, recipe.eval_count, b)
        else:
            sets[b] = random_batch(recipe.eval_count, b, rng, recipe.eval_mixed_density)
    if recipe.eval_adversarial:
        pairs = adversarial_pairs(max(recipe.eval_bits)).values()
        sets["adversarial"] = encode_pairs([p for p, _ in pairs], [q for _, q in pairs])
    return sets


@dataclass(frozen=True)
class RecipeData:
    """A training run's data: its batches and its held-out sets.

    Attributes
    ----------
    batches : iterator of AdditionBatch
        :func:`training_batches`.
    held_out : dict
        :func:`held_out_sets`.
    """

    batches: Iterator[AdditionBatch]
    held_out: dict[int | str, AdditionBatch]


def recipe_data(recipe: str | Recipe = "fast", seed: int = 0) -> RecipeData:
    """Everything a training run reads: its training batches and held-out sets, in one call.

    Arguments as for :func:`training_batches`; the same recipe and seed give the same data.
    """
    return RecipeData(training_batches(recipe, seed), held_out_sets(recipe, seed))
