"""A trained adder without TensorFlow: its weights by name, and the one loader of saved models.

Explained in the chapter "Training" (``book/05_training.ipynb``, saving and
loading). A saved model is a directory holding ``config.json`` (constructor
arguments and how the model was trained) and ``model.weights.h5`` (Keras's
weights format, read here with ``h5py``). Nothing is pickled, so loading runs no
code from the file.

:class:`AdderWeights` is what every part of the package that does not train
works on: the NumPy engine (:mod:`gru_tutorial.engine`), the proof
(:mod:`gru_tutorial.verify`), the look inside (:mod:`gru_tutorial.inside`), the
web page's exporter (:mod:`gru_tutorial.web`) and the command line.
:func:`gru_tutorial.saving.load_model` turns it into a TensorFlow model.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .checks import MAX_UNITS, ArgumentError, ModelFileError, check_choice, check_int
from .recipes import CELLS, DTYPES, INITS, READOUTS, THRESHOLDS

__all__ = ["AdderWeights", "CELL_GATES", "READOUTS", "weight_names", "load", "load_pretrained",
           "read_config", "CONFIG_NAME", "WEIGHTS_NAME", "FORMAT_VERSION", "PRETRAINED_DIR"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.weights.h5"
FORMAT_VERSION = 1
PRETRAINED_DIR = resources.files("gru_tutorial") / "pretrained"
"""Where the bundled model lives inside the installed package."""

CELL_GATES: dict[str, tuple[str, ...]] = {
    "rnn": ("",), "gru-noreset": ("z", "h"), "gru": ("z", "r", "h"), "lstm": ("i", "f", "o", "c")}
"""The gates of each cell built from named weights (``''``: plain ``W``, ``U``, ``b``),
in the order the cell creates its weights; ``'keras-gru'`` has Keras's three arrays."""


_KERAS_GRU = ("kernel", "recurrent_kernel", "bias")
_READOUT = ("V", "c")


def weight_names(cell: str) -> tuple[str, ...]:
    """The names of a cell's weights, in the order the cell creates (and saves) them.

    Parameters
    ----------
    cell : str
        One of :data:`gru_tutorial.recipes.CELLS`.

    Returns
    -------
    tuple of str
        ``W_g`` for every gate ``g``, then ``U_g``, then ``b_g`` (Keras's
        ``kernel``, ``recurrent_kernel``, ``bias`` for ``'keras-gru'``).
    """
    check_choice(cell, "cell", CELLS)
    if cell == "keras-gru":
        return _KERAS_GRU
    return tuple(f"{kind}_{g}" if g else kind for kind in "WUb" for g in CELL_GATES[cell])


def _shape(name: str, cell: str, units: int) -> tuple[int, ...]:
    """The shape of weight ``name`` of a ``units``-unit adder (inputs are bit pairs)."""
    if cell == "keras-gru":
        return {"kernel": (2, 3 * units), "recurrent_kernel": (units, 3 * units),
                "bias": (2, 3 * units)}.get(name) or _shape(name, "gru", units)
    return {"W": (2, units), "U": (units, units), "b": (units,), "V": (units,),
            "c": ()}[name[0]]


@dataclass(frozen=True, eq=False)
class AdderWeights:
    """A bit adder's weights by name, its cell, dtype and readout: no TensorFlow needed.

    The arrays are float64 copies holding exactly the values the model runs
    with (a float32 value widens to float64 without rounding; given float64
    values are rounded to ``dtype`` first). Each weight is also an attribute:
    ``w.W_z``, ``w.V``.

    Parameters
    ----------
    cell : str
        One of :data:`gru_tutorial.recipes.CELLS`.
    arrays : mapping of str to array
        Every name of :func:`weight_names` plus the readout ``V`` (units,) and
        ``c`` (a scalar); no others.
    dtype : str
        The dtype the model computes in, ``'float32'`` or ``'float64'``.
    readout : str
        One of :data:`READOUTS`.
    init : str
        How the model was initialised (recorded in the saved config).
    info : dict
        Facts about how it was trained (recipe, seed, iterations, ...).

    Raises
    ------
    ArgumentError
        For an unknown cell, dtype or readout, a missing or extra weight, a
        wrong shape, or a weight that is not finite (naming the array).
    """

    cell: str
    arrays: Mapping[str, np.ndarray]
    dtype: str = "float32"
    readout: str = "logit"
    init: str = "keras"
    info: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        check_choice(self.cell, "cell", CELLS)
        check_choice(self.dtype, "dtype", DTYPES)
        check_choice(self.readout, "readout", READOUTS)
        check_choice(self.init, "init", INITS)
        names = (*weight_names(self.cell), *_READOUT)
        if not isinstance(self.arrays, Mapping) or set(self.arrays) != set(names):
            got = sorted(self.arrays) if isinstance(self.arrays, Mapping) else self.arrays
            raise ArgumentError(f"a {self.cell!r} adder needs the weights {list(names)}, "
                                f"got {got!r}")
        try:
            v = np.asarray(self.arrays["V"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ArgumentError("V must be an array of numbers") from None
        units = v.shape[0] if v.ndim >= 1 else 0
        check_int(units, "units (the length of V)", 1, MAX_UNITS)
        arrays = {}
        for name in names:
            try:
                value = np.asarray(self.arrays[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise ArgumentError(f"{name} must be an array of numbers") from None
            want = _shape(name, self.cell, units)
            if value.shape != want:
                raise ArgumentError(f"{name} must have shape {want} for {units} units, "
                                    f"got {value.shape}")
            with np.errstate(over="ignore"):  # too large for float32: infinite, refused below
                value = value.astype(self.dtype).astype(np.float64)  # the values the model runs
            if not np.all(np.isfinite(value)):
                raise ArgumentError(f"{name} holds a value that is not finite in {self.dtype} "
                                    "(NaN or infinite): the model cannot compute with it")
            value.setflags(write=False)
            arrays[name] = value
        object.__setattr__(self, "arrays", arrays)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or weight {name!r}")

    @property
    def units(self) -> int:
        """Hidden state size."""
        return self.arrays["V"].shape[0]

    @property
    def threshold(self) -> float:
        """The value of ``h V + c`` above which a bit is 1 (0, or 0.5 for a linear readout)."""
        return THRESHOLDS[self.readout]

    @property
    def names(self) -> tuple[str, ...]:
        """The cell's weight names (:func:`weight_names`)."""
        return weight_names(self.cell)

    def replace(self, **changes: object) -> AdderWeights:
        """A copy with some weights (by name) or fields (``dtype``, ...) changed, checked again."""
        arrays = {k: v for k, v in changes.items() if k in self.arrays}
        fields = {k: v for k, v in changes.items() if k not in arrays}
        return dataclasses.replace(self, arrays={**self.arrays, **arrays}, **fields)

    @classmethod
    def from_model(cls, model) -> AdderWeights:
        """The current weights of a :class:`~gru_tutorial.model.BitAdder` (copied).

        Parameters
        ----------
        model : BitAdder
            The model; any cell.

        Returns
        -------
        AdderWeights
            Its weights; later changes of the model do not reach them.
        """
        if not all(hasattr(model, k) for k in ("cell_kind", "cell", "V", "c")):
            raise ArgumentError(f"expected a BitAdder, got {type(model).__name__}")
        cell = model.cell
        if model.cell_kind == "keras-gru":
            arrays = dict(zip(_KERAS_GRU, cell.layer.get_weights(), strict=True))
        else:
            arrays = {name: getattr(cell, name).numpy() for name in weight_names(model.cell_kind)}
        arrays |= {"V": model.V.numpy()[:, 0], "c": model.c.numpy()[0]}
        return cls(model.cell_kind, arrays, dtype=str(model.dtype),
                   readout=getattr(model, "readout", "logit"),
                   init=getattr(model, "init_scheme", "keras"),
                   info=dict(getattr(model, "info", {}) or {}))


def as_weights(model_or_weights) -> AdderWeights:
    """``model_or_weights`` itself if it is :class:`AdderWeights`, else its weights."""
    if isinstance(model_or_weights, AdderWeights):
        return model_or_weights
    return AdderWeights.from_model(model_or_weights)


def read_config(directory: str | Path) -> dict:
    """The parsed ``config.json`` of a saved model, checked.

    Raises
    ------
    ModelFileError
        If the directory or config is missing or malformed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"no model directory at {directory} (a model is a directory saved by "
                             "gru-tutorial train, or a .json weights file of the page Train it)")
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
    # "cell" and "readout" are optional: models saved before there was a choice are GRUs
    # read at logit 0
    keys = {"units", "dtype", "init", "cell", "readout"}
    if dtype not in DTYPES or init not in INITS or model_cfg.get("cell", "gru") not in CELLS \
            or model_cfg.get("readout", "logit") not in READOUTS \
            or not {"units", "dtype", "init"} <= set(model_cfg) <= keys:
        raise ModelFileError(f"{path} has invalid model settings {model_cfg!r} (dtype one of "
                             f"{DTYPES}, init one of {INITS}, cell one of {CELLS}, readout one "
                             f"of {READOUTS}, and no other keys)")
    return config


def _read_arrays(path: Path, cell: str) -> dict[str, np.ndarray]:
    """The arrays of a Keras ``.weights.h5`` file of a :class:`BitAdder`, by name."""
    import h5py

    names = weight_names(cell)
    try:
        with h5py.File(path, "r") as f:
            # Keras keeps a layer's own variables under "vars", by creation order
            readout = [np.asarray(f["vars"][str(i)]) for i in range(2)]
            group = f["cell"]["layer"]["cell"]["vars"] if cell == "keras-gru" \
                else f["cell"]["vars"]
            if len(group) != len(names):
                raise KeyError(f"{len(group)} cell weights, expected {len(names)}")
            arrays = {n: np.asarray(group[str(i)]) for i, n in enumerate(names)}
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{path} is corrupt or does not match its config "
                             f"({type(exc).__name__}: {exc})") from None
    # Keras keeps the readout as V (units, 1) and c (1,)
    return arrays | {"V": readout[0].reshape(-1), "c": readout[1].reshape(())}


def load(directory: str | Path) -> AdderWeights:
    """A model saved by :func:`gru_tutorial.saving.save_model`: its weights, checked.

    A file instead of a directory is read as the ``.json`` weights file that the
    book's page "Train it" downloads (:func:`gru_tutorial.web.read_adder_json`).

    Parameters
    ----------
    directory : str or Path
        The saved model's directory, or a weights ``.json`` file of the page.

    Returns
    -------
    AdderWeights
        The weights, cell, dtype and readout, and the saved ``info``.

    Raises
    ------
    ModelFileError
        If the directory, config or weights are missing or corrupt, the weights
        do not match the config (units, cell), or a weight is NaN or infinite;
        the message names the file and the array.
    """
    directory = Path(directory)
    if directory.is_file():
        from .web import read_adder_json

        return read_adder_json(directory)
    config = read_config(directory)
    model_cfg = config["model"]
    cell = model_cfg.get("cell", "gru")
    path = directory / WEIGHTS_NAME
    if not path.is_file():
        raise ModelFileError(f"{path} is missing")
    arrays = _read_arrays(path, cell)
    units = model_cfg["units"]
    if np.shape(arrays["V"]) != (units,):
        raise ModelFileError(f"{path} does not match its config: the config says {units} "
                             f"units, the weights have {np.shape(arrays['V'])[0]}")
    for name, array in arrays.items():
        if not np.all(np.isfinite(array)):
            raise ModelFileError(f"{path}: the weight {name} holds NaN or infinite values; "
                                 "a model cannot compute with them")
    try:
        return AdderWeights(cell, arrays, dtype=model_cfg["dtype"],
                            readout=model_cfg.get("readout", "logit"), init=model_cfg["init"],
                            info=config.get("info", {}))
    except ArgumentError as exc:
        raise ModelFileError(f"{path} does not match its config ({exc})") from None


def load_pretrained() -> AdderWeights:
    """The weights of the model bundled with the package (the ``small`` recipe)."""
    with resources.as_file(PRETRAINED_DIR) as path:
        return load(path)
