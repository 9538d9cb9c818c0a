"""One place to make runs reproducible.

Called in the first (hidden) cell of every chapter.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .checks import check_int

__all__ = ["set_seed", "derive_seeds"]


def set_seed(seed: int = 0, deterministic_ops: bool = True) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow, and make TF ops deterministic.

    Parameters
    ----------
    seed : int
        The seed (non-negative).
    deterministic_ops : bool
        Also call ``tf.config.experimental.enable_op_determinism()``, so that
        the same seed gives bit-identical results on one machine.
    """
    seed = check_int(seed, "seed")
    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()


def derive_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent seeds derived from one, for the parts of a model.

    Uses NumPy's ``SeedSequence(seed).spawn(count)``, so the derived seeds do not
    collide with each other or with those of a neighbouring ``seed``.

    Parameters
    ----------
    seed : int
        The root seed (non-negative).
    count : int
        How many seeds to derive.

    Returns
    -------
    list of int
        Seeds in ``[0, 2**32)``, one per part, the same every time.
    """
    seed = check_int(seed, "seed")
    children = np.random.SeedSequence(seed).spawn(check_int(count, "count"))
    return [int(child.generate_state(1)[0]) for child in children]
