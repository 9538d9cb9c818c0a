"""What the site tests share: the pages listed in ``_toc.yml`` and a record of one page visit."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
TOC = ROOT / "_toc.yml"
SOURCE_SUFFIXES = (".ipynb", ".md", ".rst")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--disable-quic",
    # Offline by construction: every host name but 127.0.0.1 fails to resolve at once. Requests
    # still fire the page's "request" event, so test_no_request_leaves_localhost sees them.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 30_000  # generous: CI machines may be busy


def in_ci() -> bool:
    """Whether we run under CI, where a missing browser is an error rather than a skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class TocPage:
    """One page listed in ``_toc.yml``."""

    docname: str  # e.g. "book/02_gru_equations"
    is_root: bool

    @property
    def html(self) -> str:
        """Path of the built page relative to the site root."""
        return f"{self.docname}.html"

    @property
    def name(self) -> str:
        """Short name, used for test ids and screenshot files."""
        return Path(self.docname).name

    @property
    def source(self) -> Path | None:
        """The chapter's source file, or None if it is not written yet."""
        for suffix in SOURCE_SUFFIXES:
            path = ROOT / f"{self.docname}{suffix}"
            if path.exists():
                return path
        return None

    @property
    def is_notebook(self) -> bool:
        """Whether the chapter's source is a Jupyter notebook."""
        source = self.source
        return source is not None and source.suffix == ".ipynb"


def _strip_suffix(file: str) -> str:
    for suffix in SOURCE_SUFFIXES:
        if file.endswith(suffix):
            return file[: -len(suffix)]
    return file


def _toc_files(entries: list[dict]) -> Iterator[str]:
    """Yield every ``file`` in a list of toc entries, depth first (parts, chapters, sections)."""
    for entry in entries or []:
        if "file" in entry:
            yield _strip_suffix(entry["file"])
        for key in ("parts", "chapters", "sections"):
            yield from _toc_files(entry.get(key, []))


def toc_pages() -> list[TocPage]:
    """Pages of the book in reading order: the root, then every chapter and section."""
    toc = yaml.safe_load(TOC.read_text(encoding="utf-8"))
    root = _strip_suffix(toc["root"])
    pages = [TocPage(root, is_root=True)]
    for key in ("parts", "chapters", "sections"):
        pages += [TocPage(f, is_root=False) for f in _toc_files(toc.get(key, []))]
    return pages


PAGES = toc_pages()
PAGES_BY_NAME = {page.name: page for page in PAGES}


def find_chromium() -> str | None:
    """Path of a Chromium executable: $CHROMIUM, else Debian's ``chromium`` on PATH."""
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"]
    for candidate in filter(None, candidates):
        path = shutil.which(candidate)
        if path:
            return path
    return None


@dataclass
class PageVisit:
    """A toc page opened in the browser, with everything recorded while it loaded."""

    toc: TocPage
    base_url: str
    page: object  # playwright.sync_api.Page
    status: int | None = None
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return urljoin(self.base_url, self.toc.html)

    def page_url(self, toc: TocPage) -> str:
        return urljoin(self.base_url, toc.html)

    def is_local(self, url: str) -> bool:
        return url.startswith(self.base_url) or url.split(":", 1)[0] in {"data", "blob", "about"}

    def absolute(self, href: str) -> str:
        """An href resolved against this page, without its fragment."""
        return urldefrag(urljoin(self.url, href))[0]
