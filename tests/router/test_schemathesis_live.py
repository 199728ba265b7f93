"""schemathesis from outside, as a client team would run it: the `st` CLI with `--checks all` against
the API served by gunicorn (the Procfile's server), every operation, positive and negative cases."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.delivery.support import CHANNEL_DBS
from tests.faults.system import FaultSystem
from tests.processes import PROJECT_DIR
from tests.router.factories import ApiKeyFactory

# The channel databases too: listing and cancel read the delivery records.
pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)


def test_st_run_with_every_check_passes_against_the_live_api():
    api_key = ApiKeyFactory().raw_key
    system = FaultSystem(name="schemathesis")
    try:
        system.start_api()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{system.api_url}/api/schema/",
                "--checks",
                "all",
                "--header",
                f"Authorization: Api-Key {api_key}",
                "--max-examples",
                "40",
                "--seed",
                "42",
                "--no-color",
            ],
            cwd=PROJECT_DIR,  # its schemathesis.toml: what a schema cannot say
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        system.close()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
