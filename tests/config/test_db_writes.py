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
if len(sys.argv) > 4:  # SQLite's own busy handler off: meeting its lock taken fails at once
    connection.ensure_connection()
    connection.connection.execute(f"PRAGMA busy_timeout = {int(sys.argv[4])}")
pathlib.Path(sys.argv[3]).touch()  # ready
while not go.exists():
    time.sleep(0.01)
for _ in range(int(sys.argv[1])):
    with write_transaction("default"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO turns (writer) VALUES (%s)", [os.getpid()])
"""


def _database(tmp_path):
    database = tmp_path / "router.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE turns (writer INTEGER)")
    return database


def _environment(database, busy_timeout_seconds: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "ROUTER_DATABASE_URL": f"sqlite:///{database}",
        "SQLITE_BUSY_TIMEOUT_SECONDS": str(busy_timeout_seconds),
    }


def test_writers_in_three_processes_take_turns_without_meeting_sqlite_s_busy_handler(tmp_path):
    database = _database(tmp_path)
    environment = _environment(database, 20)
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(3)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(WRITES_PER_PROCESS), str(go), str(marker), "0"],
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


TWO_THREADS = """
import threading
import django
django.setup()
from django.db import OperationalError
from config.db_writes import serialized_writes
inside, second_done = threading.Event(), threading.Event()
def hold():  # until the second thread is done, or 10 s (an unbounded wait then ends in the turn)
    with serialized_writes("default"):
        inside.set()
        second_done.wait(10)
threading.Thread(target=hold).start()
inside.wait()
try:
    with serialized_writes("default"):
        print("second: took the turn", flush=True)
except OperationalError as error:
    print("second:", error, flush=True)
second_done.set()
"""


def test_a_thread_that_cannot_get_its_process_s_turn_fails_after_the_busy_timeout(tmp_path):
    """As SQLite's own lock did: an error after the busy timeout, not a wait as long as the holder's."""
    database = _database(tmp_path)
    writer = subprocess.run(
        [sys.executable, "-c", TWO_THREADS],
        cwd=PROJECT_DIR,
        env=_environment(database, 1),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "second: database is locked: no write turn within 1s" in writer.stdout, writer.stdout + writer.stderr[-1500:]
