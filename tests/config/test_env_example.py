""".env.example lists every variable the code reads from the environment, and nothing it does not read.

The reads are found in the source (not by importing it), so a setting added without its line in
.env.example, or a line left behind by a removed setting, fails here with the names and where they are
read. Per-channel names (`f"{channel.upper()}_MAX_ATTEMPTS"`) count as listed when .env.example gives
one channel's line (`EMAIL_MAX_ATTEMPTS`), as its per-channel sections do.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_PREFIXES = ("EMAIL", "SMS", "WHATSAPP")

# Where the code reads its environment: the settings, and the few processes that read it before (or
# without) Django's settings: the API server's config and worker, the metrics endpoint, the engines.
SOURCES = [
    *sorted((ROOT / "config" / "settings").glob("*.py")),
    ROOT / "gunicorn.conf.py",
    ROOT / "config" / "gunicorn_worker.py",
    ROOT / "messaging" / "metrics.py",
    ROOT / "engines" / "layout.py",
]
# Read by the code but not settings for .env: each with the reason.
NOT_SETTINGS = {
    "COMMS_TEST_RUN_ID": "set by the test run for the processes it starts",
    "COMMS_USE_TEST_DATABASES": "set by tests for the processes they start",
    "COMMS_TEST_DATABASE_DIR": "set by the test run for the processes it starts",
    "PROMETHEUS_MULTIPROC_DIR": "set by gunicorn.conf.py for its own workers",
    "PORT": "set by honcho for each Procfile process (METRICS_PORT is the setting)",
    "XDG_CACHE_HOME": "the desktop standard's cache directory (ENGINES_CACHE_DIR is the setting)",
}
# Calls that read an environment variable, its name as the first argument (django-environ's `env`,
# os.environ); a module's own helper that passes its parameter on to one of them counts as one too.
ENV_READERS = re.compile(r"^(env(\.\w+)?|os\.environ\.(get|setdefault)|os\.getenv)$")


def _call_name(node: ast.expr) -> str:
    return ast.unparse(node)


def _names(argument: ast.expr) -> list[str] | None:
    """The variable names an argument spells: a literal, or an f-string expanded over the channels."""
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return [argument.value]
    if isinstance(argument, ast.JoinedStr):
        literal = "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in argument.values)
        if literal.count("{}") == 1:
            return [literal.format(prefix) for prefix in CHANNEL_PREFIXES]
    return None


def _read_argument(node: ast.AST, helpers: set[str]) -> ast.expr | None:
    """The expression naming the variable when `node` reads one, else None."""
    if isinstance(node, ast.Call) and node.args:
        called = _call_name(node.func)
        if ENV_READERS.match(called) or called in helpers:
            return node.args[0]
    if isinstance(node, ast.Subscript) and _call_name(node.value) == "os.environ":
        return node.slice
    return None


def _helpers(tree: ast.Module) -> set[str]:
    """Functions that read the variable their parameter names (`def _env(name, default)`)."""
    helpers = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef):
            parameters = {argument.arg for argument in function.args.args}
            for node in ast.walk(function):
                argument = _read_argument(node, set())
                if isinstance(argument, ast.Name) and argument.id in parameters:
                    helpers.add(function.name)
    return helpers


def names_read() -> tuple[dict[str, list[str]], list[str]]:
    """Each variable read → where ("path:line"), and the reads whose name the source does not spell."""
    found: dict[str, list[str]] = defaultdict(list)
    unreadable = []
    for path in SOURCES:
        where_file = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(), str(path))
        helpers = _helpers(tree)
        for node in ast.walk(tree):
            argument = _read_argument(node, helpers)
            if argument is None:
                continue
            if isinstance(argument, ast.Name) and any(
                argument.id in {a.arg for a in f.args.args}
                for f in ast.walk(tree)
                if isinstance(f, ast.FunctionDef) and f.name in helpers
            ):
                continue  # inside a helper: its callers name the variable
            names = _names(argument)
            if names is None:
                unreadable.append(f"{where_file}:{node.lineno}: {ast.unparse(node)}")
                continue
            for name in names:
                found[name].append(f"{where_file}:{node.lineno}")
    return found, unreadable


def names_listed() -> set[str]:
    """Names given a line in .env.example, set (`NAME=…`) or shown commented out (`# NAME=…`)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^(?:# ?)?([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def _channel_suffix(name: str) -> str | None:
    prefix, _, suffix = name.partition("_")
    return suffix if prefix in CHANNEL_PREFIXES and suffix else None


def test_env_example_lists_exactly_what_the_code_reads():
    read, unreadable = names_read()
    # The databases' variables are read through a table (env.db_url(var, …)), not spelled at the call.
    for variable, _name in settings.DATABASE_ENV_VARS.values():
        read[variable].append("config/settings/base.py: DATABASE_ENV_VARS")
    unreadable = [line for line in unreadable if "env.db_url(var" not in line]
    # Procfile commands read variables too (honcho's shell expands them).
    for name in re.findall(r"\$\{(\w+)", (ROOT / "Procfile").read_text()):
        read[name].append("Procfile")
    listed = names_listed()
    # A per-channel variable is listed when any channel's line is (the section names the three prefixes).
    listed_suffixes = {suffix for name in listed if (suffix := _channel_suffix(name))}
    read_suffixes = {suffix for name in read if (suffix := _channel_suffix(name))}

    missing = sorted(
        name
        for name in read
        if name not in listed and name not in NOT_SETTINGS and _channel_suffix(name) not in listed_suffixes
    )
    unread = sorted(name for name in listed if name not in read and _channel_suffix(name) not in read_suffixes)
    # A per-channel variable missing for every channel is one line to add (EMAIL_…, in its section).
    shown = {}
    for name in missing:
        suffix = _channel_suffix(name)
        if suffix and all(f"{prefix}_{suffix}" in missing for prefix in CHANNEL_PREFIXES):
            shown.setdefault(f"<CHANNEL>_{suffix}", set()).update(read[name])
        else:
            shown[name] = set(read[name])
    problems = []
    if missing:
        problems.append(
            "read by the code but missing from .env.example (add a line with its default and meaning):\n"
            + "\n".join(f"  {name}  (read at {', '.join(sorted(where))})" for name, where in shown.items())
        )
    if unread:
        problems.append(
            "in .env.example but read nowhere in "
            + ", ".join(str(p.relative_to(ROOT)) for p in SOURCES[-4:])
            + ", config/settings/ or the Procfile (remove the line, or the code lost a setting):\n"
            + "\n".join(f"  {name}" for name in unread)
        )
    if unreadable:
        problems.append(
            "reads whose variable name this test cannot work out (spell the name, or teach the test):\n"
            + "\n".join(f"  {line}" for line in unreadable)
        )
    assert not problems, "\n\n".join(problems)


def test_env_example_sets_no_variable_read_before_it():
    # manage.py, wsgi.py and asgi.py pick the settings module before the settings read .env.
    assert "DJANGO_SETTINGS_MODULE" not in names_listed()
