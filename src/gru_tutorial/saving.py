"""Saving and loading a bit adder: Keras weights plus a small JSON config.

Explained in the chapter "Training" (``book/05_training.ipynb``).

A saved model is a directory holding ``config.json`` (constructor arguments
and how the model was trained) and ``model.weights.h5`` (Keras's native
weights format). Nothing is pickled, so loading runs no code from the file.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .checks import MAX_UNITS, ModelFileError, check_int
from .recipes import CELLS, DTYPES, INITS

if TYPE_CHECKING:  # the model needs TensorFlow; these modules do not
    from .model import BitAdder

__all__ = ["ModelFileError", "save_model", "load_model", "load_pretrained",
           "CONFIG_NAME", "WEIGHTS_NAME", "PRETRAINED_DIR"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.weights.h5"
FORMAT_VERSION = 1
PRETRAINED_DIR = resources.files("gru_tutorial") / "pretrained"
"""Where the bundled model lives inside the installed package."""


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


def read_config(directory: str | Path) -> dict:
    """The parsed ``config.json`` of a saved model, checked.

    Raises
    ------
    ModelFileError
        If the directory or config is missing or malformed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"no model directory at {directory}")
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise ModelFileError(f"{path} is missing: not a saved gru_tutorial model")
    try:
        config = json.loads(path.read_text())
        model_cfg = config["model"]
        units, dtype, init = model_cfg["units"], model_cfg["dtype"], model_cfg["init"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path} is corrupt or not a gru_tutorial config ({exc})") from None
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has format_version {config.get('format_version')!r}, "
                             f"expected {FORMAT_VERSION}")
    check_int(units, f"units in {path}", 1, MAX_UNITS, error=ModelFileError)
    # "cell" is optional: models saved before there was a choice are GRUs
    if dtype not in DTYPES or init not in INITS or model_cfg.get("cell", "gru") not in CELLS \
            or not {"units", "dtype", "init"} <= set(model_cfg) <= {"units", "dtype", "init",
                                                                    "cell"}:
        raise ModelFileError(f"{path} has invalid model settings {model_cfg!r} (dtype one of "
                             f"{DTYPES}, init one of {INITS}, cell one of {CELLS}, "
                             "and no other keys)")
    return config


def load_model(directory: str | Path) -> BitAdder:
    """Load a model saved by :func:`save_model`.

    Parameters
    ----------
    directory : str or Path
        The saved model's directory.

    Returns
    -------
    BitAdder
        The model, with its weights.

    Raises
    ------
    ModelFileError
        If the directory, config or weights file is missing or corrupt.
    """
    from .model import BitAdder

    directory = Path(directory)
    config = read_config(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelFileError(f"{weights} is missing")
    model = BitAdder(**config["model"])
    try:
        model.load_weights(weights)
    except Exception as exc:  # h5py and Keras raise many types for a bad file
        first_line = (str(exc).splitlines() or [""])[0]
        raise ModelFileError(f"{weights} is corrupt or does not match the config "
                             f"({type(exc).__name__}: {first_line})") from None
    model.info = config.get("info", {})
    return model


def load_pretrained() -> BitAdder:
    """The small pretrained model shipped inside the package.

    Trained by the ``fast`` recipe; ``config.json`` in
    :data:`PRETRAINED_DIR` records the seed and the iterations it took.

    Returns
    -------
    BitAdder
        The bundled model.
    """
    with resources.as_file(PRETRAINED_DIR) as path:
        return load_model(path)
