"""A private PostgreSQL from Debian's packages, for `bin/test --postgres`:

    python -m engines.postgres run -- pytest tests/router tests/delivery tests/faults

initdb into a fresh directory, start it on a free port on 127.0.0.1 (as the unprivileged `postgres`
user when run as root: PostgreSQL refuses to run as root), create one database per service alias,
point every `*_DATABASE_URL` at them, run the command, stop and remove the cluster. Needs the
`postgresql` package (bin/test installs it as root; otherwise `apt-get install postgresql`).
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from engines.process import free_port

# One database per alias, as the SQLite default has one file per service.
DATABASES = {"ROUTER": "comms_router", "EMAIL": "comms_email", "SMS": "comms_sms", "WHATSAPP": "comms_whatsapp"}
SERVICE_USER = "postgres"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"PostgreSQL's {name} not found: apt-get install -y postgresql")
    return found[-1]  # the newest installed version


def _as_service_user(argv: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(argv)
    return ["runuser", "-u", SERVICE_USER, "--", *argv]


@contextmanager
def private_cluster() -> Iterator[int]:
    """A running cluster on a free port (trust authentication, 127.0.0.1 only); yields the port."""
    home = Path(tempfile.mkdtemp(prefix="comms-postgres-"))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVICE_USER)
        for path in (home, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = free_port()
    subprocess.run(
        _as_service_user([_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=300"
    start = [_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "postgres.log"), "-w", "start"]
    subprocess.run(_as_service_user(start), check=True, stdout=subprocess.DEVNULL)
    try:
        for name in DATABASES.values():
            create = [_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name]
            subprocess.run(create, check=True)
        print(f"[postgres] cluster on 127.0.0.1:{port} ({home})", flush=True)
        yield port
    finally:
        subprocess.run(
            _as_service_user([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(home, ignore_errors=True)


def database_urls(port: int) -> dict[str, str]:
    return {
        f"{alias}_DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/{name}" for alias, name in DATABASES.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines.postgres", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run"])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command: python -m engines.postgres run -- <command>")
    with private_cluster() as port:
        return subprocess.run(command, env={**os.environ, **database_urls(port)}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
