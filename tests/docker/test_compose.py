"""docker/: the compose file validates with Debian's docker-compose (no Docker engine needed), every
service runs a command that exists in this code, and the file keeps the shape docs/docker.md asks for
(pinned engines matching engines/pom.xml, scalable workers, a volume for every SQLite file)."""

from __future__ import annotations

import functools
import importlib
import os
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml
from django.core.management import CommandError, get_commands, load_command_class
from gunicorn.config import Config as GunicornConfig

from tests.debian import debian_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
POM = ROOT / "engines" / "pom.xml"
APP_IMAGE = "comms-aggregator:latest"

ENGINES = {"kafka", "elasticsearch", "kibana"}
APP_SERVICES = {"init", "api", "relay", "email", "sms", "whatsapp", "indexer", "webhooks"}
WORKERS = {"email", "sms", "whatsapp"}
# Which database URLs each service needs on a volume: the databases it owns (docs/architecture.md).
DATABASES_OWNED = {
    "init": {"ROUTER_DATABASE_URL", "EMAIL_DATABASE_URL", "SMS_DATABASE_URL", "WHATSAPP_DATABASE_URL"},
    # The API reads (and, to cancel or apply a receipt, writes) the channels' delivery records.
    "api": {"ROUTER_DATABASE_URL", "EMAIL_DATABASE_URL", "SMS_DATABASE_URL", "WHATSAPP_DATABASE_URL"},
    "relay": {"ROUTER_DATABASE_URL"},
    "email": {"EMAIL_DATABASE_URL"},
    "sms": {"SMS_DATABASE_URL"},
    "whatsapp": {"WHATSAPP_DATABASE_URL"},
    "indexer": set(),
    "webhooks": {"ROUTER_DATABASE_URL"},
}


@functools.cache
def compose() -> dict[str, Any]:
    """The compose file as YAML gives it: anchors and `<<` merges resolved, `${VAR:-default}` kept."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def docker_compose_binary() -> str:
    return debian_command("docker-compose", package="docker-compose")


# --- (a) the file is valid -------------------------------------------------------------------


def test_compose_file_validates_with_docker_compose():
    result = subprocess.run(
        [docker_compose_binary(), "--file", str(COMPOSE_FILE), "config", "--services"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SECRET_KEY": "x" * 60},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose rejects {COMPOSE_FILE}:\n{result.stderr}"
    assert set(result.stdout.split()) == ENGINES | APP_SERVICES


# --- (b) every command exists in the code ----------------------------------------------------


def command_lines(command: str | list[str]) -> list[list[str]]:
    """The argv of each program a service's command runs (`sh -c "a && b"` runs a, then b)."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:2] in (["sh", "-c"], ["bash", "-c"]):
        return [shlex.split(part) for part in re.split(r"&&|;", argv[2]) if part.strip()]
    return [argv]


def problem_with(argv: list[str]) -> str | None:
    """Why this program cannot run from this code, or None when it can."""
    if argv[:2] == ["python", "manage.py"] and len(argv) >= 3:
        name, arguments = argv[2], argv[3:]
        app = get_commands().get(name)
        if app is None:
            return f"management command {name!r} does not exist"
        parser = load_command_class(app, name).create_parser("manage.py", name)
        try:
            parser.parse_args(arguments)
        except CommandError as error:
            return f"manage.py {name} rejects its arguments {arguments}: {error}"
        return None
    if argv[:1] == ["gunicorn"]:
        try:
            parsed = GunicornConfig().parser().parse_args(argv[1:])
        except SystemExit:
            return f"gunicorn rejects its arguments {argv[1:]}"
        if len(parsed.args) != 1:
            return f"gunicorn needs exactly one WSGI application, got {parsed.args}"
        module_name, _, attribute = parsed.args[0].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            return f"gunicorn's module {module_name!r} does not import: {error}"
        if not callable(getattr(module, attribute or "application", None)):
            return f"{module_name} has no WSGI callable {attribute or 'application'!r}"
        return None
    return f"not a command this test knows how to check: {shlex.join(argv)}"


def dockerfile_cmd() -> list[str]:
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1, "docker/Dockerfile should have exactly one CMD"
    return yaml.safe_load(lines[0].removeprefix("CMD "))  # exec form is a JSON list, which is YAML


def test_every_service_command_exists_in_the_code():
    commands = {name: service["command"] for name, service in services().items() if name in APP_SERVICES}
    assert set(commands) == APP_SERVICES, "every service of the app image names its command"
    commands["Dockerfile CMD"] = dockerfile_cmd()
    problems = [
        f"{name}: `{shlex.join(argv)}`: {problem}"
        for name, command in sorted(commands.items())
        for argv in command_lines(command)
        if (problem := problem_with(argv))
    ]
    assert not problems, "docker/compose.yaml runs commands that this code does not have:\n  " + "\n  ".join(problems)


# --- the shape docs/docker.md and issue 6 ask for -------------------------------------------------


def pom_version(name: str) -> str:
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    element = ET.parse(POM).getroot().find(f"m:properties/m:{name}", namespace)
    assert element is not None and element.text
    return element.text


def test_engines_are_pinned_to_the_versions_the_local_run_uses():
    assert services()["kafka"]["image"] == f"apache/kafka:{pom_version('kafka.version')}"
    es_version = pom_version("elasticsearch.version")
    assert services()["elasticsearch"]["image"] == f"docker.elastic.co/elasticsearch/elasticsearch:{es_version}"
    assert services()["kibana"]["image"] == f"docker.elastic.co/kibana/kibana:{es_version}"


def test_engines_run_single_node_kraft_with_security_off_and_say_so():
    kafka = services()["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    elasticsearch = services()["elasticsearch"]["environment"]
    assert elasticsearch["discovery.type"] == "single-node"
    assert elasticsearch["xpack.security.enabled"] == "false"
    assert "SECURITY IS OFF" in COMPOSE_FILE.read_text()


def test_healthchecks_and_startup_order():
    for name in ("kafka", "elasticsearch", "kibana", "api"):
        assert services()[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    init = services()["init"]
    assert init["restart"] == "no"
    assert init["environment"]["KIBANA_URL"] == "http://kibana:5601"
    assert {name: dep["condition"] for name, dep in init["depends_on"].items()} == {
        "kafka": "service_healthy",
        "elasticsearch": "service_healthy",
        "kibana": "service_healthy",
    }
    for name in APP_SERVICES - {"init"}:
        assert services()[name]["depends_on"] == {"init": {"condition": "service_completed_successfully"}}, name


def test_one_image_for_every_service_and_workers_scale():
    for name in APP_SERVICES:
        service = services()[name]
        assert service["image"] == APP_IMAGE, name
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
    for name in WORKERS | {"relay", "indexer", "webhooks"}:
        # `docker compose up --scale email=3` needs both absent.
        assert "container_name" not in services()[name], name
        assert "ports" not in services()[name], name


def sqlite_directory(value: str) -> str:
    """`${EMAIL_DATABASE_URL:-sqlite:////data/email/email.sqlite3}` → `/data/email`."""
    match = re.fullmatch(r"\$\{\w+:-sqlite:///(/.+)\}", value)
    assert match, f"expected a SQLite URL default with an absolute path, got {value}"
    return str(Path(match.group(1)).parent)


def test_every_sqlite_file_is_in_its_own_named_volume():
    named_volumes = set(compose()["volumes"])
    directories: dict[str, str] = {}
    for name, owned in DATABASES_OWNED.items():
        service = services()[name]
        mounts = dict(volume.split(":", 1) for volume in service.get("volumes", []))
        for variable in owned:
            directory = sqlite_directory(service["environment"][variable])
            volume = next((source for source, target in mounts.items() if target == directory), None)
            assert volume in named_volumes, f"{name}: {variable} lives in {directory}, which is no named volume"
            assert directories.setdefault(variable, volume) == volume, f"{variable} is on two volumes"
    assert len(set(directories.values())) == len(directories), f"databases share a volume: {directories}"


def test_image_is_pinned_slim_and_runs_as_a_user():
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert "collectstatic" in dockerfile
