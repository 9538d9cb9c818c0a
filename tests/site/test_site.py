"""Browser tests of the built book: every page in ``_toc.yml`` opened in headless Chromium.

Run ``make book`` first (``make test`` does). Screenshots land in ``_build/screenshots/``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import pytest
from sitepages import PAGES, SITE, PageVisit

# ----------------------------------------------------------------------------- built files


def test_every_toc_page_is_built(site_dir):
    missing = []
    for toc in PAGES:
        if not (site_dir / toc.html).is_file():
            why = "its source is missing" if toc.source is None else "the build did not write it"
            missing.append(f"{toc.html} ({why}: {toc.docname}.ipynb/.md)")
    assert not missing, "pages listed in _toc.yml but not in _build/html:\n" + "\n".join(missing)


def test_index_redirects_to_the_root_page(site_dir):
    root = PAGES[0]
    index = (site_dir / "index.html").read_text(encoding="utf-8")
    assert f"url={root.html}" in index, f"index.html does not redirect to {root.html}"


def test_mathjax_is_served_from_static_not_a_cdn(site_dir):
    problems = []
    for toc in PAGES:
        path = site_dir / toc.html
        if not path.is_file():
            continue
        html = path.read_text(encoding="utf-8")
        sources = re.findall(r'<script[^>]*\ssrc="([^"]*mathjax[^"]*)"', html, flags=re.I)
        if 'class="math' in html and not sources:
            problems.append(f"{toc.html}: has math but loads no MathJax")
        for src in sources:
            if "//" in src or "_static/mathjax/" not in src:
                problems.append(f"{toc.html}: MathJax from {src}, not _static/mathjax/")
            elif not (path.parent / src.split("?")[0]).resolve().is_file():
                problems.append(f"{toc.html}: {src} is not in the build")
    assert not problems, "\n".join(problems)


INLINE_SCRIPT = re.compile(r"<script>(.+?)</script>", flags=re.S)


def test_no_inline_script_is_written_twice(site_dir):
    """Sphinx 7.4 writes an inline script that an extension registers late twice into a page.

    sphinx-thebe's ``const THEBE_JS_URL = ...`` did, and the second copy threw on every page;
    _config.yml now leaves sphinx-thebe out. This catches any other extension doing the same.
    """
    twice = []
    for toc in PAGES:
        path = site_dir / toc.html
        if not path.is_file():
            continue
        scripts = INLINE_SCRIPT.findall(path.read_text(encoding="utf-8"))
        twice += [f"{toc.html}: {s.strip()[:100]}" for s in set(scripts) if scripts.count(s) > 1]
    assert not twice, "inline scripts written twice:\n" + "\n".join(sorted(twice))


# ----------------------------------------------------------------------------- every page


def test_page_loads(site_page: PageVisit):
    assert site_page.status == 200, f"{site_page.url} answered HTTP {site_page.status}"


def test_no_javascript_errors(site_page: PageVisit):
    """No uncaught exception and no console error while the page loads: none is let through."""
    errors = [f"console: {e}" for e in site_page.console_errors]
    errors += [f"uncaught: {e}" for e in site_page.page_errors]
    assert not errors, "\n".join(errors)


def test_no_request_leaves_localhost(site_page: PageVisit):
    outside = sorted({url for url in site_page.requests if not site_page.is_local(url)})
    assert not outside, "requests to outside 127.0.0.1:\n" + "\n".join(outside)


def test_every_local_request_succeeds(site_page: PageVisit):
    failed = [f for f in site_page.failed if site_page.is_local(f.split(" ", 1)[0])]
    broken = failed + site_page.bad_status
    assert not broken, "\n".join(broken)


FIND_MATH = r"""() => {
  const math = Array.from(document.querySelectorAll('.math'));
  const untypeset = math.filter(el => !el.querySelector('mjx-container'))
                        .map(el => el.textContent.trim().slice(0, 80));
  // MathJax's noerrors/noundefined extensions draw bad TeX instead of failing: find it in the tree.
  const errors = [];
  const items = window.MathJax && MathJax.startup && MathJax.startup.document
                ? Array.from(MathJax.startup.document.math) : [];
  for (const item of items) {
    item.root.walkTree(node => {
      if (node.isKind('merror')) errors.push(`TeX error in: ${item.math}`);
      else if (node.isKind('mtext') && node.attributes.get('mathcolor') === 'red')
        errors.push(`undefined macro in: ${item.math}`);
    });
  }
  const skip = 'pre, code, script, style, mjx-container, .highlight, .cell_output, .output';
  const article = document.querySelector('article') || document.body;
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || !el.checkVisibility()) continue;
    texts.push(node.textContent);
  }
  return {count: math.length, containers: document.querySelectorAll('mjx-container').length,
          untypeset, errors, text: texts.join(' ').split(/\s+/).join(' '),
          version: window.MathJax && window.MathJax.version || null};
}"""

RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\s][^$]*\$")


def test_math_is_typeset(site_page: PageVisit):
    math = site_page.page.evaluate(FIND_MATH)
    if math["count"]:
        assert math["version"], "the page has math but MathJax did not start"
        assert math["containers"] > 0, "MathJax ran but produced no mjx-container"
    assert not math["untypeset"], "math left untypeset:\n" + "\n".join(math["untypeset"])
    assert not math["errors"], "MathJax could not render:\n" + "\n".join(
        sorted(set(math["errors"]))
    )
    text = math["text"]
    raw = [text[max(0, m.start() - 40) : m.end() + 40] for m in RAW_MATH.finditer(text)]
    assert not raw, "raw TeX in the visible text:\n" + "\n".join(dict.fromkeys(raw))


BROKEN_IMAGES = """() => Array.from(document.images)
  .filter(img => !(img.complete && img.naturalWidth > 0))
  .map(img => img.currentSrc || img.src || img.outerHTML.slice(0, 120))"""


def test_every_image_loads(site_page: PageVisit):
    broken = site_page.page.evaluate(BROKEN_IMAGES)
    assert not broken, "images that did not load:\n" + "\n".join(broken)


FIGURES = """() => Array.from(document.querySelectorAll('article figure')).map(fig => ({
  id: fig.id || (fig.querySelector('img') || {}).src || '?',
  caption: ((fig.querySelector('figcaption') || {}).innerText || '').trim()}))"""


def test_every_figure_has_a_caption(site_page: PageVisit):
    figures = site_page.page.evaluate(FIGURES)
    uncaptioned = [f["id"] for f in figures if not f["caption"]]
    assert not uncaptioned, "figures without a caption:\n" + "\n".join(uncaptioned)


SIDEBAR = """() => ({
  links: Array.from(document.querySelectorAll('nav.bd-docs-nav a.reference.internal'))
              .map(a => a.href),
  brand: Array.from(document.querySelectorAll('a.navbar-brand')).map(a => a.href)})"""


def test_sidebar_lists_every_chapter(site_page: PageVisit):
    sidebar = site_page.page.evaluate(SIDEBAR)
    listed = {site_page.absolute(href) for href in sidebar["links"] + sidebar["brand"]}
    built = [toc for toc in PAGES if (SITE / toc.html).is_file()]  # missing ones fail elsewhere
    missing = [toc.html for toc in built if site_page.page_url(toc) not in listed]
    assert not missing, "pages not linked from the sidebar:\n" + "\n".join(missing)


PREV_NEXT = """() => ({
  prev: Array.from(document.querySelectorAll('a.left-prev')).map(a => a.getAttribute('href')),
  next: Array.from(document.querySelectorAll('a.right-next')).map(a => a.getAttribute('href'))})"""


def test_previous_and_next_links_lead_to_the_neighbouring_pages(site_page: PageVisit):
    links = site_page.page.evaluate(PREV_NEXT)
    built = [toc for toc in PAGES if (SITE / toc.html).is_file()]  # missing ones fail elsewhere
    i = built.index(site_page.toc)
    expected = {
        "prev": [site_page.page_url(built[i - 1])] if i > 0 else [],
        "next": [site_page.page_url(built[i + 1])] if i + 1 < len(built) else [],
    }
    for direction in ("prev", "next"):
        got = [site_page.absolute(href) for href in links[direction]]
        assert got == expected[direction], f"{direction} link: got {got}, expected {expected}"
        for url in got:
            status = site_page.page.request.get(url).status
            assert status == 200, f"{direction} link {url} answered HTTP {status}"


# ----------------------------------------------------------------------------- notebook chapters


CELLS = """() => ({
  inputs: document.querySelectorAll('div.cell div.cell_input').length,
  outputs: document.querySelectorAll('div.cell div.cell_output').length,
  plots: Array.from(document.querySelectorAll('div.cell_output img')).map(img => ({
    src: img.getAttribute('src'),
    caption: ((img.closest('figure') || document.createElement('b'))
              .querySelector('figcaption') || {}).innerText || ''}))})"""


def _stored_outputs(toc) -> int:
    notebook = json.loads(toc.source.read_text(encoding="utf-8"))
    return sum(1 for c in notebook["cells"] if c["cell_type"] == "code" and c.get("outputs"))


@pytest.mark.site_pages("notebook")
def test_notebook_shows_code_and_outputs(site_page: PageVisit):
    cells = site_page.page.evaluate(CELLS)
    assert cells["inputs"] > 0, "no code cells on the page"
    if cells["outputs"] == 0:
        stored = _stored_outputs(site_page.toc)
        where = (
            f"{site_page.toc.source.name} has no stored outputs: run make execute"
            if stored == 0
            else f"{site_page.toc.source.name} stores {stored} outputs, but the build shows none"
        )
        pytest.fail(f"no cell outputs on the page: {where}")


@pytest.mark.site_pages("notebook")
def test_notebook_plots_are_captioned_figures(site_page: PageVisit):
    plots = site_page.page.evaluate(CELLS)["plots"]
    bare = [p["src"] for p in plots if not p["caption"].strip()]
    assert not bare, (
        "output images without a figure caption (give the cell metadata "
        "mystnb: {figure: {caption: ..., name: ...}}):\n" + "\n".join(bare)
    )


DOWNLOADS = """() => Array.from(document.querySelectorAll('.dropdown-download-buttons a'))
  .map(a => a.getAttribute('href'))"""


@pytest.mark.site_pages("notebook")
def test_notebook_can_be_downloaded(site_page: PageVisit):
    hrefs = [h for h in site_page.page.evaluate(DOWNLOADS) if h and h.endswith(".ipynb")]
    assert hrefs, "no .ipynb in the page's download menu"
    url = urljoin(site_page.url, hrefs[0])
    response = site_page.page.request.get(url)
    assert response.status == 200, f"{url} answered HTTP {response.status}"
    served = json.loads(response.body())
    source = json.loads(site_page.toc.source.read_text(encoding="utf-8"))
    assert served["cells"] == source["cells"], (
        f"{url} differs from {site_page.toc.source.name}: the site is older than the notebook "
        "(run make book)"
    )
    assert (SITE / url.removeprefix(site_page.base_url)).is_file()


# ----------------------------------------------------------------------------- landing page


@pytest.mark.site_pages("root")
def test_landing_page_says_how_to_run_everything(site_page: PageVisit):
    text = " ".join(site_page.page.inner_text("article").split())
    missing = [cmd for cmd in ("make test", "make book", "make lab") if cmd not in text]
    assert not missing, f"the landing page does not mention: {', '.join(missing)}"


def test_index_html_opens_the_landing_page(browser_context, base_url):
    page = browser_context.new_page()
    try:
        page.goto(urljoin(base_url, "index.html"))
        page.wait_for_url(urljoin(base_url, PAGES[0].html))
    finally:
        page.close()
