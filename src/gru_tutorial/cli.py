"""The ``gru-tutorial`` command: add, train, evaluate and verify from the shell.

The examples of each command are in :data:`EXAMPLES`, which ``--help`` prints.
Every size is checked before anything is allocated: bad input is one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import codecs
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .checks import MAX_STEPS, ArgumentError, ModelFileError, check_int, check_steps
from .engine import ENGINES
from .recipes import CELLS, RECIPES

__all__ = ["main", "build_parser"]

_STARTED = time.perf_counter()  # this module's import, if the process's start is unknown


def _seconds_since_start() -> float:
    """Wall time since this process started (from /proc on Linux, to 10 ms), start-up included."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _STARTED

EXAMPLES = {
    "add": ["gru-tutorial add 3 1", "gru-tutorial add 123456789123456789 987654321987654321",
            "gru-tutorial add @a.txt @b.txt", "printf '5\\n7\\n' | gru-tutorial add -",
            "gru-tutorial add 5 7 --model my-model --engine tf"],
    "train": ["gru-tutorial train", "gru-tutorial train --recipe seed --seed 3 --out seed-model",
              "gru-tutorial train --cell lstm --out lstm-model",
              "gru-tutorial train --quiet --json"],
    "verify": ["gru-tutorial verify", "gru-tutorial verify --model my-model --json"],
    "eval": ["gru-tutorial eval", "gru-tutorial eval --bits 10000 --count 100 --json",
             "gru-tutorial eval --model my-model --bits 200 --seed 7"],
}
"""Each command's examples, shown by its --help (the first of each by the main --help)."""

_EVAL_MEMORY_GIB = {"numpy": 1.25, "tf": 9}
"""The most memory ``eval`` needs, by engine, as its --help says (measured worst cases:
0.94 GiB for one sum of 67 million steps with the numpy engine, any model; with the
bundled model, tf 7.8 GiB for that sum, 1 GiB for 33 million one-bit sums)."""


def _one_line(text: object) -> str:
    """``text`` with its line breaks escaped, so that an error message is one line."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see --help)\n")


def _integer(text: str, minimum: int) -> int:
    stripped = text.strip()
    if not stripped.isdigit() or not stripped.isascii():
        raise argparse.ArgumentTypeError(f"must be a whole number written in digits, got {text!r}")
    try:
        return check_int(int(stripped), "value", minimum)
    except ArgumentError:
        raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None


def operand(text: str) -> int:
    """An operand: a non-negative whole number in decimal digits (whitespace around allowed)."""
    return _integer(text, 0)


def _check_decimal(text: str, where: str) -> str:
    """The digits of ``text`` (whitespace around allowed), checked: digits only, not too many."""
    digits = text.strip()
    if not digits or not digits.isascii() or not digits.isdigit():
        shown = digits[:20] + ("..." if len(digits) > 20 else "")
        raise ArgumentError(f"{where} must be a non-negative whole number in decimal digits, "
                            f"got {shown!r}" if digits else f"{where} is empty")
    # d digits need at most ceil(d log2(10)) bits; refuse what cannot fit before converting
    check_steps(1, math.ceil(len(digits.lstrip("0")) * _BITS_PER_DIGIT) + 1, f"{where}: bits")
    return digits


def _decimal_value(digits: str) -> int:
    """The integer written by ``digits`` (checked by :func:`_check_decimal`).

    Uses GMP (through gmpy2, when installed) for long numbers: Python's own
    conversion takes time quadratic in the number of digits.
    """
    if len(digits) > 2000:
        try:
            import gmpy2

            return int(gmpy2.mpz(digits))
        except ImportError:
            pass
    return int(digits)


def _format_decimal(n: int) -> str:
    """``str(n)``, with GMP for long numbers (see :func:`_decimal_value`)."""
    if n.bit_length() > 6000:
        try:
            import gmpy2

            return gmpy2.mpz(n).digits()
        except ImportError:
            pass
    return str(n)


_BITS_PER_DIGIT = math.log2(10)
# The most characters an operand source may hold: the digits of the largest operand that
# fits in MAX_STEPS steps, plus room for whitespace. Checked before reading, so that
# `add @/dev/zero 1` is refused instead of filling the memory.
_MAX_OPERAND_CHARS = 2 * (math.ceil(MAX_STEPS / _BITS_PER_DIGIT) + 1) + (1 << 20)


def _decode(data: bytes, where: str) -> str:
    """The text of an operand source (any byte kept, for the digit check to name), or an error.

    A UTF-8 byte-order mark at the start (as some Windows editors save) is dropped.
    """
    if len(data) > _MAX_OPERAND_CHARS:
        raise ArgumentError(f"{where} is too long: more than {_MAX_OPERAND_CHARS:,} characters, "
                            f"beyond the limit of {MAX_STEPS:,} bits per operand")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return data.decode("latin-1")


def _read_operands(first: str, second: str | None) -> tuple[str, str]:
    """The digits of the two operands of ``add``, checked but not yet converted.

    Each is decimal digits, ``@FILE``, or ``-`` alone for both from standard input.
    """
    if first == "-" and second is None:  # both from standard input, one per line
        source = getattr(sys.stdin, "buffer", None)  # bytes; a StringIO stand-in has none
        data = source.read(_MAX_OPERAND_CHARS + 1) if source is not None \
            else sys.stdin.read(_MAX_OPERAND_CHARS + 1).encode("utf-8", "surrogateescape")
        text = _decode(data, "standard input")
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) != 2:
            raise ArgumentError(f"standard input must hold two operands, one per line, "
                                f"got {len(lines)} non-empty line(s)")
        return (_check_decimal(lines[0], "the first operand on standard input"),
                _check_decimal(lines[1], "the second operand on standard input"))
    if second is None:
        raise ArgumentError("give two operands (A B), or '-' alone to read both from "
                            "standard input")
    if "-" in (first, second):
        raise ArgumentError("'-' reads both operands from standard input: use it alone")
    return _operand_digits(first, "A"), _operand_digits(second, "B")


def _operand_digits(text: str, name: str) -> str:
    """One operand's digits, checked: given as digits, or ``@FILE`` holding the digits."""
    if not text.startswith("@"):
        return _check_decimal(text, name)
    path = Path(text[1:])
    if not text[1:]:
        raise ArgumentError(f"{name}: '@' must be followed by a file name")
    where = f"{name} (file {str(path)!r})"
    try:
        with open(path, "rb") as f:  # bounded read: /dev/zero or a huge file is refused
            data = f.read(_MAX_OPERAND_CHARS + 1)
    except FileNotFoundError:
        raise ArgumentError(f"{name}: no file {str(path)!r}") from None
    except IsADirectoryError:
        raise ArgumentError(f"{name}: {str(path)!r} is a directory, not a file") from None
    except OSError as exc:
        raise ArgumentError(f"{name}: cannot read {str(path)!r} ({exc.strerror})") from None
    return _check_decimal(_decode(data, where), where)


def positive(text: str) -> int:
    """A count or size: a whole number >= 1."""
    return _integer(text, 1)


def _epilog(*commands: str) -> str:
    lines = [EXAMPLES[c][0] for c in commands] if len(commands) > 1 else EXAMPLES[commands[0]]
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gru-tutorial`` command.

    Returns
    -------
    argparse.ArgumentParser
        Parser with the sub-commands ``add``, ``train``, ``eval`` and ``verify``.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="gru-tutorial", formatter_class=fmt,
        description="A GRU built from scratch in TensorFlow that has learned to add integers.",
        epilog=_epilog("add", "train", "eval")
        + "\nrun 'gru-tutorial COMMAND --help' for each command's options",
    )
    parser.add_argument("--version", action="version", version=f"gru-tutorial {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    # options shared by several commands, defined once
    model_opt = _Parser(add_help=False)
    model_opt.add_argument("--model", metavar="PATH",
                           help="saved model directory, or a weights .json file downloaded "
                                "from the book's page 'Train it' (default: the bundled model)")
    json_opt = _Parser(add_help=False)
    json_opt.add_argument("--json", action="store_true",
                          help="print one JSON object instead of text")

    def command(name: str, parents: list, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=parents, help=help, description=description,
                              epilog=_epilog(name), formatter_class=fmt)

    p = command("add", [model_opt], "add two non-negative integers with the network",
                "Add two non-negative integers of any size with the trained network "
                "(the model bundled with the package unless --model is given).")
    p.add_argument("a", metavar="A",
                   help="first operand: decimal digits, @FILE (a file holding the digits), "
                        "or - alone to read both operands from standard input, one per line")
    p.add_argument("b", metavar="B", nargs="?", help="second operand (digits or @FILE)")
    p.add_argument("--engine", choices=ENGINES, default="numpy",
                   help="numpy (default: the same equations without TensorFlow, fast to "
                        "start) or tf (the TensorFlow model)")

    p = command("train", [json_opt], "train a network and save it",
                "Train a bit adder until it is exact on its held-out sums (the seed "
                "recipe: for 5,000 iterations, as the original code), then save it. "
                "Prints the iterations taken and the wall time. Exit status 0 when the "
                "saved model is exact on its held-out sums, 1 when it is not (it is saved "
                "all the same, e.g. after --max-steps).")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="fast",
                   help="'fast' (default), 'small' (3 units, trained until verify proves "
                        "it, the bundled model's; exit 1 if not within its cap) or 'seed' "
                        "(the original tutorial's code: a linear output regressed onto the "
                        "bits, 5,000 iterations)")
    p.add_argument("--cell", choices=CELLS, metavar="CELL",
                   help="recurrent cell: " + ", ".join(CELLS) + " (default: the recipe's, "
                        "gru); gru-noreset is the GRU with its reset gate off, keras-gru "
                        "is keras.layers.GRU")
    p.add_argument("--seed", type=operand, default=0, help="random seed (default 0)")
    p.add_argument("--out", metavar="DIR", default="gru-model",
                   help="where to save the model (default: ./gru-model); checked before "
                        "training: it must be a new or empty directory that can be written")
    p.add_argument("--force", action="store_true",
                   help="save even if --out already holds a saved model or other files "
                        "(they are overwritten)")
    p.add_argument("--max-steps", type=positive, metavar="N",
                   help="train at most N steps (default: the recipe's limit; the seed recipe "
                        "always trains that many)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("eval", [model_opt, json_opt],
                "measure exact-sum and bit accuracy on random sums",
                "Measure exact-sum accuracy (every bit right) and bit accuracy on random "
                f"sums of two N-bit numbers (at most {MAX_STEPS:,} time steps in all: "
                "count x (bits + 1)). The sums are drawn and scored in chunks, so memory "
                "does not grow with --count: at most about "
                f"{_EVAL_MEMORY_GIB['numpy']} GiB with the numpy engine. The tf engine "
                "holds every step of a sum at once: up to about "
                f"{_EVAL_MEMORY_GIB['tf']} GiB for the longest sums with the bundled model, "
                "more for a --model with more units.")
    p.add_argument("--bits", type=positive, default=1000, help="bits per operand (default 1000)")
    p.add_argument("--count", type=positive, default=1000,
                   help="number of random sums (default 1000)")
    p.add_argument("--seed", type=operand, default=0, help="seed of the random sums (default 0)")
    p.add_argument("--engine", choices=ENGINES, default="numpy",
                   help="numpy (default) or tf: which implementation runs the network")

    p = command("verify", [model_opt, json_opt],
                "prove that the network adds correctly at every length",
                "Search for a certificate (boxes in state space, checked with interval "
                "arithmetic) proving that the network gets every bit of every sum of every "
                "length right. Exit status 0 when certified, 1 when not.")
    p.add_argument("--max-history", type=positive, default=6, metavar="K",
                   help="try graphs of the last 1..K input pairs (1 to 8, default 6; "
                        "4^K boxes and time grow fast)")
    return parser


def _load_weights(directory: str | None):
    """The weights of the bundled model, or of the model saved in ``directory`` (checked)."""
    from .adder import load, load_pretrained

    return load_pretrained() if directory is None else load(directory)


def _load(directory: str | None, engine: str):
    """The model for ``engine``: the bundled one unless ``directory`` is given."""
    weights = _load_weights(directory)  # checked before TensorFlow is imported
    if engine == "numpy":
        from .engine import NumpyAdder

        return NumpyAdder(weights)
    from .model import BitAdder

    return BitAdder.from_weights(weights)


_STATUS_MIN_DIGITS = 1_000_000
"""``add`` shows its progress on a terminal from this many operand digits (a second or more)."""


class _Status:
    """A one-line status on stderr, rewritten at each step, then erased; terminals only.

    Shown only when ``stream`` is a terminal: pipes, files and tests get nothing.
    """

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.on = self.shown = False

    def start(self, wanted: bool) -> None:
        """Show the status from now on if ``wanted`` and the stream is a terminal."""
        try:
            self.on = wanted and self.stream.isatty()
        except (AttributeError, OSError, ValueError):  # no isatty, or closed
            self.on = False

    def show(self, text: str) -> None:
        """Replace the line with ``text``."""
        if self.on:
            self.stream.write(f"\r\x1b[Kgru-tutorial add: {text}...")
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        """Erase the line (before the result or an error is printed)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _cmd_add(args: argparse.Namespace) -> int:
    status = _Status()
    try:
        digits_a, digits_b = _read_operands(args.a, args.b)
        status.start(len(digits_a) + len(digits_b) >= _STATUS_MIN_DIGITS)
        status.show(f"converting {len(digits_a) + len(digits_b):,} digits to binary")
        a, b = _decimal_value(digits_a), _decimal_value(digits_b)
        steps = max(a.bit_length(), b.bit_length()) + 1
        check_steps(1, steps, "operand bits + 1")
        status.show("loading the model")
        model = _load(args.model, args.engine)
        status.show(f"adding with the network ({steps:,} steps)")
        total = model.add(a, b)
        status.show(f"converting the {total.bit_length():,}-bit sum to decimal")
        text = _format_decimal(total)
    finally:
        status.clear()
    print(text)
    return 0


def _check_out(out: str, force: bool) -> None:
    """Refuse an ``--out`` that training could not save to, before training starts.

    It must be a directory, or not exist yet below a directory; one that holds a saved
    model or other files needs ``force``; and files must be creatable where they go.
    """
    path, where = Path(out), None
    try:
        if path.is_dir():
            if not force and any(path.iterdir()):
                from .saving import CONFIG_NAME, WEIGHTS_NAME

                if any((path / name).exists() for name in (CONFIG_NAME, WEIGHTS_NAME)):
                    raise ArgumentError(f"--out {out} already holds a saved model: use --force "
                                        "to overwrite it, or another --out")
                raise ArgumentError(f"--out {out} is a non-empty directory: use --force to save "
                                    "into it all the same, or another --out")
            where = path
        elif path.exists() or path.is_symlink():
            raise ArgumentError(f"--out {out} exists and is not a directory")
        else:  # saving creates the missing directories below the nearest existing one
            where = path.parent
            while not where.exists() and where != where.parent:
                where = where.parent
            if not where.is_dir():
                raise ArgumentError(f"--out {out}: {where} is not a directory")
        with tempfile.TemporaryFile(dir=where):  # can files be created there?
            pass
    except OSError as exc:
        place = f"cannot create files in {where}" if where is not None else "cannot check it"
        raise ArgumentError(f"--out {out}: {place} ({exc.strerror or exc})") from None


def _cmd_train(args: argparse.Namespace) -> int:
    _check_out(args.out, args.force)  # before TensorFlow loads and training starts
    from .saving import save_model
    from .train import train

    result = train(args.recipe, seed=args.seed, max_steps=args.max_steps, cell=args.cell,
                   progress=not (args.quiet or args.json))
    cell = result.recipe.cell
    proven = result.recipe.stop == "proven"
    info = {"recipe": args.recipe, "cell": cell, "seed": args.seed,
            "iterations": result.iterations,
            "converged": result.converged, "converged_at": result.converged_at,
            "evaluation": {str(k): v.to_dict() for k, v in result.evaluation.items()}}
    if proven:
        info["certified_at"] = result.certified_at
        info["restarts"] = result.restarts
    out = save_model(result.model, args.out, info=info)
    # the stopping rule: exact on every held-out set (still so after any extra steps), and
    # for a recipe that stops when proven, a certificate
    exact = result.converged and all(v.exact_accuracy == 1.0 for v in result.evaluation.values())
    ok = exact and (result.certified_at is not None or not proven)
    status = 0 if ok else 1
    if not exact:
        print(f"gru-tutorial train: the model is not exact on its held-out sums (exit status 1); "
              f"it was saved to {out} all the same", file=sys.stderr)
    elif not ok:
        print(f"gru-tutorial train: the model was not proven within {result.iterations} "
              f"iterations (exit status 1); it was saved to {out} all the same",
              file=sys.stderr)
    if args.json:
        print(json.dumps({"iterations": result.iterations, "seconds": round(result.seconds, 3),
                          "exact_accuracy": result.exact_accuracy, "converged": result.converged,
                          "converged_at": result.converged_at, "exact": exact,
                          **({"certified_at": result.certified_at} if proven else {}),
                          "recipe": args.recipe, "cell": cell, "seed": args.seed,
                          "out": str(out),
                          "evaluation": info["evaluation"]}))
        return status
    widths = ", ".join(f"{v.bits}-bit" if isinstance(k, int) else f"{k} {v.bits}-bit"
                       for k, v in result.evaluation.items())
    extra = result.iterations - (result.converged_at or 0)
    if result.converged and proven:
        verdict = (f"proven at iteration {result.certified_at}" if result.certified_at
                   else f"not proven by iteration {result.iterations} (last attempt: "
                   f"{result.proof.failure if result.proof else 'none'})")
        if result.restarts:
            verdict += f", after {result.restarts} restart{'s' * (result.restarts > 1)}"
        print(f"exact on held-out {widths} sums after {result.converged_at} iterations; "
              f"{verdict} ({result.seconds:.1f} s)")
    elif result.converged and result.recipe.stop == "max-steps":
        print(f"exact on held-out {widths} sums after {result.converged_at} iterations; "
              f"trained on to the recipe's {result.iterations} ({result.seconds:.1f} s): "
              f"{'still exact' if exact else 'no longer exact'}")
    elif result.converged and extra:
        exact = all(v.exact_accuracy == 1.0 for v in result.evaluation.values())
        print(f"exact on held-out {widths} sums after {result.converged_at} iterations, "
              f"then {extra} more ({result.iterations} in {result.seconds:.1f} s): "
              f"{'still exact' if exact else 'no longer exact'}")
    elif result.converged:
        print(f"exact on held-out {widths} sums after {result.iterations} iterations "
              f"in {result.seconds:.1f} s")
    else:
        print(f"not exact after {result.iterations} iterations ({result.seconds:.1f} s): "
              f"exact accuracy {result.exact_accuracy:.4f} on held-out {widths} sums")
    print(f"saved model to {out}")
    return status


def _cmd_eval(args: argparse.Namespace) -> int:
    check_steps(args.count, args.bits + 1, "--count x (--bits + 1)")
    from .evaluate import evaluate

    result = evaluate(_load(args.model, args.engine), bits=args.bits, count=args.count,
                      seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"{args.count} random sums of two {args.bits}-bit numbers: "
              f"exact accuracy {result.exact_accuracy:.4f}, bit accuracy {result.bit_accuracy:.6f}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    check_int(args.max_history, "--max-history", 1, 8)
    from .verify import verify

    weights = _load_weights(args.model)
    result = verify(weights, max_history=args.max_history)  # NumPy only
    seconds = _seconds_since_start()  # the whole command, start-up included
    if args.json:
        print(json.dumps(result.to_dict() | {"seconds": round(seconds, 3)}))
    elif result.certified:
        from .verify import covers

        print(f"certified: the model adds correctly at every length, {covers(weights)} "
              f"(certificate of {result.boxes} boxes, last {result.history} input pairs; "
              f"margin {result.margin:.3g} from the readout's threshold; {seconds:.1f} s)")
    else:
        print(f"not certified ({seconds:.1f} s, up to {result.boxes} boxes): "
              f"{result.failure}")
    return 0 if result.certified else 1


def _stdout_closed() -> int:
    """Point standard output at the null device, so that the flush at exit has no error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # stdout is not a file (e.g. in tests)
        pass
    return 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success (for ``verify``: certified; 1 when not; for ``train``: the
        model is exact on its held-out sums; 1 when not), 2 on bad input (with a
        one-line message on stderr), 1 when the system refuses (e.g. not enough
        memory), 130 on Ctrl-C, and 141 (128 + SIGPIPE, the status a shell
        shows for a tool that SIGPIPE ended) without a message when standard
        output is closed early, as by ``| head``.
    """
    sys.set_int_max_str_digits(0)  # operands and sums may have millions of digits
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"add": _cmd_add, "train": _cmd_train, "eval": _cmd_eval, "verify": _cmd_verify}
    try:
        status = commands[args.command](args)
        sys.stdout.flush()  # so that a closed pipe shows here, not at the interpreter's exit
        return status
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        return _stdout_closed()
    except (ArgumentError, ModelFileError) as exc:  # bad input, named in the message
        print(f"gru-tutorial {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"gru-tutorial {args.command}: error: not enough memory", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. --out names an unwritable place
        print(f"gru-tutorial {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"gru-tutorial {args.command}: interrupted", file=sys.stderr)
        return 130
