"""Writers of one SQLite database take turns across processes (config.db_writes): the API's gunicorn
workers each commit from their own thread, and none of them should meet SQLite's busy handler, whose
growing sleeps were most of a request's wait under load."""

import os
import sqlite3
import subprocess
import sys

from tests.processes import PROJECT_DIR, wait_for

WRITES_PER_PROCESS = 300

# Each writer waits for the go file, so that all of them write at once.
WRITER = """
import os, pathlib, sys, time
import django
django.setup()
from django.db import connection
from config.db_writes import write_transaction
go = pathlib.Path(sys.argv[2])
pathlib.Path(sys.argv[3]).touch()  # ready
while not go.exists():
    time.sleep(0.01)
for _ in range(int(sys.argv[1])):
    with write_transaction("default"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO turns (writer) VALUES (%s)", [os.getpid()])
"""


def test_writers_in_three_processes_take_turns_without_meeting_sqlite_s_busy_handler(tmp_path):
    database = tmp_path / "router.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE turns (writer INTEGER)")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "ROUTER_DATABASE_URL": f"sqlite:///{database}",
        # No busy handler at all: a writer that found the lock taken would fail at once.
        "SQLITE_BUSY_TIMEOUT_SECONDS": "0",
    }
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(3)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(WRITES_PER_PROCESS), str(go), str(marker)],
            cwd=PROJECT_DIR,
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        for marker in ready
    ]
    try:
        wait_for(lambda: all(marker.exists() for marker in ready), timeout=60, what="the writers")
        go.touch()
        outcomes = [(writer.wait(timeout=120), writer.stderr.read()) for writer in writers]
    finally:
        for writer in writers:
            writer.kill()
    assert [code for code, _ in outcomes] == [0, 0, 0], [errors[-1500:] for _, errors in outcomes]
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute("SELECT count(*) FROM turns").fetchone()
    assert count == 3 * WRITES_PER_PROCESS
