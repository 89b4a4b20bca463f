"""Headless Chromium for browser tests: Debian's `chromium` driven by Playwright, never a downloaded browser.

`make` set-up installs the package where apt is available; elsewhere the browser tests skip with the reason.
Screenshots for the README are written only when PCF_SCREENSHOTS=1, so test runs do not rewrite docs/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_or_skip():
    """(playwright, browser) context manager pieces; pytest.skip with the reason when either is missing."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package (make does, where apt works)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'")
    return sync_api.sync_playwright


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                      args=CHROMIUM_ARGS)


def save_screenshot(page, name: str, **options) -> None:
    """docs/screenshots/NAME.png, only when PCF_SCREENSHOTS=1."""
    if os.environ.get("PCF_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **options)
