"""Shared fixtures for the gru_tutorial unit tests.

``gru_tutorial`` is imported here, before the test modules, so that its quiet-TensorFlow
environment variables are in place before TensorFlow is loaded.
"""

import pytest

import gru_tutorial  # noqa: F401  (before any test module loads TensorFlow)


@pytest.fixture(scope="session")
def pretrained():
    """The bundled model, loaded once. Tests must not modify it."""
    from gru_tutorial import load_pretrained

    return load_pretrained()


@pytest.fixture(scope="session")
def fast_seed0():
    """``train('fast', seed=0)``, run once and shared by the train and bundled-model tests."""
    from gru_tutorial.train import train

    return train("fast", seed=0, progress=False)


@pytest.fixture(scope="session")
def small_seed0():
    """``train('small', seed=0)``: how the bundled model is made; run once."""
    from gru_tutorial.train import train

    return train("small", seed=0, progress=False)
