"""Whose a message is: the API keeps messages (and their client) in its own tables, the webhooks
worker needs the client to pick endpoints. The API hands the lookup over in its AppConfig.ready(), so
webhooks — a lower layer (docs/architecture.md, "The import layers") — never imports the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection

MessageOwners = Callable[[Collection[uuid.UUID]], dict[uuid.UUID, str]]

_lookup: MessageOwners | None = None


def message_owners_register(lookup: MessageOwners) -> None:
    global _lookup
    _lookup = lookup


def message_owners(message_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The client id of each known message (an unknown id is left out)."""
    if _lookup is None:
        raise RuntimeError("no message owner lookup registered: is the router app installed?")
    return _lookup(message_ids)
