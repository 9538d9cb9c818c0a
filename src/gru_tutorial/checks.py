"""One way to check an argument, and the error raised when it is wrong.

Every size or count the package accepts (from Python or from the command line)
goes through :func:`check_int`, which names the argument, its type and the
allowed range in its message. Sizes that allocate memory are also checked
against :data:`MAX_STEPS` before anything is allocated.

This module imports neither TensorFlow nor NumPy, so the command line can use it
before deciding whether it needs them.
"""

from __future__ import annotations

import numbers
import operator

__all__ = ["ArgumentError", "ModelFileError", "check_int", "check_choice", "check_steps",
           "check_input_shape", "MAX_STEPS", "MAX_UNITS"]

MAX_STEPS = 2**26
"""Most time steps (sums x steps per sum) in one batch of inputs: 67,108,864 steps
take 512 MiB as float32 inputs, plus the targets and the network's states."""

MAX_UNITS = 1024
"""Largest hidden state size a model may have (3.2 million GRU weights)."""


class ArgumentError(ValueError, TypeError):
    """An argument has the wrong type or lies outside its allowed range.

    Subclasses both ``ValueError`` and ``TypeError`` so callers can catch it
    either way; the message names the argument, what it got and what is allowed.
    """


class ModelFileError(ValueError):
    """A saved model directory is missing, incomplete or corrupt."""


def check_int(value: object, name: str, minimum: int = 0, maximum: int | None = None,
              error: type[ValueError] = ArgumentError) -> int:
    """Return ``value`` as a Python ``int`` if it is an integer in ``[minimum, maximum]``.

    Parameters
    ----------
    value : object
        The value to check. Python ``int`` and NumPy integer scalars are
        accepted; ``bool``, floats (even ``3.0``), strings and everything else
        are rejected.
    name : str
        Name of the argument, used in the message.
    minimum, maximum : int
        Allowed range, inclusive; no upper bound if ``maximum`` is None.
    error : type
        Exception class to raise (:class:`ArgumentError` unless a module has a
        more specific one, such as :class:`gru_tutorial.bits.BitsError`).

    Returns
    -------
    int
        ``value`` as a Python ``int``.

    Raises
    ------
    ArgumentError
        (or ``error``) if ``value`` is not an integer or is out of range.
    """
    allowed = (f"an integer >= {minimum}" if maximum is None
               else f"an integer from {minimum:,} to {maximum:,}")
    if isinstance(value, bool) or type(value).__name__ == "bool_" \
            or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be {allowed}, got {type(value).__name__} {value!r}")
    n = operator.index(value)
    if n < minimum or (maximum is not None and n > maximum):
        shown = f"{n:,}" if n.bit_length() < 200 else f"a {n.bit_length()}-bit number"
        raise error(f"{name} must be {allowed}, got {shown}")
    return n


def check_choice(value: object, name: str, choices: tuple) -> str:
    """Return ``value`` if it is one of ``choices``.

    Raises
    ------
    ArgumentError
        Naming the argument, what it got and the choices.
    """
    if not isinstance(value, str) or value not in choices:
        raise ArgumentError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_input_shape(x: object, y: object = None, error: type[ValueError] = ArgumentError,
                      empty_ok: bool = False) -> None:
    """Refuse inputs that are not ``(batch, time, 2)`` bit pairs (and targets ``(batch, time)``).

    Parameters
    ----------
    x : array
        Inputs; anything with ``shape``.
    y : array, optional
        Targets, of shape ``(batch, time)`` or ``(batch, time, 1)``.
    error : type
        Exception class to raise (as for :func:`check_int`).
    empty_ok : bool
        Accept no sequences or no time steps (for functions of the data alone).

    Raises
    ------
    ArgumentError
        (or ``error``) naming the shapes found.
    """
    shape = tuple(getattr(x, "shape", ()))
    least = 0 if empty_ok else 1
    if len(shape) != 3 or shape[2] != 2 or min(shape[:2]) < least:
        raise error(f"x must have shape (batch, time, 2) with batch, time >= {least}, "
                    f"got {shape}")
    if y is not None:
        y_shape = tuple(getattr(y, "shape", ()))
        if y_shape not in (shape[:2], (*shape[:2], 1)):
            raise error(f"y must have shape (batch, time) or (batch, time, 1) to match "
                                f"x {shape}, got {y_shape}")


def check_steps(count: int, steps: int, what: str) -> None:
    """Refuse a batch of ``count`` sequences of ``steps`` steps above :data:`MAX_STEPS`.

    Parameters
    ----------
    count, steps : int
        Number of sequences and time steps per sequence.
    what : str
        What the batch is, for the message (e.g. ``"count x (bits + 1)"``).

    Raises
    ------
    ArgumentError
        If ``count * steps`` exceeds :data:`MAX_STEPS`.
    """
    total = count * steps
    if total > MAX_STEPS:
        shown = f"{total:,}" if total.bit_length() < 200 else f"a {total.bit_length()}-bit number"
        raise ArgumentError(
            f"{what} = {shown} time steps is more than the limit of {MAX_STEPS:,} "
            "that one batch may hold; use fewer or shorter sums")
