"""gru_tutorial: a Gated Recurrent Unit built from scratch in TensorFlow that learns to add.

The package behind the book in ``book/``. Modules:

``checks``    one argument checker, the errors, the size limits (no TensorFlow)
``recipes``   the ``seed``, ``fast`` and ``small`` training recipes (no TensorFlow)
``adder``     a trained adder's weights without TensorFlow, and the one loader
              of saved models (no TensorFlow)
``bits``      integers <-> reversed bitstrings
``data``      addition problems as bit sequences; carries and carry chains; a
              recipe's training batches and held-out sets
``cell``      the GRU cell from the four equations, and the bridge to Keras
``cells``     a plain RNN and an LSTM built the same way, Keras's GRU, ``make_cell``
``model``     the bit adder (cell over time + readout), ``BitAdder.add``
``train``     the training loop (``Trainer``, ``train()``, ``make_train_step``)
``evaluate``  exact and bit accuracy, ``evaluate()``, the held-out checks of training
``saving``    save a model, load it as a TensorFlow model
``seeding``   ``set_seed()`` for reproducible runs, ``derive_seeds()``
``exercises`` ``check_gru_step()`` and ``check_gru_run()``: checkers for the exercises
              in which you write a GRU step and the loop over time yourself
``inside``    traces, linear probes, ablation, the automaton, a hand-built GRU adder
``verify``    ``verify()``: a proof that a model adds correctly at every length
``gates``     the measurements of the chapter "Why gates?": how far the first input
              reaches, accuracy by length, the GRU's conventions and parameter counts
``engine``    ``NumpyAdder``: a saved model's forward pass without TensorFlow (NumPy, numba)
``compiled``  the engine's GRU loop, compiled by numba
``web``       the bundled model's weights as JavaScript, for the book's page "Try it"
``notebook``  ``show_source`` and ``load_results``, for the chapters
``cli``       the ``gru-tutorial`` command

Names are loaded lazily, so ``import gru_tutorial`` is quick and TensorFlow is
imported on first use. Before that, two environment variables are set (only if
not set already) to keep TensorFlow's C++ start-up log lines quiet:
``TF_CPP_MIN_LOG_LEVEL=3`` and ``TF_ENABLE_ONEDNN_OPTS=0``.

The functions ``train`` and ``evaluate`` live in the modules of the same name
(``from gru_tutorial.train import train``), which they would otherwise shadow.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"

_EXPORTS = {
    "ArgumentError": "checks", "ModelFileError": "checks", "AdderWeights": "adder",
    "BitsError": "bits", "from_bits": "bits", "to_bits": "bits",
    "GRUCell": "cell", "copy_keras_gru_weights": "cell", "from_keras_gru": "cell",
    "RecurrentCell": "cell",
    "RNNCell": "cells", "NoResetGRUCell": "cells", "LSTMCell": "cells", "KerasGRU": "cells",
    "make_cell": "cells",
    "copy_keras_simple_rnn_weights": "cells", "from_keras_simple_rnn": "cells",
    "copy_keras_lstm_weights": "cells", "from_keras_lstm": "cells", "CELLS": "recipes",
    "AdditionBatch": "data", "encode_pairs": "data", "random_batch": "data",
    "seed_dataset": "data", "carries": "data", "carry_chains": "data",
    "longest_carry_chain": "data",
    "EvalResult": "evaluate", "adversarial_pairs": "evaluate",
    "evaluate_adversarial": "evaluate",
    "BitAdder": "model",
    "load_model": "saving", "load_pretrained": "saving",
    "save_model": "saving",
    "set_seed": "seeding",
    "CheckReport": "exercises", "check_gru_run": "exercises", "check_gru_step": "exercises",
    "RECIPES": "recipes", "Recipe": "recipes",
    "TrainResult": "train", "Trainer": "train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
