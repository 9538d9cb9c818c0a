"""Saving and loading a bit adder as a TensorFlow model.

Explained in the chapter "Training" (``book/05_training.ipynb``). The format,
and the one loader that reads and checks it, are in :mod:`gru_tutorial.adder`:
a directory with ``config.json`` and Keras's ``model.weights.h5``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .adder import CONFIG_NAME, FORMAT_VERSION, PRETRAINED_DIR, WEIGHTS_NAME, load
from .checks import ModelFileError

if TYPE_CHECKING:  # the model needs TensorFlow; these modules do not
    from .model import BitAdder

__all__ = ["ModelFileError", "save_model", "load_model", "load_pretrained"]


def save_model(model: BitAdder, directory: str | Path, info: dict | None = None) -> Path:
    """Save ``model`` to ``directory`` (created if needed).

    Parameters
    ----------
    model : BitAdder
        The model to save.
    directory : str or Path
        Target directory; existing files of the same names are overwritten.
    info : dict, optional
        Extra JSON-serialisable facts to record (recipe, seed, iterations, ...).

    Returns
    -------
    Path
        The directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"format_version": FORMAT_VERSION, "model": model.get_config(), "info": info or {}}
    model.save_weights(directory / WEIGHTS_NAME)
    (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return directory


def load_model(directory: str | Path) -> BitAdder:
    """The model saved in ``directory`` as a :class:`BitAdder`, with its ``info``.

    Read and checked by :func:`gru_tutorial.adder.load` (which raises
    :class:`ModelFileError` for a missing, corrupt or inconsistent model).
    """
    from .model import BitAdder

    return BitAdder.from_weights(load(directory))


def load_pretrained() -> BitAdder:
    """The small pretrained model shipped inside the package (the ``small`` recipe).

    ``config.json`` in :data:`gru_tutorial.adder.PRETRAINED_DIR` records the
    seed and the iterations it took.
    """
    with resources.as_file(PRETRAINED_DIR) as path:
        return load_model(path)
