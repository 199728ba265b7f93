"""gunicorn's gthread worker with two guards in front of its thread pool (`gunicorn.conf.py` selects it).

- **Slow clients hold no thread.** Stock gthread hands a connection to a thread as soon as its first
  byte arrives, and the thread then blocks reading the rest: 64 clients sending their headers a byte a
  second take every thread of both workers. Here the worker's own event loop reads what arrives,
  without blocking, until the request head is complete (and a small body with it); only then does a
  thread get the connection, with those bytes handed to gunicorn's parser. A head that takes longer
  than API_HEADER_TIMEOUT_SECONDS is dropped.
- **Overload is shed, not queued.** Stock gthread queues every request for a thread without a bound,
  so at three times its capacity clients wait seconds. Here at most API_QUEUE_LIMIT requests wait for
  a thread; the next one is answered at once `503` with `Retry-After` (JSON, as the API's errors).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

HEAD_END = b"\r\n\r\n"
# A head larger than this is not ours to wait for: hand it to gunicorn, whose limits answer it.
MAX_HEAD_BYTES = 64 * 1024
# A body up to this size is read with the head, so a slow sender of a normal request holds no thread;
# a larger one (a batch) is handed over once its head is in.
MAX_EARLY_BODY_BYTES = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)

SHED_BODY = b'{"detail":"The server is at capacity; retry after the time Retry-After gives."}'
SHED_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(SHED_BODY)).encode() + b"\r\n\r\n" + SHED_BODY
)


class GuardedThreadWorker(ThreadWorker):
    def init_process(self) -> None:
        self.queue_limit = int(os.environ.get("API_QUEUE_LIMIT", "0")) or 4 * self.cfg.threads
        self.header_timeout = float(os.environ.get("API_HEADER_TIMEOUT_SECONDS", "10"))
        self.waiting = 0  # requests queued for a thread, not yet started
        self.shed = 0
        self._partial: dict[TConn, tuple[float, bytearray]] = {}
        super().init_process()

    # --- reading the head on the event loop -----------------------------------------------------
    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        partial_head = self._partial.pop(conn, None)
        with self._lock:
            self.poller.unregister(client)
            if conn.initialized and partial_head is None:  # an idle keep-alive connection wakes up
                try:
                    self._keep.remove(conn)
                except ValueError:
                    return  # raced with the keep-alive sweep, which closed it
        started, buffer = partial_head or (time.monotonic(), bytearray())
        try:
            chunk = conn.sock.recv(MAX_HEAD_BYTES + MAX_EARLY_BODY_BYTES)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                chunk = None
            else:
                self._drop(conn)
                return
        if chunk == b"":  # the client closed
            self._drop(conn)
            return
        if chunk:
            buffer += chunk
        if self._complete(buffer):
            self._dispatch(conn, bytes(buffer))
            return
        self._partial[conn] = (started, buffer)
        with self._lock:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))

    @staticmethod
    def _complete(buffer: bytearray) -> bool:
        end = buffer.find(HEAD_END)
        if end < 0:
            return len(buffer) >= MAX_HEAD_BYTES
        match = _CONTENT_LENGTH.search(buffer, 0, end + 2)
        wanted = min(int(match.group(1)), MAX_EARLY_BODY_BYTES) if match else 0
        return len(buffer) - (end + len(HEAD_END)) >= wanted

    def murder_keepalived(self) -> None:
        super().murder_keepalived()
        now = time.monotonic()
        for conn, (started, _) in list(self._partial.items()):
            if now - started > self.header_timeout:
                del self._partial[conn]
                with self._lock, contextlib.suppress(KeyError, ValueError, OSError):
                    self.poller.unregister(conn.sock)
                self._drop(conn)

    def _drop(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    # --- handing over, or shedding --------------------------------------------------------------
    def _dispatch(self, conn: TConn, received: bytes) -> None:
        if self.waiting >= self.queue_limit:
            self.shed += 1
            with contextlib.suppress(OSError):  # a client gone already needs no answer
                conn.sock.setblocking(True)
                conn.sock.settimeout(1.0)
                conn.sock.sendall(SHED_RESPONSE)
            self._drop(conn)
            return
        conn.init()
        conn.parser.unreader.unread(received)
        self.waiting += 1
        future = self.tpool.submit(self._handle_counted, conn)
        self._wrap_future(future, conn)

    def _handle_counted(self, conn: TConn) -> Any:
        self.waiting -= 1  # the counter is only a bound: a race off by one does not matter
        return self.handle(conn)
