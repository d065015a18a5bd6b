"""Browser fixtures: one headless Chromium per module of browser tests (there is one, in one xdist group).

Chromium is Debian's package (``scripts/bootstrap.sh`` installs it), driven by Playwright from
PyPI with ``executable_path``: nothing is downloaded at test time. Playwright's sync API runs an
event loop in the test thread while it is open, so it is closed with its module: a test that
runs its own loop afterwards (``anyio.run``) on the same xdist worker is not disturbed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module's tests."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/bootstrap.sh --servers` (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()
