import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import int_of

from gru_tutorial import load_pretrained
from gru_tutorial.data import random_batch
from gru_tutorial.evaluate import (
    EvalResult,
    adversarial_pairs,
    evaluate,
    evaluate_adversarial,
    score_batch,
)
from gru_tutorial.model import BitAdder


def reference_scores(model, bits, count, seed):
    """Exact and bit accuracy computed independently with Python ints."""
    batch = random_batch(count, bits, seed)
    predicted = model.predict_bits(batch.x)
    exact, right_bits = 0, 0
    for row, s in zip(predicted, batch.sums, strict=True):
        exact += int_of(row) == s
        right_bits += sum(int(p) == (s >> i) & 1 for i, p in enumerate(row))
    return exact / count, right_bits / (count * (bits + 1))


@pytest.fixture(scope="module")
def untrained():
    return BitAdder(16, seed=0)


def test_evaluate_result_fields(untrained):
    result = evaluate(untrained, bits=30, count=50, seed=3)
    assert isinstance(result, EvalResult)
    assert result.bits == 30 and result.count == 50
    assert 0.0 <= result.exact_accuracy <= 1.0 and 0.0 <= result.bit_accuracy <= 1.0
    assert result.to_dict() == {"exact_accuracy": result.exact_accuracy,
                                "bit_accuracy": result.bit_accuracy, "bits": 30, "count": 50}


def test_untrained_model_scores_low(untrained):
    result = evaluate(untrained, bits=200, count=100, seed=0)
    assert result.exact_accuracy < 0.5
    assert result.bit_accuracy < 0.9
    exact, bit = reference_scores(untrained, 200, 100, 0)
    assert result.exact_accuracy == pytest.approx(exact)
    assert result.bit_accuracy == pytest.approx(bit)


def test_evaluate_matches_independent_count_on_partly_right_model(pretrained):
    # a slightly damaged model gets some sums right and some wrong: the scores
    # must agree with an independent count
    model = load_pretrained()
    model.cell.U_h.assign(model.cell.U_h.numpy() * 0.6)
    result = evaluate(model, bits=40, count=200, seed=1)
    assert 0.5 < result.bit_accuracy < 1.0
    exact, bit = reference_scores(model, 40, 200, 1)
    assert result.exact_accuracy == pytest.approx(exact)
    assert result.bit_accuracy == pytest.approx(bit)


def test_pretrained_exact_on_long_sums(pretrained):
    result = evaluate(pretrained, bits=2000, count=100, seed=0)
    assert result.exact_accuracy == 1.0 and result.bit_accuracy == 1.0
    assert result.bits == 2000 and result.count == 100


@given(bits=st.integers(2, 400))
def test_adversarial_pairs(bits):
    pairs = adversarial_pairs(bits)
    assert len(pairs) >= 5
    for a, b in pairs.values():
        assert 0 <= a < 2**bits and 0 <= b < 2**bits
        assert type(a) is int and type(b) is int
    values = set(pairs.values())
    assert (0, 0) in values
    assert (2**bits - 1, 1) in values
    assert (2**bits - 1, 2**bits - 1) in values
    # the longer operand really has `bits` bits
    assert max(max(a, b).bit_length() for a, b in values) == bits


@pytest.mark.parametrize("bits", [1, 0, -3, 2.0])
def test_adversarial_pairs_rejects(bits):
    with pytest.raises(ValueError):
        adversarial_pairs(bits)


def test_pretrained_passes_adversarial(pretrained):
    verdicts = evaluate_adversarial(pretrained, 300)
    assert verdicts.keys() == adversarial_pairs(300).keys()
    assert all(verdicts.values())
    for a, b in adversarial_pairs(300).values():
        assert pretrained.add(a, b) == a + b


def test_broken_model_is_detected():
    broken = load_pretrained()  # a fresh copy: the shared fixture stays intact
    broken.V.assign(np.zeros(broken.V.shape, np.float32))
    result = evaluate(broken, bits=50, count=100, seed=0)
    assert result.exact_accuracy < 1.0
    assert result.exact_accuracy < 0.1
    assert not all(evaluate_adversarial(broken, 50).values())


def test_score_batch(pretrained, untrained):
    batch = random_batch(20, 15, 4)
    exact, correct = score_batch(pretrained, batch)
    assert exact.shape == (20,) and correct.shape == (20, 16)
    assert exact.all() and correct.all()
    exact, correct = score_batch(untrained, batch)
    assert np.array_equal(exact, correct.all(axis=1))
    assert not exact.all()
