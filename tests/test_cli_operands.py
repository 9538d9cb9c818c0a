"""`gru-tutorial add` operands from files (@FILE) and standard input (-), and --engine."""

import io
import json
import math
import os
import pty
import select
import subprocess
import sys
import time
import types

import numpy as np
import pytest
from test_cli import BIG_A, BIG_B, assert_usage_error, run

import gru_tutorial.cli
from gru_tutorial.checks import MAX_STEPS
from gru_tutorial.model import BitAdder
from gru_tutorial.saving import save_model


@pytest.fixture
def no_int_digit_limit():
    """Python refuses int <-> str beyond 4,300 digits by default; the tests compare long sums."""
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    yield
    sys.set_int_max_str_digits(old)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stdin(monkeypatch, text):
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def random_digits(rng, n):
    return str(rng.integers(1, 10)) + "".join(map(str, rng.integers(0, 10, n - 1)))


# -- operands that work -----------------------------------------------------------------


def test_two_files(cwd, capsys):
    (cwd / "a.txt").write_text("  123456789123456789\n\n")
    (cwd / "b.txt").write_text("\t987654321987654321 \r\n")
    status, out, err = run(["add", "@a.txt", "@b.txt"], capsys)
    assert (status, out, err) == (0, f"{BIG_A + BIG_B}\n", "")


def test_file_by_absolute_path_and_leading_zeros(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("000042")
    status, out, _ = run(["add", f"@{tmp_path / 'a.txt'}", "0000"], capsys)
    assert (status, out) == (0, "42\n")


@pytest.mark.parametrize("argv, expected", [
    (["add", "@a.txt", "7"], "12\n"), (["add", "7", "@a.txt"], "12\n"),
    (["add", "@a.txt", "@a.txt"], "10\n"),
])
def test_digits_and_file_mixed(cwd, capsys, argv, expected):
    (cwd / "a.txt").write_text("5\n")
    status, out, err = run(argv, capsys)
    assert (status, out, err) == (0, expected, "")


@pytest.mark.parametrize("text", ["5\n7\n", "5\n7", "  5  \n\n 7\n\n", "5\r\n7\r\n"])
def test_stdin(monkeypatch, capsys, text):
    stdin(monkeypatch, text)
    status, out, err = run(["add", "-"], capsys)
    assert (status, out, err) == (0, "12\n", "")


def test_stdin_long_operands(monkeypatch, capsys, no_int_digit_limit):
    a, b = 3**5000, 2**9000 - 1
    stdin(monkeypatch, f"{a}\n{b}\n")
    status, out, _ = run(["add", "-"], capsys)
    assert status == 0 and int(out) == a + b


def test_20000_digit_files(cwd, capsys, no_int_digit_limit):
    rng = np.random.default_rng(0)
    a, b = random_digits(rng, 20_000), random_digits(rng, 19_990)
    (cwd / "a.txt").write_text(f"\n{a}\n")
    (cwd / "b.txt").write_text(f" {b} ")
    status, out, err = run(["add", "@a.txt", "@b.txt"], capsys)
    assert status == 0, err
    assert out == f"{int(a) + int(b)}\n"
    # and the carry through every digit: 99...9 + 1
    (cwd / "a.txt").write_text("9" * 20_000)
    (cwd / "b.txt").write_text("1")
    status, out, _ = run(["add", "@a.txt", "@b.txt"], capsys)
    assert (status, out) == (0, "1" + "0" * 20_000 + "\n")


# a UTF-8 byte-order mark at the start, as Notepad and other Windows editors save it
BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("content", [BOM + b"12345", BOM + b"12345\r\n", BOM + b" 12345 \n"])
def test_file_with_a_byte_order_mark(cwd, capsys, content):
    (cwd / "a.txt").write_bytes(content)
    status, out, err = run(["add", "@a.txt", "1"], capsys)
    assert (status, out, err) == (0, "12346\n", "")
    status, out, err = run(["add", "7", "@a.txt"], capsys)
    assert (status, out, err) == (0, "12352\n", "")


def test_stdin_with_a_byte_order_mark(monkeypatch, capsys):
    # the bytes of standard input, as a real one gives them (sys.stdin.buffer)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BOM + b"5\r\n7\r\n")))
    status, out, err = run(["add", "-"], capsys)
    assert (status, out, err) == (0, "12\n", "")
    stdin(monkeypatch, "\ufeff5\n7\n")  # a text stand-in without .buffer
    status, out, err = run(["add", "-"], capsys)
    assert (status, out, err) == (0, "12\n", "")


def test_stdin_with_a_byte_order_mark_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gru_tutorial", "add", "-"],
                          input=BOM + b"123\n877\n", capture_output=True, timeout=120,
                          cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"1000\n", b"")


# -- progress on a terminal, for long operands -----------------------------------------------


@pytest.fixture
def low_status_threshold(monkeypatch):
    """Show the status from 10 digits instead of a million, so that the tests stay fast."""
    monkeypatch.setattr(gru_tutorial.cli, "_STATUS_MIN_DIGITS", 10)


def test_no_progress_when_stderr_is_not_a_terminal(capsys, low_status_threshold):
    status, out, err = run(["add", "123456789", "987654321"], capsys)
    assert (status, out, err) == (0, "1111111110\n", "")


@pytest.fixture
def terminal_stderr(monkeypatch):
    """Make sys.stderr a pseudo-terminal; returns a function that reads what was written.

    The test calls it once first, to attach the terminal (capsys replaces sys.stderr
    after the fixtures are set up), then again for what the terminal received.
    """
    master, slave = pty.openpty()
    stream = open(slave, "w", encoding="utf-8")  # closed below
    assert stream.isatty()

    def written():
        if sys.stderr is not stream:
            monkeypatch.setattr(sys, "stderr", stream)
            return ""
        stream.flush()
        data = b""
        while select.select([master], [], [], 0.2)[0]:
            data += os.read(master, 1 << 16)
        return data.decode()

    yield written
    stream.close()
    os.close(master)


def test_progress_on_a_terminal(capsys, low_status_threshold, terminal_stderr):
    terminal_stderr()
    status, out, _ = run(["add", "123456789", "987654321"], capsys)
    assert (status, out) == (0, "1111111110\n")
    shown = terminal_stderr()
    for step in ("converting 18 digits to binary", "loading the model",
                 "adding with the network (31 steps)", "converting the 31-bit sum to decimal"):
        assert f"gru-tutorial add: {step}..." in shown, shown
    assert shown.startswith("\r") and shown.endswith("\r\x1b[K")  # erased at the end
    assert "\n" not in shown


def test_no_progress_for_short_operands_on_a_terminal(capsys, terminal_stderr):
    terminal_stderr()
    status, out, _ = run(["add", "123456789", "987654321"], capsys)
    assert (status, out) == (0, "1111111110\n")
    assert terminal_stderr() == ""


def test_progress_is_erased_before_an_error(capsys, low_status_threshold, terminal_stderr,
                                            tmp_path):
    terminal_stderr()
    status, out, _ = run(["add", "123456789", "987654321", "--model",
                          str(tmp_path / "missing")], capsys)
    assert (status, out) == (2, "")
    shown = terminal_stderr()
    # the status is erased, then the error is the one line left on the terminal
    assert "loading the model" in shown
    assert shown.endswith("\r\x1b[K" + shown.rsplit("\r\x1b[K", 1)[1])
    error = shown.rsplit("\r\x1b[K", 1)[1]
    assert error.startswith("gru-tutorial add: error:") and "missing" in error, shown
    assert error.endswith("\n") and error.count("\n") == 1


@pytest.mark.slow
def test_progress_for_a_million_digits_in_a_real_terminal(tmp_path, no_int_digit_limit):
    rng = np.random.default_rng(1)
    (tmp_path / "a.txt").write_text(random_digits(rng, 600_000))
    (tmp_path / "b.txt").write_text(random_digits(rng, 500_000))
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gru_tutorial", "add", "@a.txt", "@b.txt"],
                            stdout=subprocess.PIPE, stderr=slave, cwd=tmp_path)
    os.close(slave)
    out = proc.stdout.read()
    assert proc.wait(timeout=300) == 0
    shown = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the terminal's other end is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert b"adding with the network" in shown and shown.endswith(b"\r\x1b[K")
    a, b = ((tmp_path / name).read_text() for name in ("a.txt", "b.txt"))
    assert int(out) == int(a) + int(b)


# -- --engine -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wrong_model(tmp_path_factory):
    """An untrained model with random weights: it adds wrongly, so both engines must agree
    on wrong answers, bit for bit, not just both print the right sum."""
    model = BitAdder(8, cell="gru", seed=3)
    rng = np.random.default_rng(3)
    for v in model.weights:
        v.assign(rng.normal(0.0, 1.0, tuple(v.shape)).astype(np.float32))
    return save_model(model, tmp_path_factory.mktemp("wrong"))


@pytest.mark.parametrize("operands", [("5", "7"), (str(BIG_A), str(BIG_B)),
                                      (str(3**500), str(7**300)), ("0", "0")])
def test_engine_tf_prints_the_same(capsys, operands, wrong_model):
    for model in ([], ["--model", str(wrong_model)]):
        outs = []
        for engine in ([], ["--engine", "numpy"], ["--engine", "tf"]):
            status, out, err = run(["add", *operands, *model, *engine], capsys)
            assert status == 0, err
            outs.append(out)
        assert outs[0] == outs[1] == outs[2], (model, outs)
        if not model:
            assert int(outs[0]) == int(operands[0]) + int(operands[1])


@pytest.mark.parametrize("command", [["add", "5", "7"], ["eval", "--bits", "5", "--count", "3"]])
@pytest.mark.parametrize("engine", [None, "numpy", "tf"])
def test_engine_option_picks_the_engine(monkeypatch, capsys, pretrained, command, engine):
    """Output alone cannot tell the engines apart: record which model gets built."""
    import gru_tutorial.engine
    from gru_tutorial.model import BitAdder

    used = []
    real = gru_tutorial.engine.NumpyAdder
    monkeypatch.setattr(gru_tutorial.engine, "NumpyAdder",
                        lambda weights: used.append("numpy") or real(weights))
    monkeypatch.setattr(BitAdder, "from_weights",
                        classmethod(lambda cls, weights: used.append("tf") or pretrained))
    status, _, err = run([*command, *(["--engine", engine] if engine else [])], capsys)
    assert status == 0, err
    assert used == [engine or "numpy"]


def test_wrong_model_is_really_wrong(capsys, wrong_model):
    status, out, _ = run(["add", str(3**500), str(7**300), "--model", str(wrong_model)], capsys)
    assert status == 0 and int(out) != 3**500 + 7**300


@pytest.mark.parametrize("model", ["bundled", "wrong"])
def test_eval_engines_agree(capsys, model, wrong_model):
    extra = [] if model == "bundled" else ["--model", str(wrong_model)]
    results = []
    for engine in ("numpy", "tf"):
        status, out, err = run(["eval", "--json", "--bits", "50", "--count", "20",
                                "--engine", engine, *extra], capsys)
        assert status == 0, err
        results.append(json.loads(out))
    assert results[0] == results[1]
    assert results[0]["bits"] == 50 and results[0]["count"] == 20
    if model == "bundled":
        assert results[0]["exact_accuracy"] == 1.0
    else:
        assert results[0]["bit_accuracy"] < 0.9  # the comparison is between wrong bits


# -- bad operands: exit 2, one line on stderr, nothing on stdout -----------------------------

FILES = {
    "letters.txt": b"12a4\n", "space.txt": b"12 34\n", "lines.txt": b"12\n34\n",
    "arabic.txt": "\u0661\u0662\u0663".encode(), "superscript.txt": "2\u00b2".encode(),
    "fullwidth.txt": "\uff11\uff12".encode(), "latin1.txt": b"12\xe934",
    "invalid-utf8.txt": b"\xff\xfe1\x002\x00", "nul.txt": b"12\x0034",
    "negative.txt": b"-5\n", "plus.txt": b"+5", "float.txt": b"1.5", "hex.txt": b"0x10",
    "empty.txt": b"", "blank.txt": b" \n\t\r\n", "bom-only.txt": b"\xef\xbb\xbf",
    "two-boms.txt": b"\xef\xbb\xbf\xef\xbb\xbf12", "bom-later.txt": b"1\xef\xbb\xbf2",
}


@pytest.fixture
def bad_files(cwd):
    for name, content in FILES.items():
        (cwd / name).write_bytes(content)
    (cwd / "a_dir").mkdir()
    (cwd / "ok.txt").write_text("5")
    return cwd


@pytest.mark.parametrize("argv, expected", [
    (["add", "@nope.txt", "5"], "nope.txt"),
    (["add", "5", "@nope.txt"], "nope.txt"),
    (["add", "@", "5"], "'@' must be followed by a file name"),
    (["add", "5", "@"], "'@' must be followed by a file name"),
    (["add", "@a_dir", "5"], "directory"),
    (["add", "@ok.txt", "@a_dir"], "directory"),
    *[(["add", f"@{name}", "@ok.txt"], name) for name in FILES],
    *[(["add", "@ok.txt", f"@{name}"], name) for name in FILES],
    (["add", "@empty.txt", "5"], "empty"),
    (["add", "-", "5"], "alone"),
    (["add", "5", "-"], "alone"),
    (["add", "-", "-"], "alone"),
    (["add", "-", "@ok.txt"], "alone"),
    (["add", "5"], "two operands"),
    (["add", "@ok.txt"], "two operands"),
    (["add", "5", "7", "--engine", "cuda"], "cuda"),
    (["add", "5", "7", "--engine", ""], "engine"),
    (["eval", "--engine", "cuda"], "cuda"),
    (["add", "\u0665", "7"], "\u0665"),
])
def test_bad_operands(bad_files, capsys, argv, expected):
    err = assert_usage_error(argv, capsys)
    assert expected in err
    assert err.startswith("gru-tutorial")


@pytest.mark.parametrize("text, expected", [
    ("5\n", "got 1"), ("5\n7\n9\n", "got 3"), ("", "got 0"), ("\n\n  \n", "got 0"),
    ("5 7\n", "got 1"), ("5\nx\n", "'x'"), ("-5\n7\n", "'-5'"), ("5\n\u0667\n", "second"),
    ("5\n1.0\n", "second"), ("5\n7\n\x00\n", "got 3"),
])
def test_bad_stdin(monkeypatch, capsys, text, expected):
    stdin(monkeypatch, text)
    err = assert_usage_error(["add", "-"], capsys)
    assert expected in err


def test_stdin_not_read_when_dash_is_combined(monkeypatch, capsys):
    stdin(monkeypatch, "5\n7\n")
    assert_usage_error(["add", "-", "5"], capsys)
    assert sys.stdin.read() == "5\n7\n"


def test_stdin_with_undecodable_bytes_surrogateescape(monkeypatch, capsys):
    # what Python's stdin gives under the C / C.UTF-8 locale or in UTF-8 mode
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff5\n7\n"),
                                                       encoding="utf-8", errors="surrogateescape"))
    err = assert_usage_error(["add", "-"], capsys)
    assert "first operand" in err


def test_stdin_with_undecodable_bytes_strict(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff5\n7\n"),
                                                       encoding="utf-8", errors="strict"))
    assert_usage_error(["add", "-"], capsys)


# -- too large: refused quickly, before converting or loading anything ---------------------


@pytest.fixture
def nothing_heavy(monkeypatch):
    """Fail at once if the command gets as far as converting the digits (with GMP) or
    loading a model: the size must be refused before."""
    def fail(*args, **kwargs):
        pytest.fail("converted or loaded something for an operand that is too large")

    monkeypatch.setattr(gru_tutorial.cli, "_load", fail)
    monkeypatch.setitem(sys.modules, "gmpy2", types.SimpleNamespace(mpz=fail))


# the fewest digits whose smallest number, 10**(n-1), needs more than MAX_STEPS bits
TOO_MANY_DIGITS = math.ceil(MAX_STEPS / math.log2(10)) + 2


@pytest.mark.parametrize("where", ["file", "stdin", "argument"])
def test_operand_too_large_is_refused_quickly(cwd, monkeypatch, capsys, nothing_heavy, where):
    digits = "1" + "0" * (TOO_MANY_DIGITS - 1)
    assert (len(digits) - 1) * math.log2(10) > MAX_STEPS  # 10**(n-1) is over the limit
    if where == "file":
        (cwd / "big.txt").write_text(digits)
        argv = ["add", "@big.txt", "1"]
    elif where == "stdin":
        stdin(monkeypatch, f"1\n{digits}\n")
        argv = ["add", "-"]
    else:
        argv = ["add", "1", digits]
    start = time.perf_counter()
    err = assert_usage_error(argv, capsys)
    assert time.perf_counter() - start < 5
    assert "limit" in err and f"{MAX_STEPS:,}" in err
    assert len(err) < 300


def test_max_steps_digits_file_is_refused_quickly(cwd, capsys, nothing_heavy):
    # as many digits as there are steps in all: far beyond the limit in bits
    with open(cwd / "huge.txt", "wb") as f:
        block = b"7" * (1 << 20)
        for _ in range(MAX_STEPS // len(block)):
            f.write(block)
    try:
        assert (cwd / "huge.txt").stat().st_size == MAX_STEPS
        start = time.perf_counter()
        err = assert_usage_error(["add", "@huge.txt", "1"], capsys)
        assert time.perf_counter() - start < 10
        assert "limit" in err and "huge.txt" in err
    finally:
        (cwd / "huge.txt").unlink()  # 64 MiB: do not leave it in pytest's temporary folders


# the command in a child whose address space is capped at 2 GiB (no preexec_fn: this
# process has threads)
CAPPED = ("import resource, runpy; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
          "runpy.run_module('gru_tutorial', run_name='__main__')")


def test_huge_file_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(8 << 30)  # 8 GiB, sparse: no disk used; the child may use 2 GiB in all
    proc = subprocess.run([sys.executable, "-c", CAPPED, "add", f"@{big}", "1"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr[-500:]
    assert proc.returncode == 2, proc.stderr
