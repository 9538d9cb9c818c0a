"""evaluate() draws and scores its random sums a chunk at a time: the same scores as one
batch from random_batch(), with memory that does not grow with the count."""

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import gru_tutorial.evaluate as evaluate_module
from gru_tutorial.data import random_batch
from gru_tutorial.engine import NUMBA_MAX_BATCH
from gru_tutorial.evaluate import EvalResult, _chunk_bounds, evaluate, score_batch


def one_batch(model, bits, count, seed):
    """The scores as evaluate() computed them before it worked in chunks: one batch."""
    batch = random_batch(count, bits, seed)
    exact, correct = score_batch(model, batch)
    return EvalResult(float(exact.mean()), float(correct.mean()), bits, count)


class NoCarry:
    """A stand-in model that adds without carrying: wrong wherever a carry comes in, so
    its scores depend on every bit of every sum (and it needs no TensorFlow)."""

    units = 3

    def predict_bits(self, x):
        x = np.asarray(x)
        return ((x[..., 0] > 0.5) ^ (x[..., 1] > 0.5)).astype(np.uint8)


@pytest.fixture(scope="module")
def wrong():
    return NoCarry()


@pytest.mark.parametrize("bits, count, seed", [
    (1, 1, 0), (1, 5, 1), (1, 333, 2), (2, 100, 3), (3, 17, 4), (7, 61, 5), (62, 40, 6),
    (63, 40, 7), (64, 21, 8), (100, 50, 9), (257, 18, 10),
])
def test_chunks_give_the_scores_of_one_batch(monkeypatch, wrong, bits, count, seed):
    expected = one_batch(wrong, bits, count, seed)
    assert evaluate(wrong, bits, count, seed) == expected  # default chunks: mostly one
    for chunk in (1, 50, 1000):  # hidden-state values per chunk: many chunks, uneven ends
        monkeypatch.setattr(evaluate_module, "_EVAL_CHUNK", chunk)
        assert evaluate(wrong, bits=bits, count=count, seed=seed) == expected, chunk
    if count > 1:  # the model is wrong on some sums: the scores depend on the bits drawn
        assert 0.0 < expected.bit_accuracy < 1.0 and expected.exact_accuracy < 1.0


def test_default_chunks_cross_a_boundary(wrong):
    count = 1_000_000  # two chunks of 2-step sums for a 3-unit model
    assert len(_chunk_bounds(wrong, count, 1)) == 2
    assert evaluate(wrong, bits=1, count=count, seed=11) == one_batch(wrong, 1, count, 11)


def test_a_generator_is_advanced_as_random_batch_advances_it(monkeypatch, wrong):
    monkeypatch.setattr(evaluate_module, "_EVAL_CHUNK", 100)
    ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
    for bits, count in [(3, 7), (10, 33), (1, 1)]:
        assert evaluate(wrong, bits, count, ours) == one_batch(wrong, bits, count, theirs)
        assert ours.integers(0, 1 << 30) == theirs.integers(0, 1 << 30)


@pytest.mark.parametrize("count, bits, units", [
    (1, 1, 3), (16, 10**6, 3), (17, 10**6, 3), (33, 10**6, 3), (34, 10**6, 3), (40, 10**5, 16),
    (10**6, 1, 3), (5, 4, 1024), (10**5, 100, 1),
])
def test_chunk_bounds(count, bits, units):
    model = type("Model", (), {"units": units})()
    bounds = _chunk_bounds(model, count, bits)
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [stop - start for start, stop in bounds]
    assert all(size >= 1 for size in sizes)
    if count > NUMBA_MAX_BATCH:  # the NumPy engine runs the loop the whole batch would run
        assert all(size > NUMBA_MAX_BATCH for size in sizes)
    if len(sizes) > 1:  # otherwise about 4 million hidden-state values per chunk
        assert max(sizes) * (bits + 1) * units <= max(1 << 22, (2 * NUMBA_MAX_BATCH + 1)
                                                      * (bits + 1) * units)


def test_memory_does_not_grow_with_the_count(wrong):
    # one batch of 2**21 two-step sums takes over 100 MiB (inputs, targets, operand
    # lists, predictions); in chunks, evaluate() needs a fraction of that
    count = 1 << 21
    tracemalloc.start()
    try:
        result = evaluate(wrong, bits=1, count=count, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.count == count
    assert peak < 40 << 20, f"peak {peak / 2**20:.0f} MiB"


# -- the command line's worst cases, under the memory its help promises -------------------

# the command in a child whose address space is capped (no preexec_fn: this process has
# threads); numba and TensorFlow reserve far more address space than they use, so this
# suits the numpy engine on many short sums, which stay on the NumPy loop
CAPPED = """import os, resource, runpy, sys
limit = int(os.environ["GRU_TEST_AS_LIMIT"])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["gru-tutorial"] + sys.argv[1:]
runpy.run_module("gru_tutorial", run_name="__main__")
"""


@pytest.mark.slow
def test_eval_of_many_sums_under_an_address_space_limit(tmp_path):
    # one batch of 2**22 one-bit sums needed over 768 MiB (exit 1: not enough memory)
    env = dict(os.environ, GRU_TEST_AS_LIMIT=str(768 << 20), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CAPPED, "eval", "--json", "--bits", "1",
                           "--count", str(1 << 22)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert json.loads(proc.stdout)["exact_accuracy"] == 1.0

# The peak resident memory of this process's own address space (VmHWM, in KiB). Not
# getrusage's ru_maxrss: on Linux that survives execve, so a child of a large pytest process
# would report at least the size of its parent.
MEASURED = """import re, runpy, sys
sys.argv = ["gru-tutorial"] + sys.argv[1:]
try:
    runpy.run_module("gru_tutorial", run_name="__main__")
finally:
    status = open("/proc/self/status").read()
    print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
"""


def peak_mib(*argv):
    """Run the command; its exit status, stdout and peak resident memory (MiB)."""
    proc = subprocess.run([sys.executable, "-c", MEASURED, *argv], capture_output=True,
                          text=True, timeout=900)
    *messages, peak_kib = proc.stderr.splitlines()
    return proc.returncode, proc.stdout, int(peak_kib) / 1024, messages


def help_limit_mib(engine):
    """The memory the help of `eval` promises for the engine, in MiB."""
    from gru_tutorial.cli import _EVAL_MEMORY_GIB, build_parser

    limit = _EVAL_MEMORY_GIB[engine]
    shown = " ".join(build_parser()._subparsers._group_actions[0].choices["eval"]
                     .format_help().split())
    assert f"{limit} GiB" in shown  # the number the test holds the command to is in --help
    return limit * 1024


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["numpy", "tf"])
@pytest.mark.parametrize("bits, count", [(1, 1 << 25), (1000, 67_000), ((1 << 26) - 1, 1)])
def test_eval_worst_cases_stay_within_the_help(engine, bits, count):
    status, out, peak, messages = peak_mib("eval", "--json", "--engine", engine,
                                           "--bits", str(bits), "--count", str(count))
    assert status == 0, messages
    assert json.loads(out) == {"exact_accuracy": 1.0, "bit_accuracy": 1.0, "bits": bits,
                               "count": count}
    assert peak < help_limit_mib(engine), f"{peak:.0f} MiB"
