import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import bits_of, int_of

from gru_tutorial.bits import BitsError, bits_needed, check_nonnegative_int, from_bits, to_bits
from gru_tutorial.checks import MAX_STEPS

big_ints = st.integers(min_value=0, max_value=2**5000)


def test_bits_error_is_a_value_error():
    assert issubclass(BitsError, ValueError)


@given(n=big_ints)
def test_round_trip_default_width(n):
    bits = to_bits(n)
    assert len(bits) == max(1, n.bit_length())
    assert from_bits(bits) == n


@given(n=big_ints, extra=st.integers(min_value=0, max_value=300))
def test_round_trip_with_width(n, extra):
    width = max(1, n.bit_length()) + extra
    bits = to_bits(n, width)
    assert bits.shape == (width,)
    assert bits.dtype == np.uint8
    assert from_bits(bits) == n


@given(n=st.integers(min_value=0, max_value=2**2000), extra=st.integers(0, 70))
def test_to_bits_is_lsb_first(n, extra):
    width = max(1, n.bit_length()) + extra
    bits = to_bits(n, width)
    assert bits.tolist() == bits_of(n, width)
    # padding beyond bit_length is zero
    assert not bits[n.bit_length():].any()


@given(bits=st.lists(st.integers(0, 1), max_size=3000))
def test_from_bits_matches_python_arithmetic(bits):
    assert from_bits(bits) == int_of(bits)
    assert from_bits(np.array(bits, dtype=np.float64)) == int_of(bits)
    assert from_bits(np.array(bits, dtype=bool)) == int_of(bits)


def test_small_examples():
    assert to_bits(6, 4).tolist() == [0, 1, 1, 0]
    assert to_bits(0).tolist() == [0]
    assert to_bits(1, 1).tolist() == [1]
    assert from_bits([0, 1, 1, 0]) == 6


def test_hundred_thousand_bits_round_trip():
    rng = np.random.default_rng(123)
    n = int("1" + "".join(rng.choice(["0", "1"], size=99_999)), 2)
    assert n.bit_length() == 100_000
    bits = to_bits(n)
    assert bits.shape == (100_000,)
    assert from_bits(bits) == n
    # spot-check positions against Python int arithmetic
    for i in rng.integers(0, 100_000, size=200):
        assert bits[i] == (n >> int(i)) & 1


@pytest.mark.parametrize("bad", [-1, -(2**100), True, False, 3.0, 0.5, math.nan, "3", None,
                                 [1], np.float64(2.0), np.bool_(True)])
def test_to_bits_rejects_non_integers(bad):
    with pytest.raises(ValueError) as info:
        to_bits(bad)
    assert isinstance(info.value, BitsError)
    assert "n" in str(info.value)


@pytest.mark.parametrize("n, width", [(8, 3), (1, 0), (0, 0), (255, 7), (2**100, 100)])
def test_to_bits_rejects_too_small_width(n, width):
    with pytest.raises(BitsError, match="width"):
        to_bits(n, width)


@pytest.mark.parametrize("width", [-1, 2.0, "4", True])
def test_to_bits_rejects_bad_width_type(width):
    with pytest.raises(BitsError, match="width"):
        to_bits(1, width)


@pytest.mark.parametrize("n", [np.int8(5), np.int64(2**62), np.uint64(2**64 - 1), np.uint8(0)])
def test_numpy_integers_accepted(n):
    python_n = int(n)
    assert to_bits(n).tolist() == bits_of(python_n, max(1, python_n.bit_length()))
    assert to_bits(5, np.int32(8)).tolist() == bits_of(5, 8)
    assert check_nonnegative_int(n) == python_n
    assert type(check_nonnegative_int(n)) is int


@pytest.mark.parametrize("bad", [[2], [0, 1, -1], [0.5], [1, math.nan], [[0, 1], [1, 0]],
                                 np.zeros((2, 2)), "0101", b"01", 5, None, ["0", "1"],
                                 [0, None], [[0], [1, 0]], np.array([1j])])
def test_from_bits_rejects(bad):
    with pytest.raises(ValueError) as info:
        from_bits(bad)
    assert isinstance(info.value, BitsError)
    assert "bits" in str(info.value)


def test_from_bits_empty_is_zero():
    assert from_bits([]) == 0
    assert from_bits(np.array([], dtype=np.uint8)) == 0


@given(n=st.integers(0, 2**300))
def test_bits_needed(n):
    assert bits_needed(n) == max(1, len(bin(n)) - 2)


# -- sizes beyond the limit are refused before anything is allocated ---------------------

# n with more bits than the limit: made once, outside the measured calls (8 MiB)
_HUGE_N = 1 << MAX_STEPS


@pytest.mark.parametrize("call, expected", [
    (lambda: to_bits(6, 10**12), "width"),
    (lambda: to_bits(6, 10**8), "width"),
    (lambda: to_bits(6, MAX_STEPS + 1), "width"),
    (lambda: to_bits(_HUGE_N), "limit"),
    (lambda: to_bits(_HUGE_N, 10**9), "width"),
    (lambda: from_bits(range(10**12)), "bits"),
    (lambda: from_bits(np.broadcast_to(np.uint8(1), (10**12,))), "bits"),
    (lambda: from_bits(np.broadcast_to(np.uint8(0), (MAX_STEPS + 1,))), "bits"),
], ids=["width=10**12", "width=10**8", "width=MAX+1", "n-over-limit", "both-over",
        "range(10**12)", "broadcast-10**12", "broadcast-MAX+1"])
def test_sizes_beyond_the_limit_are_refused_before_allocating(call, expected):
    tracemalloc.start()
    try:
        with pytest.raises(BitsError, match=expected) as info:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"{MAX_STEPS:,}" in str(info.value)
    assert peak < 1 << 20, f"{peak:,} bytes allocated before refusing"


def test_the_limit_itself_is_allowed():
    bits = to_bits(1, MAX_STEPS)
    assert bits.shape == (MAX_STEPS,) and bits[0] == 1 and not bits[1:].any()
    assert from_bits(np.broadcast_to(np.uint8(0), (MAX_STEPS,))) == 0
