"""A real headless Chromium (Debian's `chromium`) for tests that need a page rendered as a user sees it.

`bin/test` installs it when it runs as root (then a test that needs it fails when it is missing);
elsewhere the test skips: `apt-get install -y chromium` (tests/debian.py). The flags keep
it off the network beyond the page (this machine's closed network refuses everything else).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.debian import debian_command

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.usefixtures("chromium_binary")


def rendered_dom(url: str, *, wait_ms: int = 15_000, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran (Chromium runs virtual time for up to `wait_ms`)."""
    chromium = debian_command("chromium", "chromium-browser", package="chromium")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        base = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={wait_ms}"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [*base, f"--screenshot={screenshot}", "--window-size=1280,2000", url],
                check=True,
                timeout=120,
                capture_output=True,
            )
        result = subprocess.run([*base, "--dump-dom", url], check=True, timeout=120, capture_output=True, text=True)
    return result.stdout
