"""One place to make runs reproducible.

Called in the first (hidden) cell of every chapter.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .bits import check_nonnegative_int

__all__ = ["set_seed"]


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
    seed = check_nonnegative_int(seed, "seed")
    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
