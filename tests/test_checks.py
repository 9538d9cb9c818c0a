import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from gru_tutorial.bits import BitsError
from gru_tutorial.checks import MAX_STEPS, ArgumentError, check_int, check_steps
from gru_tutorial.recipes import RECIPES, Recipe, get_recipe


@pytest.mark.parametrize("value", [0, 5, np.int64(7), np.uint8(3), 2**80])
def test_check_int_accepts_integers(value):
    assert check_int(value, "n") == int(value) and type(check_int(value, "n")) is int


@pytest.mark.parametrize("value", [True, np.bool_(True), 2.0, "3", None, [1], 1 + 0j])
def test_check_int_rejects_non_integers(value):
    with pytest.raises(ArgumentError, match=r"n must be an integer >= 0, got"):
        check_int(value, "n")


def test_check_int_range_and_message():
    assert check_int(4, "k", 1, 4) == 4
    with pytest.raises(ArgumentError, match=r"k must be an integer from 1 to 4, got 5"):
        check_int(5, "k", 1, 4)
    with pytest.raises(ArgumentError, match=r"got 0"):
        check_int(0, "k", 1)
    with pytest.raises(ArgumentError, match=r"a 1001-bit number"):  # no million-digit message
        check_int(2**1000, "k", 0, 10)
    with pytest.raises(BitsError):  # a module's own error class
        check_int(-1, "a", error=BitsError)


def test_errors_are_value_and_type_errors():
    assert issubclass(ArgumentError, ValueError) and issubclass(ArgumentError, TypeError)
    assert issubclass(BitsError, ArgumentError)


def test_check_steps():
    check_steps(1, MAX_STEPS, "x")
    with pytest.raises(ArgumentError, match=r"more than the limit of 67,108,864"):
        check_steps(2, MAX_STEPS, "count x steps")


# -- recipes check themselves ------------------------------------------------------------


def test_named_recipes_are_valid():
    for name, recipe in RECIPES.items():
        assert recipe.name == name and replace(recipe) == recipe
    assert get_recipe("fast") is RECIPES["fast"] and get_recipe(RECIPES["seed"]) is RECIPES["seed"]


@pytest.mark.parametrize("change", [
    {"units": 0}, {"units": 2000}, {"units": 4.0}, {"dtype": "float16"}, {"init": "zeros"},
    {"loss": "hinge"}, {"learning_rate": 0}, {"learning_rate": -1e-3},
    {"learning_rate": float("nan")}, {"learning_rate": "fast"}, {"batch_size": 0},
    {"train_bits": 0}, {"fixed_data": 1}, {"mixed_density": "yes"}, {"eval_bits": ()},
    {"eval_bits": (0,)}, {"eval_bits": "20"}, {"eval_bits": 20}, {"eval_count": 0},
    {"eval_adversarial": None}, {"max_steps": 0}, {"max_steps": 1.5}, {"name": ""},
    {"batch_size": 10**6, "train_bits": 10**3},  # 1e9 steps per batch: refused, not allocated
    {"eval_count": 10**5, "eval_bits": (10**5,)},
])
def test_replace_rechecks(change):
    with pytest.raises(ArgumentError):
        replace(RECIPES["fast"], **change)


def test_fixed_data_needs_the_seed_scheme_widths():
    with pytest.raises(ArgumentError, match="train_bits"):
        replace(RECIPES["seed"], train_bits=64)
    assert replace(RECIPES["seed"], train_bits=63).train_bits == 63


def test_eval_bits_become_a_tuple():
    recipe = replace(RECIPES["fast"], eval_bits=[30, 10])
    assert recipe.eval_bits == (30, 10) and isinstance(recipe, Recipe)
    hash(recipe)  # frozen and hashable


@pytest.mark.parametrize("bad", ["nope", 3, None])
def test_get_recipe_rejects(bad):
    with pytest.raises(ArgumentError):
        get_recipe(bad)


def test_command_line_and_recipes_do_not_import_tensorflow():
    code = ("import sys, gru_tutorial.cli, gru_tutorial.recipes, gru_tutorial.checks; "
            "gru_tutorial.cli.build_parser(); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
