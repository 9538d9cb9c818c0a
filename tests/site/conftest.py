"""Fixtures for the browser tests of the built book (``make book`` writes ``_build/html``).

The pages to test come from ``_toc.yml``. The site is served from 127.0.0.1 on a free port and
opened in Debian's Chromium (``apt-get install chromium``) through Playwright's sync API. Without
Chromium the browser tests are skipped locally, but fail under CI (``CI=true``), whose ``.ci/run``
installs it.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sitepages import (
    CHROMIUM_ARGS,
    PAGES,
    PAGES_BY_NAME,
    ROOT,
    SCREENSHOTS,
    SITE,
    TIMEOUT_MS,
    PageVisit,
    find_chromium,
    in_ci,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "site_pages(kind): run the test once per toc page of that kind: all, notebook or root",
    )


def pytest_generate_tests(metafunc):
    """Parametrize every test that uses ``site_page`` over the toc pages it applies to."""
    if "site_page" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("site_pages")
    kind = marker.args[0] if marker else "all"
    selected = {
        "all": PAGES,
        "notebook": [p for p in PAGES if p.is_notebook],
        "root": [p for p in PAGES if p.is_root],
    }[kind]
    names = [p.name for p in selected]
    # Module scope: each page is loaded once and shared by every check of that page.
    metafunc.parametrize("site_page", names, ids=names, indirect=True, scope="module")


def pytest_terminal_summary(terminalreporter):
    """Say plainly, at the end of the run, when and why site tests were skipped."""
    prefix = Path(__file__).parent.relative_to(ROOT).as_posix() + "/"
    reasons = Counter(
        report.longrepr[2].removeprefix("Skipped: ")
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and report.nodeid.startswith(prefix)
    )
    if reasons:
        terminalreporter.section("site tests (tests/site)", yellow=True)
        for reason, count in reasons.items():
            terminalreporter.line(f"{count} skipped: {reason}", yellow=True)


# ----------------------------------------------------------------------------- the site


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The built site; skip when it is missing."""
    if not (SITE / "index.html").is_file():
        pytest.skip(f"site not built: run make book (no {SITE.relative_to(ROOT)}/index.html)")
    return SITE


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site quietly; assets may be cached, since nothing changes during the tests."""

    def end_headers(self):
        self.send_header("Cache-Control", "max-age=3600")
        super().end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def base_url(site_dir: Path) -> Iterator[str]:
    """Serve the site from 127.0.0.1 on a free port; yields ``http://127.0.0.1:PORT/``."""
    handler = functools.partial(_SiteHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    executable = find_chromium()
    if executable is None:
        if in_ci():
            pytest.fail(
                "Chromium not found, and under CI (CI=true) the browser tests must run: "
                ".ci/run installs it with apt-get install chromium"
            )
        pytest.skip("Chromium not found (apt-get install chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        # Playwright hides scroll bars by default; the tests see them as a reader does (a page on
        # a phone must show that its table of steps scrolls: tests/site/test_try_it.py).
        chromium = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_default_args=["--hide-scrollbars"],
        )
    except Exception:
        playwright.stop()
        raise
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


MATHJAX_READY = """() => {
  const loaded = Array.from(document.scripts).some(s => /mathjax/i.test(s.src));
  if (!loaded) return true;
  return Boolean(window.MathJax && MathJax.startup && MathJax.startup.promise);
}"""

MATHJAX_DONE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
}"""

LOAD_IMAGES = """async () => {
  // Lazy images load only near the viewport: make them all eager, then wait for every one.
  for (const img of document.images) img.loading = 'eager';
  await Promise.all(Array.from(document.images).map(
    img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  await document.fonts.ready;
}"""


@pytest.fixture(scope="session")
def browser_context(browser):
    """One browser context for all pages, so the theme's and MathJax's files load from cache."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture(scope="module")
def site_page(request, browser_context, base_url) -> Iterator[PageVisit]:
    """Open one toc page (the parameter is its short name), wait for math and images."""
    toc = PAGES_BY_NAME[request.param]
    if not (SITE / toc.html).is_file():
        pytest.skip(f"{toc.html} was not built (see test_every_toc_page_is_built)")
    page = browser_context.new_page()
    visit = PageVisit(toc=toc, base_url=base_url, page=page)

    def record_failure(req):
        visit.failed.append(f"{req.url} ({req.failure})")

    def record_response(resp):
        if resp.status >= 400:
            visit.bad_status.append(f"{resp.url} -> HTTP {resp.status}")

    def record_console(msg):
        if msg.type == "error":
            visit.console_errors.append(f"{msg.text} [at {msg.location.get('url', '?')}]")

    page.on("request", lambda req: visit.requests.append(req.url))
    page.on("requestfailed", record_failure)
    page.on("response", record_response)
    page.on("console", record_console)
    page.on("pageerror", lambda err: visit.page_errors.append(str(err)))

    try:
        response = page.goto(visit.url, wait_until="load")
        visit.status = response.status if response else None
        page.wait_for_function(MATHJAX_READY)
        page.evaluate(MATHJAX_DONE)
        page.evaluate(LOAD_IMAGES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"{toc.name}.png"), full_page=True, animations="disabled"
        )
        yield visit
    finally:
        page.close()
