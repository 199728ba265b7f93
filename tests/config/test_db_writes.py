"""Writers of one SQLite database take turns across processes (config.db_writes): the API's gunicorn
workers each commit from their own thread, and none of them should meet SQLite's busy handler, whose
growing sleeps were most of a request's wait under load."""

import fcntl
import os
import sqlite3
import subprocess
import sys
import time

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


def test_a_writer_whose_turn_never_comes_fails_after_the_busy_timeout(tmp_path):
    """A holder that stalls (here: this test, holding the turn) costs the writers an error after the
    busy timeout, as SQLite's own lock would, never a wait without end."""
    database = _database(tmp_path)
    go = tmp_path / "go"
    go.touch()
    holder = os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        writer = subprocess.run(
            [sys.executable, "-c", WRITER, "1", str(go), str(tmp_path / "ready")],
            cwd=PROJECT_DIR,
            env=_environment(database, 1),
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    finally:
        os.close(holder)
    assert writer.returncode != 0
    assert "no write turn within 1s" in writer.stderr
    assert elapsed < 30


GIVING_UP_WRITER = """
import pathlib, sys, time
import django
django.setup()
from django.db import OperationalError, connection
from config.db_writes import write_transaction
told, released, written = (pathlib.Path(path) for path in sys.argv[1:4])
def write():
    with write_transaction("default"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO turns (writer) VALUES (1)")
try:
    write()
except OperationalError as error:
    print("first:", error, flush=True)
told.touch()
while not released.exists():
    time.sleep(0.01)
write()
written.touch()
time.sleep(30)  # alive, so the turn it holds (if it still held one) would stay held
"""


def test_a_turn_that_comes_after_its_writer_gave_up_is_handed_back(tmp_path):
    database = _database(tmp_path)
    told, released, written = tmp_path / "told", tmp_path / "released", tmp_path / "written"
    lock_file = f"{database}.writer-lock"
    holder = os.open(lock_file, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    writer = subprocess.Popen(
        [sys.executable, "-c", GIVING_UP_WRITER, str(told), str(released), str(written)],
        cwd=PROJECT_DIR,
        env=_environment(database, 1),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(told.exists, timeout=60, what="the first write to give up")
        fcntl.flock(holder, fcntl.LOCK_UN)  # the stalled holder goes on: its turn reaches the waiter
        # Nobody of the writer's process asks now: the turn it was granted too late must come back.
        # (A pause first, so that the writer's waiter, blocked in flock, has it before we look.)
        time.sleep(0.5)
        other = os.open(lock_file, os.O_RDWR)
        try:
            wait_for(lambda: _free(other), timeout=10, what="the turn to be handed back")
            released.touch()
            wait_for(written.exists, timeout=30, what="the second write")
            wait_for(lambda: _free(other), timeout=10, what="the turn after the second write")
        finally:
            os.close(other)
    finally:
        writer.kill()
        output, errors = writer.communicate(timeout=30)
        os.close(holder)
    assert "first: database is locked: no write turn within 1s" in output, errors[-1500:]


def _free(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    return True
