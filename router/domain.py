"""Values the router's services work with: a validated message request and who sent it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from messaging.channels import Channel


@dataclass(frozen=True)
class MessageRequest:
    """A request that passed validation (router.serializers); nothing here is checked again."""

    channel: Channel
    to: str
    body: str
    subject: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def fingerprint(self) -> str:
        """Identity of the request's content for Idempotency-Key checks: key order and JSON
        whitespace do not matter, every field value does."""
        canonical = {
            "channel": self.channel.value,
            "to": self.to,
            "body": self.body,
            "subject": self.subject,
            "metadata": dict(self.metadata),
        }
        return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def batch_fingerprint(items: Sequence[Any]) -> str:
    """Identity of a batch's content for Idempotency-Key checks: its items as sent (key order and
    whitespace aside), rejected ones included, since they are part of the answer."""
    digest = hashlib.sha256()
    for item in items:
        try:
            digest.update(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
        except (orjson.JSONEncodeError, TypeError):
            # Nested deeper than the JSON writer goes: rejected as an item anyway, so its position
            # in the batch is what the fingerprint keeps of it.
            digest.update(b"<too deep>")
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Client:
    """The caller: an API key (`key:<prefix>`) or a staff user of the browsable API (`user:<pk>`)."""

    id: str
    is_staff: bool = False
