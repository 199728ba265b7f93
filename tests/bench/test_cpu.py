"""The benchmark's CPU accounting: per-process deltas between two snapshots."""

import os
import subprocess
import sys

from bench.cpu import ELSEWHERE, REAPED, CpuSnapshot, snapshot, usage


def test_a_busy_child_shows_up_and_a_restarted_one_counts_from_zero():
    busy = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"]
    )
    before = snapshot({"busy": busy.pid, "me": os.getpid()})
    busy.wait()
    after = snapshot({"me": os.getpid()})
    spent = usage(before, after)["by_process"]
    assert spent[REAPED] >= 0.3  # the child's CPU, reaped by this process
    assert spent["me"] >= 0 and spent[ELSEWHERE] >= 0

    restarted = usage(
        CpuSnapshot(by_process={"sms": (100, 50.0)}, reaped_children=0, machine_busy=0, wall=0),
        CpuSnapshot(by_process={"sms": (200, 2.0)}, reaped_children=0, machine_busy=10, wall=1),
    )
    assert restarted["by_process"]["sms"] == 2.0
    assert restarted["by_process"][ELSEWHERE] == 8.0


def test_a_process_reaped_during_the_phase_counts_only_its_time_in_the_phase():
    before = CpuSnapshot(by_process={"sms": (100, 50.0)}, reaped_children=1.0, machine_busy=0, wall=0)
    after = CpuSnapshot(by_process={"sms": (200, 2.0)}, reaped_children=1.0 + 53.0, machine_busy=60, wall=1)
    assert usage(before, after)["by_process"][REAPED] == 3.0  # the old sms's last 3 s, not its 53
