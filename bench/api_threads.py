"""CPU per accepted POST by thread of the API's workers, under `wrk -t2 -c32`:
`python -m bench.api_threads [--app api|bare|hello] [--seconds 15]`.

Serves the app as bench/servers.py does (gunicorn, our config), names each worker thread from
`py-spy dump` (Python thread names; librdkafka's threads name themselves), and reads every thread's
user + system CPU from /proc/<pid>/task/<tid>/stat before and after the load (docs/performance.md,
"Issue 27: against a bare durable accept"). Needs `wrk`; py-spy is in requirements/dev.txt.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PY_SPY_THREAD = re.compile(r'Thread (\d+) \((?:idle|active)[^)]*\): "([^"]+)"')


def thread_names(pids: list[str]) -> dict[str, str]:
    """Thread id → Python thread name (numbered pool threads merged into one name)."""
    names: dict[str, str] = {}
    for pid in pids:
        dump = subprocess.run(["py-spy", "dump", "--pid", pid], capture_output=True, text=True).stdout
        names.update({tid: re.sub(r"\d+$", "N", name) for tid, name in _PY_SPY_THREAD.findall(dump)})
    return names


def cpu_by_thread(pids: list[str], names: dict[str, str]) -> dict[str, float]:
    """Seconds of CPU so far, summed by thread name over the processes."""
    seconds: dict[str, float] = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:  # the thread ended
                continue
            name = names.get(task.name) or re.sub(r"\d+$", "N", stat[stat.index("(") + 1 : stat.rindex(")")])
            fields = stat[stat.rindex(")") + 2 :].split()
            seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", default="api", choices=["api", "bare", "hello"])
    parser.add_argument("--seconds", type=float, default=15.0)
    options = parser.parse_args()
    from bench.servers import bench_system, served

    with bench_system("bench-threads-") as (system, key):
        from bench.peer import WrkLoad, run_wrk  # once Django is set up

        with served(system, key, "gunicorn", options.app) as target:
            pid = str(target.pid)
            workers = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split() or [pid]
            names = thread_names(workers)
            before = cpu_by_thread(workers, names)
            result = run_wrk(target.url, WrkLoad(options.seconds), auth=target.auth)
            after = cpu_by_thread(workers, names)
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    requests = max(result.requests_per_second * options.seconds, 1)
    rate = f"{result.requests_per_second:,.1f} req/s, {result.non_2xx} not 2xx"
    print(f"{options.app}: {rate}; CPU per request by thread:")
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {name:32s} {1000 * seconds / requests:.3f} ms")


if __name__ == "__main__":
    main()
