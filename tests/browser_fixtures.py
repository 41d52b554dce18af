"""Debian's Chromium, driven by Playwright (no browser download: executable_path)."""
from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page at the kiosk screen's size (7-inch 800x480), Chinese first."""
    # bypass_csp: the tests evaluate their own predicates; the page keeps its CSP for real use.
    context = browser.new_context(viewport={"width": 800, "height": 480}, locale="zh-CN",
                                  bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()
