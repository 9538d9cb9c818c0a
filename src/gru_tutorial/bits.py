"""Integers as reversed bitstrings (least significant bit first).

Explained in the chapter "Bitstring data" (``book/03_bitstring_data.ipynb``).

A number ``n`` is stored as ``bits[i] = (n >> i) & 1``: position 0 holds the
ones, position 1 the twos, and so on. That is the order in which a person adds
on paper (right to left), so a recurrent network reading the bits in this order
sees each carry before the position that needs it.

Both directions are vectorised through ``int.to_bytes`` / ``np.unpackbits``, so
a 100,000-bit number costs microseconds, not a Python loop per bit. As everywhere
in the package, sizes are checked before anything is allocated: a bit string
longer than :data:`gru_tutorial.checks.MAX_STEPS` is refused with a
:class:`BitsError`, not a ``MemoryError`` (or a silent gigabyte).
"""

from __future__ import annotations

import numpy as np

from .checks import MAX_STEPS, ArgumentError, check_int

__all__ = ["BitsError", "check_nonnegative_int", "to_bits", "from_bits", "bits_needed"]


class BitsError(ArgumentError):
    """Invalid input for a bit conversion (an operand, a bit string, a width).

    An :class:`~gru_tutorial.checks.ArgumentError`, so both ``ValueError`` and
    ``TypeError``; the message names the argument, its type and the allowed range.
    """


def check_nonnegative_int(value: object, name: str = "n") -> int:
    """Return ``value`` as a Python ``int`` if it is a non-negative integer (an operand).

    :func:`gru_tutorial.checks.check_int` with ``minimum=0`` that raises
    :class:`BitsError`.

    Parameters
    ----------
    value : object
        The value to check; ``int`` and NumPy integers only (no bools, floats, strings).
    name : str
        Name of the argument, used in the error message.

    Returns
    -------
    int
        ``value`` converted to a Python ``int``.

    Raises
    ------
    BitsError
        If ``value`` is not an integer or is negative.
    """
    return check_int(value, name, 0, error=BitsError)


def bits_needed(n: int) -> int:
    """Number of bits needed to write ``n`` (at least 1, so that 0 takes one bit).

    Parameters
    ----------
    n : int
        A non-negative integer.

    Returns
    -------
    int
        ``max(1, n.bit_length())``.
    """
    return max(1, check_nonnegative_int(n).bit_length())


def to_bits(n: int, width: int | None = None) -> np.ndarray:
    """Reversed bitstring of ``n``: least significant bit first.

    Parameters
    ----------
    n : int
        A non-negative integer of any size.
    width : int, optional
        Length of the result; the high positions are padded with zeros.
        Defaults to :func:`bits_needed` of ``n``. At most
        :data:`~gru_tutorial.checks.MAX_STEPS`.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(width,)`` with ``bits[i] == (n >> i) & 1``.

    Raises
    ------
    BitsError
        If ``n`` is not a non-negative integer, or ``width`` is not a
        positive integer large enough to hold ``n``, or the result would be
        longer than :data:`~gru_tutorial.checks.MAX_STEPS` bits (refused
        before anything is allocated).

    Examples
    --------
    >>> to_bits(6, 4)
    array([0, 1, 1, 0], dtype=uint8)
    """
    n = check_nonnegative_int(n, "n")
    if width is None:
        width = max(1, n.bit_length())
        if width > MAX_STEPS:
            raise BitsError(f"n has {width:,} bits, more than the limit of {MAX_STEPS:,} "
                            "bits (gru_tutorial.checks.MAX_STEPS)")
    else:
        width = check_int(width, "width", 1, MAX_STEPS, error=BitsError)
        if n.bit_length() > width:
            raise BitsError(f"width={width} is too small for n: it needs {n.bit_length()} bits")
    raw = n.to_bytes((width + 7) // 8, "little")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[:width].copy()


def from_bits(bits: object) -> int:
    """Integer whose reversed bitstring is ``bits`` (inverse of :func:`to_bits`).

    Parameters
    ----------
    bits : array_like
        One-dimensional sequence of 0s and 1s, least significant bit first.
        Booleans, integers and floats equal to exactly 0 or 1 are accepted.
        An empty sequence is 0. At most :data:`~gru_tutorial.checks.MAX_STEPS`
        of them.

    Returns
    -------
    int
        The Python integer ``sum(bits[i] * 2**i)``.

    Raises
    ------
    BitsError
        If ``bits`` is not one-dimensional, holds anything but 0 and 1, or is
        longer than :data:`~gru_tutorial.checks.MAX_STEPS` (refused before the
        checks and the conversion allocate their temporary arrays).

    Examples
    --------
    >>> from_bits([0, 1, 1, 0])
    6
    """
    if isinstance(bits, (str, bytes)):
        raise BitsError(f"bits must be a sequence of 0s and 1s, got {type(bits).__name__}")
    if not isinstance(bits, np.ndarray):  # e.g. range(10**12): refuse before np.asarray
        try:
            length = len(bits)  # type: ignore[arg-type]
        except TypeError:  # no length (an iterator, a scalar): np.asarray decides below
            length = 0
        _check_length(length)
    try:
        arr = np.asarray(bits)
    except (TypeError, ValueError) as exc:
        raise BitsError(f"bits must be a sequence of 0s and 1s: {exc}") from None
    if arr.ndim != 1:
        raise BitsError(f"bits must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return 0
    _check_length(arr.size)  # an array may be a view holding far less memory than its size
    if arr.dtype.kind not in "biuf":
        raise BitsError(f"bits must hold only 0 and 1, got dtype {arr.dtype}")
    ones = arr == 1
    if not np.all(ones | (arr == 0)):
        bad = arr[~(ones | (arr == 0))][0]
        raise BitsError(f"bits must hold only 0 and 1, found {bad!r}")
    packed = np.packbits(ones, bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def _check_length(length: int) -> None:
    """Refuse a bit string longer than :data:`~gru_tutorial.checks.MAX_STEPS`."""
    if length > MAX_STEPS:
        raise BitsError(f"bits must hold at most {MAX_STEPS:,} values (the limit of "
                        f"gru_tutorial.checks.MAX_STEPS), got {length:,}")
