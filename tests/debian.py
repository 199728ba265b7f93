"""Debian packages some tests drive (docker-compose, chromium, prometheus).

`bin/test` installs them when it runs as root (bin/debian-package) and says so with
TEST_DEBIAN_PACKAGES_REQUIRED=1: then a missing one is a failed install, and the test that needs it
fails naming the package instead of skipping quietly. Elsewhere (not root, or pytest run by hand) the
test skips and says how to install it.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRED_ENV = "TEST_DEBIAN_PACKAGES_REQUIRED"


def debian_command(*names: str, package: str) -> str:
    """The path of the first of `names` on PATH; else skip, or fail where bin/test installs packages."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    hint = f"apt-get install -y --no-install-recommends {package}"
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(
            f"Debian's {package} is not installed although bin/test runs as root and installs it "
            f"(see its '[test] could not install {package}' lines); install it with: {hint}"
        )
    pytest.skip(f"Debian's {package} is not installed; install it with: sudo {hint} (bin/test does as root)")
