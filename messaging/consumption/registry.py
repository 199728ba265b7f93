"""The table of the project's Kafka consumers: name → definition (definitions.py), as Sentry keeps
one dict of its consumers. `manage.py consume <name>` runs any entry (assembly.run_consumer).

Each app registers the consumers it owns from its AppConfig.ready(): the table, at the ground floor,
imports none of them, so no consumer's module is imported by the layer it builds on.
"""

from __future__ import annotations

from messaging.consumption.definitions import ConsumerDefinition

_consumers: dict[str, ConsumerDefinition] = {}


def consumer_register(definition: ConsumerDefinition) -> None:
    """Called from an AppConfig.ready() (again when Django sets its apps up again: the entry is
    replaced, not doubled)."""
    _consumers[definition.name] = definition


def consumer_definition(name: str) -> ConsumerDefinition:
    try:
        return _consumers[name]
    except KeyError:
        raise LookupError(f"no consumer named {name!r} (known: {', '.join(sorted(_consumers))})") from None


def consumer_names() -> list[str]:
    return sorted(_consumers)
