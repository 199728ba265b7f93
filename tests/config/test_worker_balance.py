"""Clients connecting together are spread over the API's workers (config/gunicorn_worker.py), on a
real gunicorn with the project's configuration: a worker runs one request's Python at a time, so two
batch clients kept by one worker ran at half speed while the other worker idled."""

from __future__ import annotations

import http.client
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from engines.process import free_port
from tests.processes import ManagedProcess, process_env, wait_for

ROUNDS = 5
REQUESTS_PER_CLIENT = 5
BODY = b"x" * 100_000  # about a batch's size: read by a request thread, not on the event loop


@contextmanager
def two_workers() -> Iterator[int]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "tests.config.busy_app:app", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", "2"]
    # Started in the project's folder: gunicorn.conf.py gives the worker class and the rest, as for the API.
    process = ManagedProcess(f"api-balance-{port}", argv, process_env())

    answered: set[str] = set()

    def both_up() -> bool:
        """Both workers answered (a new connection each time): neither is still starting."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", data=b"", timeout=2) as response:
                answered.add(response.read().decode())
        except OSError:
            pass
        return len(answered) == 2

    try:
        wait_for(both_up, timeout=60, what="both gunicorn workers", interval=0.01)
        yield port
    finally:
        process.stop()


def client_pids(port: int, start: threading.Barrier, pids: list[set[str]]) -> None:
    """One keep-alive client: connects when the other does, then POSTs one request after another."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start.wait()
    connection.connect()
    served = set()
    for _ in range(REQUESTS_PER_CLIENT):
        connection.request("POST", "/", body=BODY)
        served.add(connection.getresponse().read().decode())
    connection.close()
    pids.append(served)


def test_two_clients_connecting_together_are_served_by_both_workers():
    with two_workers() as port:
        for round_ in range(ROUNDS):
            pids: list[set[str]] = []
            start = threading.Barrier(2)
            clients = [threading.Thread(target=client_pids, args=(port, start, pids)) for _ in range(2)]
            for client in clients:
                client.start()
            for client in clients:
                client.join(60)
            assert len(pids) == 2, f"round {round_ + 1}: a client failed (see the gunicorn log)"
            first, second = pids
            assert len(first) == len(second) == 1, "a keep-alive connection stays with its worker"
            assert first != second, f"round {round_ + 1}: both clients were served by worker {first}"
