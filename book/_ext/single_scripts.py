"""Sphinx extension of the book: every page carries each of its scripts once.

Sphinx 7.4 writes an inline script (``app.add_js_file(None, body=...)``) that an extension
registers after the builder has started twice into every page: the builder keeps it under the
file name ``None``, and before writing it adds the same script again from the registry under the
file name ``""``, which it does not recognise as the same. sphinx-togglebutton's
``var togglebuttonSelector = ...`` (registered at ``builder-inited``) is written twice this way;
sphinx-thebe's ``const THEBE_JS_URL = ...`` was too, and its second copy threw "Identifier
'THEBE_JS_URL' has already been declared" on every page (the book leaves sphinx-thebe out, see
``_config.yml``). This drops the second copy of any script from each page's list, last of all
the ``html-page-context`` handlers, so scripts added for one page are seen too.

Enabled in ``_config.yml`` under ``sphinx: local_extensions``; tests/site/test_site.py checks
that no page of the built site carries an inline script twice.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _key(script) -> tuple:
    """What makes two scripts the same: file (``None`` and ``""`` alike), priority, attributes."""
    attributes = getattr(script, "attributes", {}) or {}
    return (
        str(getattr(script, "filename", script) or ""),
        getattr(script, "priority", None),
        tuple(sorted((str(k), str(v)) for k, v in attributes.items())),
    )


def drop_repeated_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    """Keep the first of every group of identical scripts in the page's ``script_files``."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if len(unique) < len(scripts):
        # a new list: the old one is the builder's own, which it restores after every page
        context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    """Run after every other ``html-page-context`` handler (priority 900; the default is 500)."""
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
