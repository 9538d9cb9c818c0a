import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import bits_of, carries_of, carry_chains_of, int_of

from gru_tutorial.bits import BitsError
from gru_tutorial.data import (
    SEED_BITS,
    SEED_EXAMPLES,
    carries,
    carry_chains,
    encode_pairs,
    longest_carry_chain,
    random_batch,
    seed_dataset,
)


def check_batch(batch, batch_size, bits):
    """Shapes, dtypes, and that every row decodes (independently) to a, b and a + b."""
    assert batch.x.shape == (batch_size, bits + 1, 2)
    assert batch.y.shape == (batch_size, bits + 1, 1)
    assert batch.x.dtype == np.float32 and batch.y.dtype == np.float32
    assert len(batch) == batch_size == len(batch.a) == len(batch.b)
    assert set(np.unique(batch.x)) <= {0.0, 1.0}
    assert set(np.unique(batch.y)) <= {0.0, 1.0}
    for i, (a, b) in enumerate(zip(batch.a, batch.b, strict=True)):
        assert type(a) is int and type(b) is int
        assert 0 <= a < 2**bits and 0 <= b < 2**bits
        assert int_of(batch.x[i, :, 0]) == a
        assert int_of(batch.x[i, :, 1]) == b
        assert int_of(batch.y[i, :, 0]) == a + b
        # the extra step holds no operand bit, only (possibly) the final carry
        assert batch.x[i, bits].tolist() == [0.0, 0.0]
        assert batch.y[i, bits, 0] == (a + b) >> bits
    assert batch.sums == [a + b for a, b in zip(batch.a, batch.b, strict=True)]


@settings(max_examples=60, deadline=None)
@given(batch_size=st.integers(1, 12), bits=st.integers(1, 62), seed=st.integers(0, 2**32),
       mixed=st.booleans())
def test_random_batch_invariants_fast_path(batch_size, bits, seed, mixed):
    check_batch(random_batch(batch_size, bits, seed, mixed_density=mixed), batch_size, bits)


@settings(max_examples=30, deadline=None)
@given(batch_size=st.integers(1, 6), bits=st.integers(63, 400), seed=st.integers(0, 2**32),
       mixed=st.booleans())
def test_random_batch_invariants_big_path(batch_size, bits, seed, mixed):
    check_batch(random_batch(batch_size, bits, seed, mixed_density=mixed), batch_size, bits)


@pytest.mark.parametrize("bits", [1, 2, 61, 62, 63, 64, 130])
@pytest.mark.parametrize("mixed", [False, True])
def test_random_batch_boundaries(bits, mixed):
    check_batch(random_batch(50, bits, 7, mixed_density=mixed), 50, bits)


def test_fast_path_handles_largest_sums():
    # 62-bit operands near the top: sums need 63 bits, the carry lands in the last step
    batch = random_batch(400, 62, 3, mixed_density=True)
    check_batch(batch, 400, 62)
    assert any((a + b) >> 62 for a, b in zip(batch.a, batch.b, strict=True))


@pytest.mark.parametrize("bits", [10, 62, 100])
@pytest.mark.parametrize("mixed", [False, True])
def test_random_batch_seeded_reproducibility(bits, mixed):
    one = random_batch(20, bits, 42, mixed_density=mixed)
    two = random_batch(20, bits, np.random.default_rng(42), mixed_density=mixed)
    other = random_batch(20, bits, 43, mixed_density=mixed)
    assert np.array_equal(one.x, two.x) and np.array_equal(one.y, two.y)
    assert one.a == two.a and one.b == two.b
    assert (one.a, one.b) != (other.a, other.b)


def test_random_batch_uniform_bits_look_uniform():
    batch = random_batch(500, 40, 0)
    mean = batch.x[:, :40].mean()
    assert 0.47 < mean < 0.53


def test_mixed_density_gives_long_carry_chains():
    # with a random density of ones per operand, runs of ones (long carries) are common;
    # with uniform bits a 30-bit run of ones is essentially impossible
    def longest_run(n):
        return max(len(r) for r in bin(n)[2:].split("0"))

    mixed = random_batch(500, 60, 1, mixed_density=True)
    uniform = random_batch(500, 60, 1)
    assert max(longest_run(a) for a in mixed.a) >= 30
    assert max(longest_run(a) for a in uniform.a) < 30


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_random_batch_rejects_bad_sizes(bad):
    with pytest.raises(ValueError):
        random_batch(bad, 5)
    with pytest.raises(ValueError):
        random_batch(5, bad)


@given(n=st.integers(1, 300), data=st.data())
def test_encode_pairs_default_width_has_room_for_final_carry(n, data):
    # two operands whose longer one has exactly n bits -> n + 1 steps
    a = data.draw(st.integers(2 ** (n - 1), 2**n - 1))
    b = data.draw(st.integers(0, 2**n - 1))
    a, b = data.draw(st.permutations([a, b]))
    batch = encode_pairs([a], [b])
    assert batch.x.shape == (1, n + 1, 2)
    assert batch.y[0, :, 0].tolist() == bits_of(a + b, n + 1)
    assert batch.x[0, :, 0].tolist() == bits_of(a, n + 1)
    assert batch.x[0, :, 1].tolist() == bits_of(b, n + 1)


def test_encode_pairs_examples():
    # 3 + 1 = 4: 11 + 01 -> 001 (LSB first), three steps for two 2-bit numbers
    batch = encode_pairs([3], [1])
    assert batch.x[0].tolist() == [[1, 1], [1, 0], [0, 0]]
    assert batch.y[0, :, 0].tolist() == [0, 0, 1]
    assert encode_pairs([0], [0]).x.shape == (1, 1, 2)
    # a batch is as wide as its longest operand needs
    assert encode_pairs([1, 2**40], [0, 5]).x.shape == (2, 42, 2)


@given(a=st.integers(0, 2**200), b=st.integers(0, 2**200), extra=st.integers(0, 20))
def test_encode_pairs_width_rules(a, b, extra):
    needed = max(1, (a + b).bit_length())
    batch = encode_pairs([a], [b], width=needed + extra)
    assert batch.y.shape == (1, needed + extra, 1)
    assert int_of(batch.y[0, :, 0]) == a + b
    if needed > 1:
        with pytest.raises(BitsError, match="width"):
            encode_pairs([a], [b], width=needed - 1)


@pytest.mark.parametrize("a, b", [([1, 2], [3]), ([], []), ([-1], [2]), ([1.0], [2]),
                                  ([True], [1]), (["1"], [1])])
def test_encode_pairs_rejects(a, b):
    with pytest.raises(ValueError):
        encode_pairs(a, b)


def test_encode_pairs_rejects_zero_width():
    with pytest.raises(ValueError):
        encode_pairs([0], [0], width=0)


def test_seed_dataset():
    batch = seed_dataset(0)
    assert SEED_EXAMPLES == 100 and SEED_BITS == 5
    assert batch.x.shape == (100, 5, 2) and batch.y.shape == (100, 5, 1)
    assert batch.x.dtype == np.float32
    assert all(0 <= v <= 14 for v in batch.a + batch.b)
    # with 100 draws from 0..14 we see (nearly) the whole range
    assert min(batch.a) == 0 and max(batch.a) == 14
    for i, (a, b) in enumerate(zip(batch.a, batch.b, strict=True)):
        assert a + b < 2**5
        assert int_of(batch.x[i, :, 0]) == a and int_of(batch.x[i, :, 1]) == b
        assert int_of(batch.y[i, :, 0]) == a + b
    again = seed_dataset(0)
    assert again.a == batch.a and again.b == batch.b
    assert seed_dataset(1).a != batch.a


@pytest.mark.parametrize("bits", [0, 1])
def test_seed_dataset_rejects_too_few_bits(bits):
    with pytest.raises(ValueError):
        seed_dataset(0, bits=bits)


# -- carries and carry chains ------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(a=st.integers(0, 2**70), b=st.integers(0, 2**70), extra=st.integers(0, 3))
def test_carries_and_chains_match_integer_reference(a, b, extra):
    batch = encode_pairs([a], [b])
    width = batch.x.shape[1]
    padded = encode_pairs([a], [b], width=width + extra)
    for x, w in ((batch, width), (padded, width + extra)):
        assert carries(x)[0].tolist() == carries_of(a, b, w)
        assert carry_chains(x)[0].tolist() == carry_chains_of(a, b, w)
        assert longest_carry_chain(x)[0] == max(carry_chains_of(a, b, w))


def test_carries_give_the_sum_bits():
    batch = random_batch(300, 40, 7, mixed_density=True)
    c = carries(batch)
    carry_in = np.concatenate([np.zeros((len(c), 1), dtype=np.int64), c[:, :-1]], axis=1)
    assert np.array_equal((batch.x[..., 0] + batch.x[..., 1] + carry_in) % 2, batch.y[..., 0])


@pytest.mark.parametrize(("a", "b", "chains"), [
    (7, 1, [0, 1, 2, 3]),          # generated at step 1, passed on by steps 2 and 3
    (3, 1, [0, 1, 2]),
    (15, 15, [0, 1, 1, 1, 1]),     # every step generates afresh: no chain longer than 1
    (0, 0, [0]),
    (5, 2, [0, 0, 0, 0]),          # 101 + 010: no carry at all
    (12, 4, [0, 0, 0, 1, 2]),      # generated at step 3
])
def test_carry_chain_examples(a, b, chains):
    assert carry_chains(encode_pairs([a], [b]))[0].tolist() == chains


@pytest.mark.parametrize("n", [1, 2, 5, 16, 100])
def test_longest_possible_chain_is_n(n):
    # (2**n - 1) + 1 carries from the lowest bit through all n bits
    assert longest_carry_chain(encode_pairs([2**n - 1], [1]))[0] == n
    everything = random_batch(2000, n, 3, mixed_density=True)
    assert longest_carry_chain(everything).max() <= n


def test_chain_probability_is_a_power_of_one_half():
    # uniform bits: a chain of length >= k arrives at a position far from the start
    # with probability 2**-k (generated k steps back, then k - 1 steps passing it on)
    chains = carry_chains(random_batch(20_000, 40, 11))[:, 20:]
    for k in (1, 2, 3, 4, 6):
        assert abs((chains >= k).mean() - 2.0**-k) < 0.1 * 2.0**-k


def test_carry_functions_take_arrays_and_batches():
    batch = encode_pairs([7, 2], [1, 2])
    assert np.array_equal(carry_chains(batch), carry_chains(batch.x))
    assert np.array_equal(carry_chains(batch.x.astype(int).tolist()), carry_chains(batch))
    assert carry_chains(np.zeros((3, 0, 2))).shape == (3, 0)
    assert longest_carry_chain(np.zeros((3, 0, 2))).tolist() == [0, 0, 0]


@pytest.mark.parametrize("bad", [np.zeros((2, 3)), np.zeros((2, 3, 3)), np.full((1, 2, 2), 2.0),
                                 np.full((1, 2, 2), 0.5), [["a", "b"]], "0101"])
def test_carry_functions_reject_bad_input(bad):
    for fn in (carries, carry_chains, longest_carry_chain):
        with pytest.raises(BitsError, match="x must"):
            fn(bad)


@pytest.mark.parametrize("bits", [63, 64, 71, 72, 79, 1000])
@pytest.mark.parametrize("mixed", [False, True])
def test_big_path_is_encode_pairs(bits, mixed):
    """The long-operand path builds exactly the batch encode_pairs makes from its operands."""
    batch = random_batch(40, bits, 5, mixed_density=mixed)
    again = encode_pairs(batch.a, batch.b, width=bits + 1)
    assert np.array_equal(batch.x, again.x) and np.array_equal(batch.y, again.y)
    assert batch.x.dtype == again.x.dtype and batch.y.dtype == again.y.dtype


def test_big_path_with_the_longest_sums():
    ones = (1 << 100) - 1
    batch = random_batch(300, 100, 9, mixed_density=True)  # densities near 1 give all-ones
    check_batch(batch, 300, 100)
    assert any(a + b > ones for a, b in zip(batch.a, batch.b, strict=True))
