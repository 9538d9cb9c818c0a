"""Tests of gru_tutorial.inside: traces, probes, ablations, the automaton, the hand-built GRU."""

import random

import numpy as np
import pytest
from reference import bits_of, carries_of, int_of

from gru_tutorial.adder import AdderWeights
from gru_tutorial.checks import ArgumentError
from gru_tutorial.inside import (
    FULL_ADDER,
    ablate,
    collect_states,
    extract_automaton,
    fit_probe,
    hand_built_weights,
    to_model,
    trace,
)
from gru_tutorial.verify import gates, logits


@pytest.fixture(scope="module")
def bundled(pretrained):
    return AdderWeights.from_model(pretrained)


@pytest.fixture(scope="module")
def sample(bundled):
    return collect_states(bundled, count=200, bits=60, seed=0)


@pytest.fixture(scope="module")
def carry_probe(sample):
    return fit_probe(sample.h, sample.carry_out)


# -- trace ---------------------------------------------------------------------------------

def test_trace_all_ones_plus_one(pretrained, bundled):
    a, b = 2**10 - 1, 1
    tr = trace(pretrained, a, b)
    steps = 11
    for key in ("a", "b", "sum", "carry", "predicted", "logit"):
        assert tr[key].shape == (steps,), key
    for key in ("z", "r", "h_tilde", "h"):
        assert tr[key].shape == (steps, 3), key
    assert tr["a"].tolist() == bits_of(a, steps) and tr["b"].tolist() == bits_of(b, steps)
    assert tr["sum"].tolist() == bits_of(a + b, steps) == [0] * 10 + [1]
    assert tr["carry"].tolist() == carries_of(a, b, steps) == [1] * 10 + [0]
    assert (tr["predicted"] == tr["sum"]).all()
    assert int_of(tr["predicted"]) == a + b == pretrained.add(a, b)
    # the trace is the float64 model, step by step
    h = np.zeros((1, 3))
    for t in range(steps):
        g = gates(bundled, h, np.array([[tr["a"][t], tr["b"][t]]], dtype=np.float64))
        for key in ("z", "r", "h_tilde", "h"):
            np.testing.assert_array_equal(tr[key][t], g[key][0])
        h = g["h"]
    np.testing.assert_allclose(tr["logit"], logits(bundled, tr["h"]))
    assert ((tr["z"] > 0) & (tr["z"] < 1)).all() and (np.abs(tr["h"]) < 1).all()


def test_trace_random_sums(bundled):
    rng = random.Random(3)
    for _ in range(10):
        a, b = rng.getrandbits(rng.randint(1, 80)), rng.getrandbits(rng.randint(1, 80))
        tr = trace(bundled, a, b)
        steps = max(a.bit_length(), b.bit_length()) + 1
        assert len(tr["sum"]) == steps
        assert int_of(tr["predicted"]) == a + b
        assert tr["carry"].tolist() == carries_of(a, b, steps)
    tr = trace(bundled, 0, 0)
    assert len(tr["sum"]) == 1 and tr["predicted"].tolist() == [0]
    tr = trace(bundled, 3, 1, steps=8)  # longer than needed: zeros after the sum
    assert tr["sum"].tolist() == bits_of(4, 8) and int_of(tr["predicted"]) == 4


@pytest.mark.parametrize("args,kwargs", [
    ((-1, 2), {}), ((2, -1), {}), ((1.5, 2), {}), (("3", 2), {}), ((True, 2), {}),
    ((7, 1), {"steps": 3}), ((7, 1), {"steps": 0}), ((7, 1), {"steps": 4.0}),
])
def test_trace_bad_arguments(bundled, args, kwargs):
    with pytest.raises(ArgumentError):
        trace(bundled, *args, **kwargs)


def test_trace_needs_a_model():
    with pytest.raises(ArgumentError):
        trace(object(), 1, 2)


# -- collect_states --------------------------------------------------------------------------

def test_collect_states_shapes(sample):
    n = 200 * 61
    assert sample.steps == 61
    assert sample.h.shape == (n, 3)
    for key in ("a", "b", "carry_in", "carry_out", "sum_bit"):
        assert getattr(sample, key).shape == (n,), key
        assert set(np.unique(getattr(sample, key))) <= {0, 1}


def test_collect_states_agree_with_integer_addition(sample, bundled):
    s = sample.steps
    for i in (0, 1, 57, 199):
        rows = slice(i * s, (i + 1) * s)
        a, b = int_of(sample.a[rows]), int_of(sample.b[rows])
        assert sample.a[rows][-1] == sample.b[rows][-1] == 0  # room for the last carry
        assert sample.sum_bit[rows].tolist() == bits_of(a + b, s)
        carries = carries_of(a, b, s)
        assert sample.carry_out[rows].tolist() == carries
        assert sample.carry_in[rows].tolist() == [0, *carries[:-1]]
        # and the states are the model's, run from h_0 = 0 on this sum
        tr = trace(bundled, a, b, steps=s)
        np.testing.assert_allclose(sample.h[rows], tr["h"], rtol=0, atol=1e-12)
    # mixed densities: long carry chains occur
    assert sample.carry_out.reshape(200, s).sum(1).max() > 20


def test_collect_states_is_seeded(bundled):
    one = collect_states(bundled, count=5, bits=10, seed=4)
    two = collect_states(bundled, count=5, bits=10, seed=4)
    three = collect_states(bundled, count=5, bits=10, seed=5)
    np.testing.assert_array_equal(one.h, two.h)
    assert not np.array_equal(one.a, three.a)


def test_collect_states_clamp(bundled):
    s = collect_states(bundled, count=10, bits=20, seed=0, clamp={1: 0.25})
    assert (s.h[:, 1] == 0.25).all()
    assert not (s.h[:, 0] == s.h[0, 0]).all()


@pytest.mark.parametrize("kwargs", [
    {"count": 0}, {"bits": 0}, {"count": 1.5}, {"bits": "10"}, {"count": True},
    {"count": 100_000, "bits": 1000}, {"clamp": {3: 0.0}}, {"clamp": {-1: 0.0}},
    {"clamp": {0.5: 0.0}},
])
def test_collect_states_bad_arguments(bundled, kwargs):
    with pytest.raises(ArgumentError):
        collect_states(bundled, **kwargs)


# -- probes ----------------------------------------------------------------------------------

def test_carry_probe_is_perfect(sample, carry_probe):
    assert carry_probe.train_accuracy == 1.0 and carry_probe.test_accuracy == 1.0
    assert (carry_probe.predict(sample.h) == sample.carry_out).all()
    assert carry_probe.weights.shape == (3,) and np.isfinite(carry_probe.weights).all()


def test_sum_bit_probe_reads_the_readout(sample):
    probe = fit_probe(sample.h, sample.sum_bit)
    assert probe.test_accuracy == 1.0


def test_probe_of_random_labels_is_at_chance(sample):
    labels = np.random.default_rng(9).integers(0, 2, len(sample.h))
    probe = fit_probe(sample.h, labels)
    assert 0.45 < probe.test_accuracy < 0.55
    assert probe.train_accuracy < 0.6


def test_probe_of_the_input_bits_is_imperfect(sample):
    # a alone is not linearly readable from the state (a + b is, roughly): a weaker probe
    probe = fit_probe(sample.h, sample.a)
    assert probe.test_accuracy < 0.9


@pytest.mark.parametrize("h,target", [
    (np.zeros((10, 3)), np.zeros(9)), (np.zeros(10), np.zeros(10)),
    (np.zeros((3, 3)), np.zeros(3)), (np.zeros((10, 3)), np.full(10, 2)),
    (np.zeros((10, 3)), np.full(10, 0.5)), (np.zeros((10, 3)), np.zeros((10, 1))),
])
def test_fit_probe_bad_arguments(h, target):
    with pytest.raises(ArgumentError):
        fit_probe(h, target)


# -- ablation ----------------------------------------------------------------------------------

def test_ablate_nothing_is_the_intact_model(bundled):
    assert ablate(bundled, []) == {"exact_accuracy": 1.0, "bit_accuracy": 1.0}


@pytest.mark.parametrize("value", [0.0, "mean"])
def test_every_unit_is_needed(bundled, value):
    for unit in range(3):
        result = ablate(bundled, [unit], value=value)
        assert result["exact_accuracy"] < 0.5, (unit, result)
        assert result["bit_accuracy"] < 0.99
    assert ablate(bundled, [0, 1, 2])["exact_accuracy"] < 0.5


@pytest.mark.parametrize("units,value", [([3], 0.0), ([-1], 0.0), ([0.0], 0.0),
                                         ([0], "median"), ([0], True), ([0], None),
                                         ([0], [0.0])])
def test_ablate_bad_arguments(bundled, units, value):
    with pytest.raises(ArgumentError):
        ablate(bundled, units, value=value)


# -- the automaton -----------------------------------------------------------------------------

def test_full_adder_table():
    assert len(FULL_ADDER) == 8
    for (c, a, b), (carry, bit) in FULL_ADDER.items():
        assert 2 * carry + bit == a + b + c


def test_bundled_model_is_a_full_adder(bundled, carry_probe, sample):
    auto = extract_automaton(bundled, carry_probe, sample)
    assert auto["matches_full_adder"] is True
    assert auto["deterministic"] is True
    assert auto["table"] == FULL_ADDER
    assert sum(sum(v.values()) for v in auto["counts"].values()) == len(sample.h)
    assert all(len(v) == 1 for v in auto["counts"].values())


def test_broken_readout_is_not_a_full_adder(bundled, carry_probe, sample):
    broken = bundled.replace(V=-bundled.V, c=-bundled.c)
    auto = extract_automaton(broken, carry_probe, sample)
    assert auto["matches_full_adder"] is False
    # the carry is intact, every output bit is flipped
    assert {k: v[0] for k, v in auto["table"].items()} == {k: v[0] for k, v in FULL_ADDER.items()}
    assert all(auto["table"][k][1] != FULL_ADDER[k][1] for k in FULL_ADDER)


def test_random_probe_does_not_give_a_full_adder(bundled, sample):
    labels = np.random.default_rng(9).integers(0, 2, len(sample.h))
    auto = extract_automaton(bundled, fit_probe(sample.h, labels), sample)
    assert auto["matches_full_adder"] is False
    assert auto["deterministic"] is False


def test_broken_dynamics_are_not_a_full_adder(bundled):
    broken = bundled.replace(U_h=-bundled.U_h)
    s = collect_states(broken, count=200, bits=60, seed=0)
    probe = fit_probe(s.h, s.carry_out)
    auto = extract_automaton(broken, probe, s)
    assert not (auto["matches_full_adder"] and auto["deterministic"])


# -- the hand-built GRU ------------------------------------------------------------------------

def test_hand_built_weights():
    w = hand_built_weights()
    assert w.units == 2 and w.dtype == "float32"
    assert (w.U_h[1] == 0).all() and (w.W_h[0] == w.W_h[1]).all()


def test_hand_built_gru_adds_in_float64():
    w = hand_built_weights()
    rng = random.Random(5)
    for _ in range(20):
        a, b = rng.getrandbits(200), rng.getrandbits(150)
        assert int_of(trace(w, a, b)["predicted"]) == a + b
    s = collect_states(w, count=100, bits=50, seed=2)
    assert ((logits(w, s.h) > 0) == (s.sum_bit == 1)).all()
    probe = fit_probe(s.h, s.carry_out)
    assert probe.test_accuracy == 1.0
    assert extract_automaton(w, probe, s)["matches_full_adder"]
    # unit 0 is the carry, about +-1
    assert (np.sign(s.h[:, 0]) == 2 * s.carry_out - 1).all()


def test_hand_built_gru_adds_in_tensorflow():
    model = to_model(hand_built_weights())
    assert model.units == 2 and model.dtype == "float32"
    rng = random.Random(6)
    a = [rng.getrandbits(rng.randint(1, 1000)) for _ in range(20)]
    b = [rng.getrandbits(rng.randint(1, 1000)) for _ in range(20)]
    a += [2**1000 - 1, 0, 2**999]
    b += [1, 0, 2**999]
    assert model.add_many(a, b) == [p + q for p, q in zip(a, b, strict=True)]
    ones = 2**100_000 - 1
    assert model.add(ones, 1) == ones + 1


def test_to_model_round_trips_the_weights(bundled):
    back = AdderWeights.from_model(to_model(bundled))
    for name in ("W_z", "W_r", "W_h", "U_z", "U_r", "U_h", "b_z", "b_r", "b_h", "V"):
        np.testing.assert_array_equal(getattr(back, name), getattr(bundled, name))
    assert back.c == bundled.c and back.dtype == bundled.dtype
    w64 = hand_built_weights().replace(dtype="float64")
    assert to_model(w64).dtype == "float64"


def test_badly_tuned_hand_built_gru_is_wrong():
    # a soft carry unit (gain 1 instead of 20) forgets the carry: the reasoning needs gain
    w = hand_built_weights(sharpness=1.0)
    wrong = [(a, b) for a, b in ((2**30 - 1, 1), (2**40 - 1, 2**40 - 1))
             if int_of(trace(w, a, b)["predicted"]) != a + b]
    assert wrong


@pytest.mark.parametrize("kwargs", [
    {"sharpness": 0.0}, {"sharpness": -1.0}, {"sum_gain": 0}, {"saturation": -3},
    {"sharpness": float("nan")}, {"sum_gain": float("inf")}, {"saturation": float("-inf")},
])
def test_hand_built_weights_bad_arguments(kwargs):
    with pytest.raises(ArgumentError):
        hand_built_weights(**kwargs)


@pytest.mark.parametrize("value", ["abc", None, [1.0, 2.0], object()])
def test_hand_built_weights_non_numbers(value):
    with pytest.raises(ArgumentError, match="must be numbers"):
        hand_built_weights(sharpness=value)
