"""The trained adder for the book's web page: its weights as a JavaScript file.

The page "Try it" (``book/try_it.md``) adds two numbers with the network in the
reader's browser: ``book/_static/gru-net32.js`` runs the four GRU equations in
float32 (``Math.fround``), on weights that this module exports from a saved
model. The page "Train it" (``book/train_it.md``) trains a network in the browser
and offers its weights for download in the same layout, a ``.json`` file that
:func:`read_adder_json` reads back (``gru-tutorial add --model FILE.json``).
The book's Sphinx extension ``book/_ext/gru_adder.py`` calls
:func:`write_adder_js` on every build, so the site always carries the bundled
model's weights and nobody copies numbers by hand.

Every weight is written as the shortest decimal that reads back as the same
double, and that double is the float32 weight exactly (a float32 widens to a
double without rounding), so the page computes with the very numbers of the
saved model.

Like :mod:`gru_tutorial.adder`, which reads the weights (``h5py``), this module
imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .adder import AdderWeights, load, load_pretrained, weight_names
from .checks import MAX_UNITS, ArgumentError, ModelFileError

__all__ = ["export_adder", "adder_js", "write_adder_js", "parse_adder_js", "read_adder_json",
           "WEB_FORMAT_VERSION", "JS_GLOBAL", "JS_NAME", "WEIGHT_NAMES"]

WEB_FORMAT_VERSION = 1
"""Version of the exported layout; the page refuses weights of another version."""

JS_GLOBAL = "GRU_ADDER"
"""The file assigns the exported dict to ``window.GRU_ADDER``."""

JS_NAME = "gru-adder-weights.js"
"""File name of the weights in the built site's ``_static/`` folder."""

WEIGHT_NAMES = (*weight_names("gru"), "V", "c")
"""The exported arrays, for the cell ``'gru'``: the nine cell weights and the readout."""

_INFO_KEYS = ("recipe", "seed", "converged_at", "iterations")
_JS_PREFIX = f"window.{JS_GLOBAL} = "


def _exact(value: np.float32) -> float:
    """A float32 as the Python float (double) of exactly the same value."""
    x = float(np.float32(value))
    if not math.isfinite(x):
        raise ArgumentError(f"weights must be finite to run in the page, got {x}")
    return x


def _nested(array: np.ndarray) -> list:
    """A float32 array as nested lists of exact floats (rows of a matrix, or a vector)."""
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        return [_exact(v) for v in array]
    return [_nested(row) for row in array]


def _export_model(model: AdderWeights, source: str) -> dict:
    """The dict :func:`export_adder` returns, for a loaded model."""
    if model.cell != "gru":
        raise ArgumentError(
            f"the web page runs the cell 'gru' only, but this model's cell is {model.cell!r}; "
            "export a model trained with cell='gru' (the bundled model is one)")
    if model.readout != "logit":
        raise ArgumentError(f"the web page reads each bit from a logit, but this model's readout "
                            f"is {model.readout!r}")
    if model.dtype != "float32":
        raise ArgumentError(f"the web page computes in float32, but this model's dtype is "
                            f"{model.dtype!r}")
    # the readout as the model keeps it: V (units, 1), c (1,)
    shaped = {"V": model.V[:, None], "c": model.c[None]}
    weights = {name: _nested(shaped.get(name, model.arrays.get(name)))
               for name in WEIGHT_NAMES}
    info = model.info or {}
    return {
        "format_version": WEB_FORMAT_VERSION,
        "cell": model.cell,
        "units": model.units,
        "dtype": "float32",
        "source": {"model": source, **{k: info.get(k) for k in _INFO_KEYS}},
        "weights": weights,
    }


def export_adder(directory: str | Path | None = None) -> dict:
    """A saved GRU adder as a JSON-ready dict, for the page "Try it".

    Parameters
    ----------
    directory : str or Path, optional
        A model saved by :func:`gru_tutorial.saving.save_model`; by default
        the model bundled with the package.

    Returns
    -------
    dict
        ``format_version`` (:data:`WEB_FORMAT_VERSION`), ``cell`` (``'gru'``),
        ``units``, ``dtype`` (``'float32'``), ``source`` (``model``: ``'bundled'``
        or the directory's name, and ``recipe``, ``seed``, ``converged_at``,
        ``iterations`` from the saved ``info``, None where missing) and
        ``weights``: :data:`WEIGHT_NAMES` as nested lists of Python floats,
        ``W_*`` (2, units), ``U_*`` (units, units), ``b_*`` (units,), ``V``
        (units, 1) and ``c`` (1,). Each float equals its float32 weight exactly.

    Raises
    ------
    ArgumentError
        If the model's cell is not ``'gru'``, its readout not ``'logit'`` or its dtype
        not ``'float32'`` (the page computes a float32 GRU and reads logits).
    ModelFileError
        If the directory does not hold a readable saved model.
    """
    if directory is None:
        return _export_model(load_pretrained(), "bundled")
    directory = Path(directory)
    return _export_model(load(directory), directory.name)


def adder_js(directory: str | Path | None = None) -> str:
    """The JavaScript file the page loads: ``window.GRU_ADDER = {...};``.

    Parameters
    ----------
    directory : str or Path, optional
        As for :func:`export_adder`.

    Returns
    -------
    str
        One comment line, then the assignment of :func:`export_adder`'s dict
        as JSON, ending in a newline.
    """
    payload = json.dumps(export_adder(directory), sort_keys=True, allow_nan=False)
    return ("// Generated at build time by gru_tutorial.web (book/_ext/gru_adder.py); "
            "do not edit.\n" f"{_JS_PREFIX}{payload};\n")


def parse_adder_js(text: str) -> dict:
    """The dict inside a file written by :func:`write_adder_js` (for tests and checks).

    Parameters
    ----------
    text : str
        The file's contents.

    Returns
    -------
    dict
        The exported dict, as :func:`export_adder` returned it.

    Raises
    ------
    ArgumentError
        If the text is not such a file.
    """
    lines = [line for line in text.splitlines() if not line.startswith("//")]
    body = "\n".join(lines).strip()
    if not (body.startswith(_JS_PREFIX) and body.endswith(";")):
        raise ArgumentError(f"not a weights file of gru_tutorial.web: expected "
                            f"'{_JS_PREFIX}{{...}};'")
    try:
        return json.loads(body[len(_JS_PREFIX):-1])
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"the weights file holds invalid JSON: {exc}") from None


def write_adder_js(path: str | Path, directory: str | Path | None = None) -> Path:
    """Write :func:`adder_js` to ``path`` (parent folders are created).

    Parameters
    ----------
    path : str or Path
        The file to write, e.g. ``_build/html/_static/gru-adder-weights.js``.
    directory : str or Path, optional
        As for :func:`export_adder`.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    text = adder_js(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


_SOURCE_KEYS = (*_INFO_KEYS, "model", "restarts", "trained_in")


def _array(value: object, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A nested list of numbers of ``shape`` as float64, every value finite and a float32."""
    if not isinstance(value, list):
        raise ModelFileError(f"{where} must be a list of numbers, got {type(value).__name__}")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFileError(f"{where} must hold numbers only, in rows of equal length") from None
    if array.shape != shape or any(isinstance(v, bool) for v in np.ravel(np.array(value, object))):
        raise ModelFileError(f"{where} must be numbers of shape {shape}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ModelFileError(f"{where} holds NaN or infinite values; a model cannot compute "
                             "with them")
    rounded = array.astype(np.float32).astype(np.float64)
    if not np.array_equal(rounded, array):
        bad = tuple(int(i) for i in np.argwhere(rounded != array)[0])
        raise ModelFileError(f"{where}{list(bad)} = {array[bad]!r} is not a float32 number; the "
                             "page writes float32 weights exactly (round edited values with "
                             "numpy.float32)")
    return array


def read_adder_json(path: str | Path) -> AdderWeights:
    """The weights in a ``.json`` file of the page "Train it" (the layout of :func:`export_adder`).

    The file is what the page's download button saves: ``format_version``, ``cell``
    (``'gru'``), ``units``, ``dtype`` (``'float32'``), ``source`` (how it was trained)
    and ``weights`` as nested lists. :func:`gru_tutorial.adder.load` calls this for a
    file, so ``gru-tutorial add``, ``eval`` and ``verify`` take it as ``--model``.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    AdderWeights
        A float32 GRU with the logit readout; ``info`` holds the file's ``source``
        (recipe, seed, converged_at, iterations, ...).

    Raises
    ------
    ModelFileError
        If the file cannot be read, is not JSON, or is not such a file: the message
        names the key or weight that is wrong (a wrong format version, cell or dtype,
        a missing or extra weight, a wrong shape, a value that is not finite or not a
        float32 number).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path} is not JSON ({exc}); expected the weights file the page "
                             "'Train it' downloads") from None
    if not isinstance(data, dict) or "weights" not in data:
        raise ModelFileError(f"{path} is not a weights file of the page 'Train it' (no 'weights'); "
                             "a saved model is a directory with config.json")
    expected = {"format_version": WEB_FORMAT_VERSION, "cell": "gru", "dtype": "float32"}
    for key, value in expected.items():
        if data.get(key) != value:
            raise ModelFileError(f"{path}: {key} must be {value!r}, got {data.get(key)!r}")
    units = data.get("units")
    if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_UNITS:
        raise ModelFileError(f"{path}: units must be an integer from 1 to {MAX_UNITS}, "
                             f"got {units!r}")
    weights = data["weights"]
    if not isinstance(weights, dict) or set(weights) != set(WEIGHT_NAMES):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise ModelFileError(f"{path}: weights must be exactly {list(WEIGHT_NAMES)}, got {got}")
    shapes = {"W": (2, units), "U": (units, units), "b": (units,), "V": (units, 1), "c": (1,)}
    arrays = {name: _array(weights[name], shapes[name[0]], f"{path}: weight {name}")
              for name in WEIGHT_NAMES}
    arrays["V"], arrays["c"] = arrays["V"][:, 0], arrays["c"][0]
    source = data.get("source") or {}
    if not isinstance(source, dict):
        raise ModelFileError(f"{path}: source must be a JSON object, got {type(source).__name__}")
    info = {key: source[key] for key in _SOURCE_KEYS if key in source}
    return AdderWeights("gru", arrays, dtype="float32", readout="logit", init="keras", info=info)
