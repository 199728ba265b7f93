"""`bench --only provider_limits`: delivery against real providers that push back (issue 23), at the
fault suite's full scale, as the figures the user feels at the provider:

- throttling: three email workers, a real SMTP server taking 20 emails/s (454 above it), 2,000 low
  emails by batch and 20 high singles, with and without EMAIL_RATE_LIMIT (refusals, drain, high p95);
- crashes: 1,000 emails and five SIGKILLs of the email worker (extra emails, messages held unknown);
- failover: the primary SMTP server SIGKILLed mid-blast and restarted (take-over, doubles, switch back).

The scenarios are the fault tests themselves (tests/faults/), run by pytest in a process of their own
against the engines it finds (or starts); each prints its summary line, collected here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings

SCENARIOS = (
    "tests/faults/test_provider_limits.py",
    "tests/faults/test_smtp_worker_stops.py",
    "tests/faults/test_smtp_failover.py",
)
_FIGURE_LINES = ("[provider limits", "[faults ")


def run_provider_limits() -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["FAULTS_SCALE"] = "full"
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *SCENARIOS]
    result = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=False)
    output = result.stdout.splitlines()
    figures = list(dict.fromkeys(figure for line in output if (figure := _figure(line))))
    return {"command": " ".join(command[2:]), "exit_code": result.returncode, "lines": figures, "tail": output[-3:]}


def _figure(line: str) -> str:
    """A scenario's figure line, from its marker on: pytest's progress dots may stand before a line a
    test printed (-s)."""
    starts = [index for index in (line.find(marker) for marker in _FIGURE_LINES) if index >= 0]
    return line[min(starts) :].strip() if starts else ""


def provider_limits_lines(results: dict[str, Any]) -> list[str]:
    found = results.get("provider_limits")
    if not found:
        return []
    verdict = (
        "passed" if found["exit_code"] == 0 else f"FAILED (exit {found['exit_code']}): {' / '.join(found['tail'])}"
    )
    return ["", f"Delivery against real providers (FAULTS_SCALE=full {found['command']}): {verdict}", *found["lines"]]
