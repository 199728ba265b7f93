"""The first thing a developer sees from `bin/run`: a working API key and a curl that uses it.

The development key is created on the first run and kept in DEV_API_KEY_FILE (default
var/dev-api-key: gitignored, mode 600),
so later runs print the same key; only its hash is in the database, as for every key.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from rest_framework_api_key.models import APIKey

DEV_KEY_NAME = "development (bin/run)"


@dataclass(frozen=True)
class DevKey:
    key: str
    created: bool


def dev_api_key(path: Path) -> DevKey:
    """The development key stored at `path`, (re)created when missing, revoked or deleted."""
    if path.exists():
        key = path.read_text().strip()
        if key and APIKey.objects.is_valid(key):
            return DevKey(key=key, created=False)
    _, key = APIKey.objects.create_key(name=DEV_KEY_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    os.chmod(path, 0o600)
    return DevKey(key=key, created=True)


def sample_curl(base_url: str, key: str) -> str:
    body = '{"channel": "email", "to": "ada@example.com", "subject": "Hello", "body": "Hi Ada!"}'
    return (
        f"curl -si -X POST {base_url}/api/v1/messages \\\n"
        f"  -H {shlex.quote('Authorization: Api-Key ' + key)} \\\n"
        f"  -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(body)}"
    )


def welcome_text(base_url: str, dev_key: DevKey, key_file: Path) -> str:
    state = "created for this checkout" if dev_key.created else "kept from an earlier run"
    return "\n".join(
        [
            "",
            "=" * 78,
            " Communication Aggregator is starting",
            "=" * 78,
            f" Development API key ({state}, stored in {key_file}):",
            f"   {dev_key.key}",
            "",
            " Send a message (paste into another terminal):",
            *("   " + line for line in sample_curl(base_url, dev_key.key).splitlines()),
            "",
            " Then follow it (id from the answer above):",
            f"   curl -s {base_url}/api/v1/messages/<id> -H 'Authorization: Api-Key {dev_key.key}'",
            "",
            f" Swagger UI:       {base_url}/api/docs/",
            f" Browsable API:    {base_url}/api/v1/messages  (log in to admin as staff first)",
            f" Admin:            {base_url}/admin/   (create a user: bin/manage createsuperuser)",
            f" Health:           {base_url}/healthz   {base_url}/readyz",
            " Ctrl-C stops everything (and the engines this run started); data stays in var/.",
            "=" * 78,
            "",
        ]
    )
