"""Sphinx extension of the book: the trained adder's weights for the page "Try it".

On every HTML build it writes ``_static/gru-adder-weights.js`` into the output
folder from the model bundled with the package (:func:`gru_tutorial.web.write_adder_js`;
no TensorFlow involved), before Sphinx copies the static files and writes the pages,
so the weights in the site are always those of the package and never stored in the
source tree. Pages whose body holds the widget (an element with ``id="adder-widget"``)
get the weights and the page's own scripts and style sheet (``book/_static/gru-net32.js``,
``gru-adder.js`` and ``gru-adder.css``, on ``html_static_path``); pages with the trainer
(``id="train-widget"``, the page "Train it") get its scripts and style sheet too
(``gru-train-core.js``, ``gru-train.js``, ``gru-train.css``; the worker
``gru-train-worker.js`` is loaded by the script), and their ``<span class="train-bench"
data-key="...">`` elements are filled from ``benchmarks/results/train_page.json`` and its
``<span class="train-recipe" ...>`` elements from the package's ``small`` recipe, so the page's
measured numbers and settings are never typed by hand. Other pages get nothing.

Enabled in ``_config.yml`` under ``sphinx: local_extensions``.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

MARKER = 'id="adder-widget"'
SCRIPTS = ("gru-net32.js", "gru-adder.js")
STYLE = "gru-adder.css"
TRAIN_MARKER = 'id="train-widget"'
TRAIN_SCRIPTS = ("gru-train-core.js", "gru-train.js")
TRAIN_STYLE = "gru-train.css"
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "train_page.json"
BENCH_SPAN = re.compile(r'(<span class="train-bench"\s+data-key="([a-z_0-9]+)">)[^<]*(</span>)')
RECIPE_SPAN = re.compile(r'(<span class="train-recipe"\s+data-key="([a-z_0-9]+)">)[^<]*(</span>)')


def write_weights(app: Sphinx) -> None:
    """Export the bundled model into the output's ``_static`` folder (HTML builders only)."""
    if app.builder.format != "html":
        return
    from gru_tutorial.web import JS_NAME, write_adder_js

    target = Path(app.outdir) / "_static" / JS_NAME
    try:
        write_adder_js(target)
    except Exception as exc:  # the page cannot work without its weights: fail the build
        raise ExtensionError(f"gru_adder: could not export the model to {target}: {exc}") from exc
    logger.info("gru_adder: wrote %s", target)


def bench_values(path: Path = BENCH) -> dict[str, str]:
    """The numbers the page "Train it" quotes, as text, from the benchmark's JSON."""
    try:
        data = json.loads(path.read_text())
        return {key: str(value) for key, value in data["page_text"].items()}
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise ExtensionError(f"gru_adder: cannot read the page's numbers from {path} ({exc}); "
                             "run benchmarks/train_page.py") from exc


def recipe_values() -> dict[str, str]:
    """The settings of the package's ``small`` recipe, as text, for the page "Train it"."""
    from gru_tutorial.recipes import RECIPES

    r = RECIPES["small"]
    widths = [f"{b:,}" for b in r.eval_bits]
    return {"units": str(r.units), "batch_size": f"{r.batch_size:,}",
            "train_bits": str(r.train_bits), "learning_rate": f"{r.learning_rate:g}",
            "eval_count": f"{r.eval_count:,}", "eval_bits": ", ".join(widths[:-1]) + " and "
            + widths[-1], "eval_longest": widths[-1], "restart_after": f"{r.restart_after:,}",
            "attempts": str(r.attempts), "max_steps": f"{r.max_steps:,}",
            "last_attempt": f"{r.max_steps - (r.attempts - 1) * r.restart_after:,}"}


def fill_spans(body: str, pattern: re.Pattern, values: dict[str, str], source: str,
               pagename: str) -> str:
    """``body`` with every span of ``pattern`` holding its value; unknown keys fail the build."""
    def fill(match: re.Match) -> str:
        key = match.group(2)
        if key not in values:
            raise ExtensionError(f"gru_adder: {pagename} quotes {source}'s {key!r}, "
                                 f"which it does not hold (it has {sorted(values)})")
        return match.group(1) + html.escape(values[key]) + match.group(3)

    filled, count = pattern.subn(fill, body)
    kind = pattern.pattern.split('"')[1]  # the span's class
    if count != body.count(f'class="{kind}"'):
        raise ExtensionError(f"gru_adder: {pagename} has a {kind} span that is not of the form "
                             f'<span class="{kind}" data-key="...">...</span>')
    return filled


def add_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Load the weights, the scripts and the style sheets on pages that hold the widgets."""
    body = context.get("body", "")
    if MARKER not in body and TRAIN_MARKER not in body:
        return
    from gru_tutorial.web import JS_NAME

    app.add_js_file(JS_NAME)  # a plain <script src>: it works from file:// too, unlike fetch()
    app.add_js_file(SCRIPTS[0])  # the float32 network, before the scripts that use it
    app.add_js_file(SCRIPTS[1], defer="defer")
    app.add_css_file(STYLE)
    if TRAIN_MARKER in body:
        app.add_js_file(TRAIN_SCRIPTS[0])
        app.add_js_file(TRAIN_SCRIPTS[1], defer="defer")  # after gru-adder.js, which it uses
        app.add_css_file(TRAIN_STYLE)
        body = fill_spans(body, BENCH_SPAN, bench_values(), "train_page.json", pagename)
        context["body"] = fill_spans(body, RECIPE_SPAN, recipe_values(), "the small recipe",
                                     pagename)


def setup(app: Sphinx) -> dict:
    """Register the two event handlers."""
    app.connect("builder-inited", write_weights)
    app.connect("html-page-context", add_assets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
