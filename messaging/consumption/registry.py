"""The consumers `manage.py consume <name>` can run; apps register theirs when Django starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConsumerEntry:
    name: str
    description: str
    # Runs the consumer until SIGTERM/SIGINT; takes the command's options (e.g. max_in_flight).
    run: Callable[..., Any]


_consumers: dict[str, ConsumerEntry] = {}


def register_consumer(name: str, description: str, run: Callable[..., Any]) -> None:
    _consumers[name] = ConsumerEntry(name=name, description=description, run=run)


def consumer_entry(name: str) -> ConsumerEntry:
    try:
        return _consumers[name]
    except KeyError:
        raise LookupError(f"no consumer named {name!r} (known: {', '.join(sorted(_consumers))})") from None


def consumer_names() -> list[str]:
    return sorted(_consumers)
