"""The suppression list of each channel (delivery.models.Suppression): who is added, and why.

Added by a hard bounce or a complaint (delivery.receipts), by the provider refusing an unsubscribed
recipient (Twilio 21610), or by the recipient replying STOP (Twilio's inbound message webhook);
START takes the recipient off again, as do the admin and DELETE /api/v1/suppressions/{channel}/{recipient}.
"""

from __future__ import annotations

from delivery.models import Suppression, SuppressionReason
from delivery.registry import ChannelSpec

# Twilio's standard opt-out and opt-in keywords (case-insensitive, the whole message body).
OPT_OUT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_KEYWORDS = {"START", "UNSTOP", "YES", "OPTIN"}


def suppression_add(*, spec: ChannelSpec, recipient: str, reason: SuppressionReason, detail: str = "") -> bool:
    """True when the recipient was not suppressed before (the first reason is kept; get_or_create
    settles a race with another process on the unique recipient)."""
    rows = spec.suppression_model.objects.using(spec.database)
    _, created = rows.get_or_create(recipient=recipient, defaults={"reason": reason, "detail": detail[:2000]})
    return bool(created)


def suppression_get(*, spec: ChannelSpec, recipient: str) -> Suppression | None:
    return spec.suppression_model.objects.using(spec.database).filter(recipient=recipient).first()


def suppression_remove(*, spec: ChannelSpec, recipient: str) -> bool:
    deleted, _ = spec.suppression_model.objects.using(spec.database).filter(recipient=recipient).delete()
    return deleted > 0


def suppressed_among(*, spec: ChannelSpec, recipients: set[str]) -> set[str]:
    """Which of these recipients are suppressed (one query, for a whole consume batch)."""
    if not recipients:
        return set()
    rows = spec.suppression_model.objects.using(spec.database).filter(recipient__in=recipients)
    return set(rows.values_list("recipient", flat=True))
