"""A test that needs a Debian package skips where nobody installs it, and fails where bin/test does."""

from __future__ import annotations

import pytest

from tests.browser import needs_chromium
from tests.debian import REQUIRED_ENV, debian_command
from tests.docker.test_compose import docker_compose_binary


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")


@pytest.mark.usefixtures("nothing_installed")
def test_a_missing_package_skips_with_the_install_command_when_pytest_runs_by_hand(monkeypatch):
    monkeypatch.delenv(REQUIRED_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y --no-install-recommends docker-compose"):
        docker_compose_binary()  # also as root: only bin/test installs packages


@pytest.mark.usefixtures("nothing_installed")
def test_a_missing_package_fails_where_bin_test_installs_it(monkeypatch):
    monkeypatch.setenv(REQUIRED_ENV, "1")
    for command, package in (("docker-compose", "docker-compose"), ("prometheus", "prometheus")):
        with pytest.raises(pytest.fail.Exception, match=f"Debian's {package} is not installed although bin/test"):
            debian_command(command, package=package)
    with pytest.raises(pytest.fail.Exception, match="chromium"):
        debian_command("chromium", "chromium-browser", package="chromium")


def test_browser_tests_ask_for_chromium_when_they_run_not_when_collected():
    # A skipif decided at import cannot fail; the fixture decides at run time (skip or fail).
    assert needs_chromium.name == "usefixtures" and needs_chromium.args == ("chromium_binary",)
