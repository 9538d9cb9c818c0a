"""Sphinx extension of the book: the trained adder's weights for the page "Try it".

On every HTML build it writes ``_static/gru-adder-weights.js`` into the output
folder from the model bundled with the package (:func:`gru_tutorial.web.write_adder_js`;
no TensorFlow involved), before Sphinx copies the static files and writes the pages,
so the weights in the site are always those of the package and never stored in the
source tree. Pages whose body holds the widget (an element with ``id="adder-widget"``)
get the weights and the page's own script and style sheet (``book/_static/gru-adder.js``
and ``gru-adder.css``, on ``html_static_path``); other pages get nothing.

Enabled in ``_config.yml`` under ``sphinx: local_extensions``.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

MARKER = 'id="adder-widget"'
SCRIPT = "gru-adder.js"
STYLE = "gru-adder.css"


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


def add_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Load the weights, the script and the style sheet on pages that hold the widget."""
    if MARKER not in context.get("body", ""):
        return
    from gru_tutorial.web import JS_NAME

    app.add_js_file(JS_NAME)  # a plain <script src>: it works from file:// too, unlike fetch()
    app.add_js_file(SCRIPT, defer="defer")
    app.add_css_file(STYLE)


def setup(app: Sphinx) -> dict:
    """Register the two event handlers."""
    app.connect("builder-inited", write_weights)
    app.connect("html-page-context", add_assets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
