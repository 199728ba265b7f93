"""Durations as settings and command options write them: `500ms`, `2s`, `1.5m`, `1h`, `5d` or a bare
number of seconds. At the bottom layer, so settings can check theirs when they are read."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str) -> float:
    """`500ms`, `2s`, `1.5m`, `1h`, `5d` or a bare number of seconds → seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 2s, 1m, 1d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
