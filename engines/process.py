"""Pid files, liveness and shutdown of engine processes started in their own session."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Collection
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def is_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user (Elasticsearch's user)
        return True
    # A zombie child still answers kill(0); its /proc status says so.
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A port nothing listens on right now (for private engine instances in tests)."""
    return free_ports(1)[0]


def free_ports(count: int, avoid: Collection[int] = ()) -> tuple[int, ...]:
    """`count` different ports nothing listens on right now, none of them in `avoid`.

    Every socket stays bound until all are chosen: a port is free again as soon as its socket closes,
    so two `free_port()` calls in a row may answer the same port (a broker and its controller once
    got one port between them)."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port not in avoid:
                ports.append(port)
        return tuple(ports)
    finally:
        for sock in held:
            sock.close()


def free_port_ladder(rungs: int, step: int, avoid: Collection[int] = ()) -> tuple[int, int]:
    """Two base ports `(a, b)` such that `a + step·i` and `b + step·i` are free for every rung `i`: the
    ports of a private Kafka cluster, whose node `i` listens `step·i` above node 0 as the shared one does.
    One rung is `free_ports(2)`; more are checked by binding them all at once, and drawn again if taken."""
    if rungs == 1:
        first, second = free_ports(2, avoid=avoid)
        return first, second
    for _ in range(100):
        first, second = free_ports(2, avoid=avoid)
        wanted = [base + step * i for i in range(rungs) for base in (first, second)]
        distinct = len(set(wanted)) == len(wanted) and not set(wanted) & set(avoid)
        if distinct and max(wanted) < 65536 and _all_bindable(wanted):
            return first, second
    raise OSError(f"found no {rungs} free port pairs {step} apart")


def _all_bindable(ports: list[int]) -> bool:
    held: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for sock in held:
            sock.close()


def terminate(pid_file: Path, grace_seconds: float = 45.0) -> bool:
    """SIGTERM the process, SIGKILL it after the grace period; True if something was running."""
    pid = read_pid(pid_file)
    if not is_alive(pid):
        pid_file.unlink(missing_ok=True)
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while is_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.2)
    if is_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while is_alive(pid):
            _reap(pid)
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    # Our own children must be reaped or they linger as zombies that still answer kill(0).
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def log_size(path: Path) -> int:
    """Where the next start's lines begin in a log that every start appends to."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def log_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)"
