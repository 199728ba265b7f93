"""One setting for the API's worker processes, `WEB_CONCURRENCY`, honoured by every way the API starts.

Each case resolves gunicorn's configuration the way gunicorn itself does (its own argument parser and
`gunicorn.conf.py`, command-line flags winning) in a fresh interpreter with the given environment, for
the command lines of the Procfile (`bin/run`), the Dockerfile and the compose file; nothing is started.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# gunicorn's own resolution: the config file named by default, then the command line over it.
RESOLVE = """
import json, sys
from gunicorn.app.wsgiapp import WSGIApplication
sys.argv = json.loads(sys.argv[1])
app = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")
print(json.dumps({"workers": app.cfg.workers, "threads": app.cfg.threads}))
"""


def procfile_api_argv() -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("api:"))
    command = line.removeprefix("api:").replace("${API_PORT:-8000}", "8000")  # honcho's shell expands it
    return shlex.split(command)


def dockerfile_argv() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", (ROOT / "docker" / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "docker/Dockerfile has no CMD in exec form"
    return json.loads(match.group(1))


def compose_api_argv() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    return compose["services"]["api"]["command"]


COMMANDS = {"Procfile": procfile_api_argv, "Dockerfile": dockerfile_argv, "compose": compose_api_argv}


def resolve(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    assert argv[0] == "gunicorn", argv
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WEB_CONCURRENCY", "GUNICORN_"))}
    return subprocess.run(
        [sys.executable, "-c", RESOLVE, json.dumps(argv)],
        cwd=ROOT,
        env={**clean, "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / "metrics" / "test-config"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("where", COMMANDS)
def test_web_concurrency_sets_the_api_workers(where):
    result = resolve(COMMANDS[where](), WEB_CONCURRENCY="3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"workers": 3, "threads": 8}, f"{where}'s API command ignores WEB_CONCURRENCY"


@pytest.mark.parametrize("where", COMMANDS)
def test_two_workers_by_default(where):
    result = resolve(COMMANDS[where]())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["workers"] == 2


def test_compose_passes_web_concurrency_to_the_api():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    assert compose["services"]["api"]["environment"]["WEB_CONCURRENCY"] == "${WEB_CONCURRENCY:-2}"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"GUNICORN_THREADS": "-1"}, "GUNICORN_THREADS"),
        ({"GUNICORN_WORKERS": "4"}, "GUNICORN_WORKERS"),  # the retired name: refused, not ignored
    ],
)
def test_a_bad_or_retired_setting_stops_the_server_naming_it(env, named):
    result = resolve(procfile_api_argv(), **env)
    assert result.returncode != 0
    assert named in result.stderr
