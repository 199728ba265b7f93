"""Values the router's services work with: a validated message request and who sent it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Client:
    """The caller: an API key (`key:<prefix>`) or a staff user of the browsable API (`user:<pk>`)."""

    id: str
    is_staff: bool = False
