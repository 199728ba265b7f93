"""Where the CPU went during a phase: seconds per process of the run, the engines included, and the
whole machine's busy time, so a figure can be read against what bounded it (and against other load
on a shared machine, which shows as "elsewhere")."""

from __future__ import annotations

import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

# Processes the bench started and already reaped (the load generator, a stopped reindexer): their CPU
# arrives in this process's RUSAGE_CHILDREN.
REAPED = "bench children (load generator, stopped processes)"
ELSEWHERE = "elsewhere (other processes on the machine)"


@dataclass(frozen=True)
class CpuSnapshot:
    by_process: dict[str, tuple[int, float]]  # name → (pid, CPU seconds of its process tree so far)
    reaped_children: float
    machine_busy: float  # CPU seconds all cores were busy since boot
    wall: float


def _tree_seconds(pid: int) -> float | None:
    try:
        root = psutil.Process(pid)
        total = sum(root.cpu_times()[:4])  # user, system, and those of its reaped children
        for child in root.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:
                continue
        return total
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def snapshot(pids: Mapping[str, int]) -> CpuSnapshot:
    seconds = {name: (pid, _tree_seconds(pid)) for name, pid in pids.items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine = psutil.cpu_times()
    return CpuSnapshot(
        by_process={name: (pid, value) for name, (pid, value) in seconds.items() if value is not None},
        reaped_children=children.ru_utime + children.ru_stime,
        machine_busy=machine.user + machine.nice + machine.system + machine.irq + machine.softirq + machine.steal,
        wall=time.monotonic(),
    )


def usage(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, Any]:
    """CPU seconds per process between two snapshots (a process started meanwhile counts from 0),
    the reaped children, the rest of the machine, and the wall time and core count to read them by.
    A process restarted meanwhile (a new pid under the same name) counts from 0; its predecessor,
    reaped by the bench, lands in REAPED."""
    spent: dict[str, float] = {}
    for name, (pid, value) in after.by_process.items():
        earlier_pid, earlier = before.by_process.get(name, (pid, 0.0))
        spent[name] = round(value - (earlier if earlier_pid == pid else 0.0), 2)  # restarted: from 0
    # A process that ended meanwhile brings its whole life's CPU into RUSAGE_CHILDREN: count only
    # what it spent after the first snapshot.
    live_pids = {pid for pid, _ in after.by_process.values()}
    earlier_life = sum(value for pid, value in before.by_process.values() if pid not in live_pids)
    spent[REAPED] = round(max(0.0, after.reaped_children - before.reaped_children - earlier_life), 2)
    busy = after.machine_busy - before.machine_busy
    spent[ELSEWHERE] = round(max(0.0, busy - sum(spent.values())), 2)
    return {
        "wall_seconds": round(after.wall - before.wall, 2),
        "cores": psutil.cpu_count() or 1,
        "machine_busy_seconds": round(busy, 2),
        "by_process": spent,
    }


def ms_per_request(usage: dict[str, Any], requests: int) -> dict[str, float]:
    """Each process's CPU per request (ms), and `total` over the system's own: the load generator and
    the rest of the machine are left out of the total (and listed, so a reader sees what they took)."""
    if requests <= 0:
        return {}
    per = {name: round(seconds * 1000 / requests, 3) for name, seconds in usage["by_process"].items() if seconds > 0}
    per["total"] = round(sum(value for name, value in per.items() if name not in (REAPED, ELSEWHERE)), 3)
    return per
