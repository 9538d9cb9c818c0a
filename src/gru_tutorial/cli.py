"""The ``gru-tutorial`` command: add, train and evaluate from the shell.

Examples::

    gru-tutorial add 123456789123456789 987654321987654321
    gru-tutorial train --recipe fast --seed 0 --out my-model
    gru-tutorial eval --model my-model --bits 10000 --count 100 --json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]

_DIGITS = re.compile(r"\s*\d+\s*")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _operand(name: str):
    def parse(text: str) -> int:
        if not _DIGITS.fullmatch(text):
            raise argparse.ArgumentTypeError(
                f"{name} must be a non-negative whole number written in digits, got {text!r}")
        return int(text)

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def _count(name: str, minimum: int):
    def parse(text: str) -> int:
        if not _DIGITS.fullmatch(text) or int(text) < minimum:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer >= {minimum}, got {text!r}")
        return int(text)

    parse.__name__ = name
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gru-tutorial`` command.

    Returns
    -------
    argparse.ArgumentParser
        Parser with the sub-commands ``add``, ``train`` and ``eval``.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="gru-tutorial", formatter_class=fmt,
        description="A GRU built from scratch in TensorFlow that has learned to add integers.",
        epilog="examples:\n"
               "  gru-tutorial add 123456789123456789 987654321987654321\n"
               "  gru-tutorial train --recipe fast --seed 0 --out my-model\n"
               "  gru-tutorial eval --model my-model --bits 10000 --count 100\n"
               "run 'gru-tutorial COMMAND --help' for each command's options",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "add", help="add two non-negative integers with the network", formatter_class=fmt,
        description="Add two non-negative integers of any size with the trained network "
                    "(the model bundled with the package unless --model is given).",
        epilog="examples:\n  gru-tutorial add 3 1\n"
               "  gru-tutorial add 123456789123456789 987654321987654321\n"
               "  gru-tutorial add 5 7 --model my-model")
    p.add_argument("a", type=_operand("A"), metavar="A", help="first operand (digits only)")
    p.add_argument("b", type=_operand("B"), metavar="B", help="second operand (digits only)")
    p.add_argument("--model", metavar="DIR", help="saved model directory (default: bundled model)")

    p = sub.add_parser(
        "train", help="train a network and save it", formatter_class=fmt,
        description="Train a bit adder until it is exact on its held-out sums, then save it. "
                    "Prints the iterations taken and the wall time.",
        epilog="examples:\n  gru-tutorial train\n"
               "  gru-tutorial train --recipe seed --seed 3 --out seed-model\n"
               "  gru-tutorial train --quiet --json")
    p.add_argument("--recipe", choices=("fast", "seed"), default="fast",
                   help="'fast' (default) or 'seed', the original tutorial's recipe")
    p.add_argument("--seed", type=_count("--seed", 0), default=0, help="random seed (default 0)")
    p.add_argument("--out", metavar="DIR", default="gru-model",
                   help="where to save the model (default: ./gru-model)")
    p.add_argument("--max-steps", type=_count("--max-steps", 1), metavar="N",
                   help="give up after N steps (default: the recipe's limit)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    p = sub.add_parser(
        "eval", help="measure exact-sum and bit accuracy on random sums", formatter_class=fmt,
        description="Measure exact-sum accuracy (every bit right) and bit accuracy on random "
                    "sums of two N-bit numbers.",
        epilog="examples:\n  gru-tutorial eval\n"
               "  gru-tutorial eval --bits 10000 --count 100 --json\n"
               "  gru-tutorial eval --model my-model --bits 200 --seed 7")
    p.add_argument("--model", metavar="DIR", help="saved model directory (default: bundled model)")
    p.add_argument("--bits", type=_count("--bits", 1), default=1000,
                   help="bits per operand (default 1000)")
    p.add_argument("--count", type=_count("--count", 1), default=1000,
                   help="number of random sums (default 1000)")
    p.add_argument("--seed", type=_count("--seed", 0), default=0,
                   help="seed of the random sums (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def _load(directory: str | None):
    from .saving import load_model, load_pretrained

    return load_pretrained() if directory is None else load_model(directory)


def _cmd_add(args: argparse.Namespace) -> int:
    print(_load(args.model).add(args.a, args.b))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .saving import ModelFileError, save_model
    from .train import train

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ModelFileError(f"--out {args.out} exists and is not a directory")

    result = train(args.recipe, seed=args.seed, max_steps=args.max_steps,
                   progress=not (args.quiet or args.json))
    info = {"recipe": args.recipe, "seed": args.seed, "iterations": result.iterations,
            "converged": result.converged,
            "evaluation": {str(k): v.to_dict() for k, v in result.evaluation.items()}}
    out = save_model(result.model, args.out, info=info)
    if args.json:
        print(json.dumps({"iterations": result.iterations, "seconds": round(result.seconds, 3),
                          "exact_accuracy": result.exact_accuracy, "converged": result.converged,
                          "recipe": args.recipe, "seed": args.seed, "out": str(out),
                          "evaluation": info["evaluation"]}))
        return 0
    widths = ", ".join(f"{k}-bit" if isinstance(k, int) else f"{k} {v.bits}-bit"
                       for k, v in result.evaluation.items())
    if result.converged:
        print(f"exact on held-out {widths} sums after {result.iterations} iterations "
              f"in {result.seconds:.1f} s")
    else:
        print(f"not exact after {result.iterations} iterations ({result.seconds:.1f} s): "
              f"exact accuracy {result.exact_accuracy:.4f} on held-out {widths} sums")
    print(f"saved model to {out}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    result = evaluate(_load(args.model), bits=args.bits, count=args.count, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"{args.count} random sums of two {args.bits}-bit numbers: "
              f"exact accuracy {result.exact_accuracy:.4f}, bit accuracy {result.bit_accuracy:.6f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on bad input (with a one-line message on stderr).
    """
    sys.set_int_max_str_digits(0)  # operands and sums may have millions of digits
    parser = build_parser()
    args = parser.parse_args(argv)
    from .saving import ModelFileError

    try:
        return {"add": _cmd_add, "train": _cmd_train, "eval": _cmd_eval}[args.command](args)
    except ModelFileError as exc:
        print(f"gru-tutorial {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. --out names an existing file or an unwritable place
        print(f"gru-tutorial {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"gru-tutorial {args.command}: interrupted", file=sys.stderr)
        return 130
