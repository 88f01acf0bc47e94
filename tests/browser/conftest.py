"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright
(`playwright install` cannot download browsers here; PROVIDERS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
MISSING = (
    "BROWSER TESTS SKIPPED: /usr/bin/chromium is missing. Install Debian's `chromium` package "
    "(`make test` does it where it runs as root with apt-get)."
)


@pytest.fixture(autouse=True)
def django_allow_async_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API keeps an event loop running in the test's thread, so Django
    would refuse every ORM call in these tests. Set first and undone last, so it covers the
    test database's teardown too; the server processes a test starts inherit it."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per module, stopped with it: Playwright's loop must not outlive the
    browser tests, or the ORM would refuse to run in the tests after them."""
    if not CHROMIUM.exists():
        pytest.skip(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CHROMIUM.exists() and any(
        "browser" in report.nodeid for report in terminalreporter.stats.get("skipped", [])
    ):
        terminalreporter.write_sep("!", MISSING, red=True, bold=True)
