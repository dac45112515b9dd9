"""Chromium through playwright for the explorer's browser tests, skipped with the fix where either is missing."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def require_chromium() -> str:
    """Chromium's path and playwright's presence, or a skip (call it first: before making a page is worth it)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright.sync_api")
    return chromium


@contextmanager
def explorer_page(page_file: Path, **context):
    """A page on a report file once its explorer is ready, and the list of page errors (which should stay empty);
    ``context``: playwright's browser-context options (``accept_downloads=True``)."""
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_context(**context).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(Path(page_file).as_uri())
        page.wait_for_selector("body[data-explorer=ready]")
        try:
            yield page, errors
        finally:
            browser.close()
