"""gunicorn's gthread worker with two guards in front of its thread pool (`gunicorn.conf.py` selects it).

- **Slow clients hold no thread.** Stock gthread hands a connection to a thread as soon as its first
  byte arrives, and the thread then blocks reading the rest: 64 clients sending their headers a byte a
  second take every thread of both workers. Here the worker's own event loop reads what arrives,
  without blocking, until the request head is complete (and a small body with it); only then does a
  thread get the connection, with those bytes handed to gunicorn's parser. A head that takes longer
  than API_HEADER_TIMEOUT_SECONDS is dropped.
- **Overload is shed, not queued.** Stock gthread queues every request for a thread without a bound,
  so at three times its capacity clients wait seconds. Here at most API_QUEUE_LIMIT requests wait for
  a thread; the next one is answered at once `503` with `Retry-After` (JSON, as the API's errors), on
  the event loop, and its connection is kept for the client's retry when the request was read whole
  (a reconnection per refusal would cost the overloaded loop an accept and the client a handshake).
- **The loop keeps up with bursts.** Stock gthread accepts one connection per turn of its loop and
  reads it on the next turn; each turn waits for the GIL behind the busy request threads, so under a
  burst new connections sat in the kernel's queue for seconds. Here a turn accepts its share of what
  is waiting (up to ACCEPT_BURST, while the queue has room) and reads each new connection's request at
  once if it has arrived.
- **Clients are spread over the workers.** A worker already serving a connection leaves a new one to
  an idle worker first (ACCEPT_YIELD_SECONDS), so two batch clients connecting together run on both
  workers instead of one after the other on one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import socket
import struct
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
# A request after which the connection cannot be kept: the client asked to close it, or its body's
# end is not known from its head.
_ENDS_CONNECTION = re.compile(rb"\r\n(connection:[^\r\n]*close|transfer-encoding:)", re.IGNORECASE)
ACCEPT_BURST = 64
# Every worker's loop is woken by a new connection and the first to call accept() takes it, however
# busy its request threads are: two batch clients connecting together mostly landed on one worker,
# whose requests then ran one at a time (one process runs one thread's Python at a time) while the
# other worker idled. A worker with a connection in progress waits this long before accepting.
ACCEPT_YIELD_SECONDS = 0.002
# struct tcp_info (linux/tcp.h): tcpi_state is its first byte; for a listening socket the u32
# tcpi_unacked, after 8 bytes of flags and four u32s, holds the accept queue's length.
_TCP_LISTEN = 10
_TCPI_UNACKED_OFFSET = 24
_TCP_INFO_READ_BYTES = 32

SHED_BODY = b'{"detail":"The server is at capacity; retry after the time Retry-After gives."}'
_SHED_HEAD = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Content-Length: " + str(len(SHED_BODY)).encode() + b"\r\n"
)
SHED_RESPONSE = _SHED_HEAD + b"Connection: close\r\n\r\n" + SHED_BODY
SHED_RESPONSE_KEEP_ALIVE = _SHED_HEAD + b"\r\n" + SHED_BODY


class GuardedThreadWorker(ThreadWorker):
    def init_process(self) -> None:
        self.queue_limit = int(os.environ.get("API_QUEUE_LIMIT", "0")) or 4 * self.cfg.threads
        self.header_timeout = float(os.environ.get("API_HEADER_TIMEOUT_SECONDS", "10"))
        self.waiting = 0  # requests queued for a thread, not yet started
        self.shed = 0
        self._partial: dict[TConn, tuple[float, bytearray]] = {}
        super().init_process()

    # --- accepting, and reading the head on the event loop ---------------------------------------
    def accept(self, server: Any, listener: socket.socket) -> None:
        if self.cfg.workers > 1 and self.nr_conns > len(self._keep):
            # Serving already: give an idle worker the first chance at it (see ACCEPT_YIELD_SECONDS).
            time.sleep(ACCEPT_YIELD_SECONDS)
        for taken in range(self._fair_share(listener)):
            if not self.alive or self.nr_conns >= self.worker_connections:
                return
            if taken and self.waiting >= self.queue_limit:
                return  # full: one per turn, as stock gthread, and the other workers take the rest
            try:
                sock, client = listener.accept()
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                    return
                raise
            self.nr_conns += 1
            # A client sends its request right after connecting: it is usually here already.
            self._read_head(TConn(self.cfg, sock, client, server), None)

    def _fair_share(self, listener: socket.socket) -> int:
        """How many waiting connections this turn takes: its share of those in the listener's queue,
        so that clients connecting together are spread over the workers. A worker that took them all
        would keep them (keep-alive), and two batch clients on one worker run at half the speed of
        one on each: a worker runs one request's Python at a time."""
        waiting = _accept_queue_length(listener)
        if waiting is None:
            return ACCEPT_BURST
        return max(1, min(ACCEPT_BURST, -(-waiting // max(1, self.cfg.workers))))

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        partial_head = self._partial.pop(conn, None)
        with self._lock:
            self.poller.unregister(client)
            if conn.timeout is not None and partial_head is None:  # an idle keep-alive connection wakes up
                try:
                    self._keep.remove(conn)
                except ValueError:
                    return  # raced with the keep-alive sweep, which closed it
        self._read_head(conn, partial_head)

    def _read_head(self, conn: TConn, partial_head: tuple[float, bytearray] | None) -> None:
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
            self._refuse(conn, received)
            return
        conn.init()
        conn.parser.unreader.unread(received)
        self.waiting += 1
        future = self.tpool.submit(self._handle_counted, conn)
        self._wrap_future(future, conn)

    def _refuse(self, conn: TConn, received: bytes) -> None:
        """Answer 503 on the loop without blocking it: a client whose socket cannot take the few bytes
        at once (it is not reading) is dropped, as is one whose request was not read whole."""
        # As gunicorn keeps a served connection: keep-alive on, and room among the idle ones.
        room = self.cfg.keepalive and len(self._keep) < self.max_keepalived
        keep = self.alive and room and _whole_single_request(received)
        answer = SHED_RESPONSE_KEEP_ALIVE if keep else SHED_RESPONSE
        try:
            sent = conn.sock.send(answer)
        except OSError:  # a client gone already needs no answer
            sent = 0
        if not keep or sent < len(answer):
            self._drop(conn)
            return
        conn.set_timeout()
        with self._lock:
            self._keep.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))

    def _handle_counted(self, conn: TConn) -> Any:
        self.waiting -= 1  # the counter is only a bound: a race off by one does not matter
        return self.handle(conn)


def _accept_queue_length(listener: socket.socket) -> int | None:
    """Connections waiting to be accepted (Linux: a listening socket's TCP_INFO holds its accept
    queue's length in `tcpi_unacked`); None where that cannot be read (a Unix socket, another OS)."""
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_READ_BYTES)
    except (AttributeError, OSError):
        return None
    if len(info) < _TCP_INFO_READ_BYTES or info[0] != _TCP_LISTEN:
        return None
    return int(struct.unpack_from("I", info, _TCPI_UNACKED_OFFSET)[0])


def _whole_single_request(received: bytes) -> bool:
    """Whether `received` is exactly one plain HTTP/1.1 request, head and body, after which the
    connection may carry the client's next request. Anything unusual closes it instead: HEAD (its
    client reads no body, and the 503 has one), a folded header line, two Content-Lengths."""
    end = received.find(HEAD_END)
    if end < 0 or received.startswith(b"HEAD "):
        return False
    head = received[: end + 2]
    if not head[: head.find(b"\r\n")].endswith(b"HTTP/1.1") or _ENDS_CONNECTION.search(head):
        return False
    if b"\r\n " in head or b"\r\n\t" in head:
        return False
    lengths = _CONTENT_LENGTH.findall(head)
    if len(lengths) > 1:
        return False
    return len(received) == end + len(HEAD_END) + (int(lengths[0]) if lengths else 0)
