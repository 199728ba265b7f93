"""The API server's guards (config/gunicorn_worker.py), on a real gunicorn: clients that send their
headers a byte at a time hold no thread, and requests beyond the queue's bound are answered 503 with
Retry-After at once instead of waiting."""

from __future__ import annotations

import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import pytest

from engines.process import free_port
from tests.processes import ManagedProcess, process_env, wait_for
from tests.router.factories import ApiKeyFactory, SmsRequestFactory

pytestmark = pytest.mark.django_db(databases=["default"], transaction=True)


@contextmanager
def api(threads: int, **env: str) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", "1", "--threads", str(threads)]
    process = ManagedProcess(f"api-guards-{port}", argv, process_env(**env))
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return True
        except OSError:
            return False

    try:
        wait_for(up, timeout=60, what="the API")
        yield url
    finally:
        process.stop()


def post(url: str, key: str) -> tuple[int, dict[str, str], float]:
    request = urllib.request.Request(
        url + "/api/v1/messages",
        data=orjson.dumps(SmsRequestFactory()),
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), time.monotonic() - started


def test_clients_sending_headers_a_byte_at_a_time_hold_no_thread():
    key = ApiKeyFactory().raw_key
    with api(threads=2) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        try:
            for connection in slow:  # each has begun a request and will not finish its head for long
                connection.sendall(b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.5)
            # With stock gthread both threads would sit in those reads and this would wait for them.
            status, _, _ = post(url, key)
            assert status == 202
        finally:
            for connection in slow:
                connection.close()


def test_clients_stalling_in_their_body_hold_no_thread():
    """Eight clients that sent their head and most of their body, then stall: a normal POST is still
    served (the worker waits for a small body on its event loop), not left to time out. Seen failing
    under granian, whose WSGI body reads hold a Python thread with no timeout (docs/performance.md)."""
    key = ApiKeyFactory().raw_key
    with api(threads=2) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        try:
            for connection in slow:  # each body is missing its last 40 bytes
                connection.sendall(raw_post(key)[:-40])
            time.sleep(0.5)
            status, _, _ = post(url, key)  # times out (30 s) if every thread waits on a stalled body
            assert status == 202
        finally:
            for connection in slow:
                connection.close()


def test_requests_beyond_the_queue_are_shed_at_once_with_retry_after():
    """One thread, one waiting place, and requests that each take a second (Kafka unreachable: a
    request waits for its acknowledgement, then the outbox takes it): of eight at once, the ones that
    find no place are answered 503 before the first accepted one is done."""
    key = ApiKeyFactory().raw_key
    env = {"API_QUEUE_LIMIT": "1", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "ROUTER_PUBLISH_TIMEOUT_SECONDS": "1"}
    with api(threads=1, **env) as url:
        results: list[tuple[int, dict[str, str], float]] = []
        lock = threading.Lock()

        def send() -> None:
            outcome = post(url, key)
            with lock:
                results.append(outcome)

        clients = [threading.Thread(target=send) for _ in range(8)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(60)
    shed = [r for r in results if r[0] == 503]
    accepted = [r for r in results if r[0] == 202]
    assert len(results) == 8 and len(shed) + len(accepted) == 8, [r[0] for r in results]
    assert shed and accepted, [r[0] for r in results]
    assert all(headers.get("Retry-After") == "1" for _, headers, _ in shed)
    assert max(took for _, _, took in shed) < min(took for _, _, took in accepted)


def test_a_shed_request_read_whole_keeps_its_connection_for_the_retry():
    """A refused client retries on the same connection (no reconnection per 503), and is served once
    there is room; a client that asked to close its connection, or sent HEAD, gets it closed."""
    key = ApiKeyFactory().raw_key
    # Each request holds the one thread for 3 s (Kafka unreachable); the two busy ones are in long before.
    # The refused client's connection must outlive them idle: a keep-alive timeout longer than gunicorn's 2 s.
    env = {"API_QUEUE_LIMIT": "1", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "ROUTER_PUBLISH_TIMEOUT_SECONDS": "3"}
    env["GUNICORN_CMD_ARGS"] = "--keep-alive 30"
    with api(threads=1, **env) as url:
        port = int(url.rsplit(":", 1)[1])
        busy = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]  # thread, place
        keeping = socket.create_connection(("127.0.0.1", port), timeout=10)
        closing = socket.create_connection(("127.0.0.1", port), timeout=10)
        heading = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            for connection in busy:  # apart: the first one in its thread before the second waits
                connection.sendall(raw_post(key))
                time.sleep(0.5)
            keeping.sendall(raw_post(key))
            refused = read_response(keeping)
            closing.sendall(raw_post(key, b"Connection: close\r\n"))
            refused_closing = read_response(closing)
            # A HEAD client reads no body: after the 503's, its connection is closed, not kept.
            heading.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            refused_head = read_response(heading)
            head_closed = heading.recv(1)
            busy_answers = [read_response(connection) for connection in busy]
            keeping.sendall(raw_post(key))
            served = read_response(keeping)
            closed = closing.recv(1)
        finally:
            for connection in (*busy, keeping, closing, heading):
                connection.close()
    assert all(answer.startswith(b"HTTP/1.1 202") for answer in busy_answers), busy_answers
    assert refused.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in refused, refused[:200]
    assert b"Connection: close" not in refused
    assert served.startswith(b"HTTP/1.1 202"), served[:200]
    assert refused_closing.startswith(b"HTTP/1.1 503") and b"Connection: close" in refused_closing
    assert closed == b""
    assert refused_head.startswith(b"HTTP/1.1 503") and head_closed == b""


def raw_post(key: str, extra_headers: bytes = b"") -> bytes:
    body = orjson.dumps(SmsRequestFactory())
    head = (
        f"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Api-Key {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    return head + extra_headers + b"\r\n" + body


def test_a_keep_alive_request_whose_body_comes_after_its_head_is_served():
    """The head and the body of a second request on one connection, sent apart (as `requests` does):
    the worker waits for the body on its event loop, then serves it (found by schemathesis)."""
    key = ApiKeyFactory().raw_key
    body = orjson.dumps(SmsRequestFactory())
    head = (
        f"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Api-Key {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with api(threads=2) as url:
        connection = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)
        try:
            for _ in range(2):
                connection.sendall(head)
                time.sleep(0.3)
                connection.sendall(body)
                answer = read_response(connection)
                assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
        finally:
            connection.close()


def read_response(connection: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body), however the bytes arrive."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, f"the server closed the connection, having sent {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body
