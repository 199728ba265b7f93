"""Values the router's services work with: a validated message request and who sent it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import orjson

from messaging.channels import Channel
from messaging.priorities import Priority


@dataclass(frozen=True)
class TemplateUse:
    name: str
    version: int
    data: Mapping[str, Any]


@dataclass(frozen=True)
class MessageRequest:
    """A request that passed validation (router.accept.requests, on router.accept.rules); nothing here is
    checked again."""

    channel: Channel
    to: str
    body: str
    subject: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    html: str | None = None
    send_at: datetime | None = None  # scheduled: handed to the channel then, not before
    expires_at: datetime | None = None  # as given; None: the channel's default TTL applies (at accept)
    priority: Priority = Priority.NORMAL
    # Rendered from a template (its content above): which one, and the data the client gave.
    template: TemplateUse | None = None

    def effective_expiry(self, *, accepted_at: datetime, default_ttl: timedelta) -> datetime:
        """When it expires: as given, else the channel's default TTL after it is due (its sendAt, or
        its acceptance). Fixed at accept, so GET shows it and a later change of the TTL setting does
        not move the expiry of a message already accepted."""
        if self.expires_at is not None:
            return self.expires_at
        return (self.send_at or accepted_at) + default_ttl

    def fingerprint(self) -> str:
        """Identity of the request as the client sent it, for Idempotency-Key checks: key order and
        JSON whitespace do not matter, every field value does. A templated request is its template
        name and data (not the rendered text, which a later template version would change)."""
        canonical: dict[str, Any] = {"channel": self.channel.value, "to": self.to, "metadata": dict(self.metadata)}
        if self.template is None:
            canonical.update(body=self.body, subject=self.subject)
        else:
            canonical.update(template=self.template.name, data=dict(self.template.data))
        # Only when given: a plain request keeps the fingerprint it had before these fields existed.
        if self.html is not None:
            canonical["html"] = self.html
        if self.send_at is not None:
            canonical["sendAt"] = self.send_at.timestamp()
        if self.expires_at is not None:
            canonical["expiresAt"] = self.expires_at.timestamp()
        if self.priority is not Priority.NORMAL:
            canonical["priority"] = self.priority.value
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
