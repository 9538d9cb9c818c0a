import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import bits_of, int_of

from gru_tutorial.bits import BitsError
from gru_tutorial.data import random_batch
from gru_tutorial.model import XLA_MIN_STEPS, BitAdder


@pytest.mark.parametrize("a, b", [
    (0, 0),
    (3, 1),
    (1, 0),
    (0, 1),
    (123456789123456789, 987654321987654321),
    (2**1000 - 1, 1),
    (1, 2**1000 - 1),
    (2**999, 2**999),
    (2**500 + 3, 1),  # very different lengths
    (7, 2**777 - 12345),
    (0, 2**600 - 1),
])
def test_add_known_sums(pretrained, a, b):
    assert pretrained.add(a, b) == a + b


def test_add_example_from_docs(pretrained):
    assert pretrained.add(123456789123456789, 987654321987654321) == 1111111111111111110


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.integers(0, 2**300), b=st.integers(0, 2**300))
def test_add_hypothesis_pairs(pretrained, a, b):
    assert pretrained.add(a, b) == a + b


def test_add_many(pretrained):
    rng = np.random.default_rng(5)
    a = [int(v) for v in rng.integers(0, 2**40, size=20)] + [2**130 - 1]
    b = [int(v) for v in rng.integers(0, 2**40, size=20)] + [1]
    assert pretrained.add_many(a, b) == [p + q for p, q in zip(a, b, strict=True)]


def test_add_accepts_numpy_integers(pretrained):
    assert pretrained.add(np.int64(40), np.uint8(2)) == 42


@pytest.mark.parametrize("a, b", [(-1, 2), (2, -1), (1.0, 2), (2, 0.5), (True, 1), (1, False),
                                  ("1", 2), (None, 1), ([1], 1)])
def test_add_rejects_bad_operands(pretrained, a, b):
    with pytest.raises(ValueError) as info:
        pretrained.add(a, b)
    assert isinstance(info.value, BitsError)


@pytest.mark.parametrize("shape", [(5, 2), (1, 5, 3), (1, 5, 1), (0, 5, 2), (1, 0, 2), (2,),
                                   (1, 2, 5, 2)])
def test_predict_bits_rejects_bad_shapes(pretrained, shape):
    with pytest.raises(ValueError, match="shape"):
        pretrained.predict_bits(np.zeros(shape, np.float32))


def test_predict_bits_output(pretrained):
    batch = random_batch(30, 25, 9)
    bits = pretrained.predict_bits(batch.x)
    assert bits.shape == (30, 26) and bits.dtype == np.uint8
    for row, a, b in zip(bits, batch.a, batch.b, strict=True):
        assert row.tolist() == bits_of(a + b, 26)


def test_xla_and_plain_paths_agree(pretrained):
    batch = random_batch(40, 300, 11, mixed_density=True)
    plain = pretrained.predict_bits(batch.x, jit_compile=False)
    xla = pretrained.predict_bits(batch.x, jit_compile=True)
    assert plain.shape == xla.shape == (40, 301)
    assert np.array_equal(plain, xla)
    assert [int_of(row) for row in xla] == batch.sums


def test_default_path_switches_to_xla_for_long_sequences(pretrained):
    # a sum just past the XLA threshold: padded to a power of two and cropped back
    n = XLA_MIN_STEPS + 3
    a, b = 2**n - 1, 2**n - 1
    assert pretrained.add(a, b) == a + b


def test_untrained_model_shapes_and_logits():
    model = BitAdder(units=6, seed=0)
    assert model.units == 6
    x = random_batch(4, 10, 0).x
    logits = model(x).numpy()
    assert logits.shape == (4, 11, 1)
    # predicted bits are exactly "logit > 0"
    assert np.array_equal(model.predict_bits(x), (logits[..., 0] > 0).astype(np.uint8))
    assert model.get_config() == {"units": 6, "dtype": "float32", "init": "keras", "cell": "gru",
                                  "readout": "logit"}


@pytest.mark.parametrize("jit_compile", [False, True])
def test_threshold_is_logit_zero(jit_compile):
    # the readout's logit decides: just above 0 is a 1, just below (or at) 0 is a 0
    model = BitAdder(units=3, seed=0)
    model.V.assign(np.zeros((3, 1), np.float32))
    x = random_batch(2, 12, 0).x
    for c, bit in ((1e-4, 1), (-1e-4, 0), (0.0, 0)):
        model.c.assign(np.array([c], np.float32))
        assert (model.predict_bits(x, jit_compile=jit_compile) == bit).all()


def test_model_is_causal():
    """Changing late inputs never changes earlier outputs (what XLA padding relies on)."""
    model = BitAdder(units=8, seed=1)
    x = random_batch(3, 30, 2).x
    y = x.copy()
    y[:, 20:] = 1 - y[:, 20:]
    lx, ly = model(x).numpy(), model(y).numpy()
    assert np.array_equal(lx[:, :20], ly[:, :20])
    assert not np.array_equal(lx[:, 20:], ly[:, 20:])


@pytest.mark.parametrize("init", ["keras", "seed"])
def test_seeded_init_reproducible(init):
    one, two = BitAdder(8, init=init, seed=4), BitAdder(8, init=init, seed=4)
    for a, b in zip(one.weights, two.weights, strict=True):
        assert np.array_equal(a.numpy(), b.numpy())
    if init == "seed":  # truncated normal with std 0.01: every weight is small
        assert max(np.abs(w.numpy()).max() for w in one.weights) <= 0.02 + 1e-9


def test_rejects_unknown_init():
    with pytest.raises(ValueError, match="init"):
        BitAdder(4, init="nope")


def test_every_part_has_its_own_seed():
    from gru_tutorial.seeding import derive_seeds

    seeds = derive_seeds(5, 9)
    assert seeds == derive_seeds(5, 9) and len(set(seeds)) == 9
    assert not set(seeds) & set(derive_seeds(6, 9))
    model = BitAdder(units=16, init="seed", seed=5)  # same initializer for V and c
    assert model.c.numpy()[0] != model.V.numpy()[0, 0]
    firsts = [w.numpy().ravel()[0] for w in model.cell.weights]
    assert len(set(firsts)) == 9  # nine weights, nine different streams
