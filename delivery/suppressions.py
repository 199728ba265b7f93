"""The suppression list of each channel (delivery.models.Suppression): who is added, and why.

Added by a hard bounce or a complaint (delivery.receipts), by the provider refusing an unsubscribed
recipient (Twilio 21610), or by the recipient replying STOP (Twilio's inbound message webhook).

Who may take a recipient off depends on why they are on it. An opt-out (STOP, an unsubscribe the
provider reports, a spam complaint) is the recipient's own word: as carriers and CAN-SPAM / TCPA
practice ask, only they lift it (START, suppression_opt_in) or staff in the admin, never a sender's
API key (suppression_lift refuses). A bounce or an operator's entry any API key may lift.
"""

from __future__ import annotations

from enum import StrEnum

from delivery.models import SuppressionReason
from delivery.registry import ChannelSpec, get_channel
from messaging.channels import Channel

# Twilio's standard opt-out and opt-in keywords (case-insensitive, the whole message body).
OPT_OUT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_KEYWORDS = {"START", "UNSTOP", "YES", "OPTIN"}
OPT_OUT_REASONS = frozenset({SuppressionReason.UNSUBSCRIBED, SuppressionReason.COMPLAINED})


class SuppressionIsOptOut(Exception):
    """The suppression is the recipient's opt-out: a sender cannot lift it (→ 409)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The recipient opted out ({reason}): only the recipient can lift it (an opt-in such as a START "
            "reply), or staff in the admin."
        )
        self.reason = reason


def suppression_add(*, spec: ChannelSpec, recipient: str, reason: SuppressionReason, detail: str = "") -> bool:
    """True when the recipient was not suppressed before (get_or_create settles a race with another
    process on the unique recipient). The first reason is kept, but an opt-out replaces a reason an
    API key could lift: the recipient's STOP must not go with an operator's earlier entry."""
    rows = spec.suppression_model.objects.using(spec.database)
    _, created = rows.get_or_create(recipient=recipient, defaults={"reason": reason, "detail": detail[:2000]})
    if not created and reason in OPT_OUT_REASONS:
        rows.filter(recipient=recipient).exclude(reason__in=OPT_OUT_REASONS).update(reason=reason, detail=detail[:2000])
    return bool(created)


def suppression_lift(*, channel: Channel | str, recipient: str) -> bool:
    """A sender lifts a bounce or an operator's entry: False when the recipient is not suppressed;
    SuppressionIsOptOut for an opt-out, which stays. LookupError for a channel that does not exist."""
    spec = get_channel(channel)
    rows = spec.suppression_model.objects.using(spec.database).filter(recipient=recipient)
    # One conditional DELETE: an opt-out recorded meanwhile is never removed by a check made before it.
    deleted, _ = rows.exclude(reason__in=OPT_OUT_REASONS).delete()
    if deleted:
        return True
    reason = rows.values_list("reason", flat=True).first()
    if reason is not None:
        raise SuppressionIsOptOut(reason)
    return False


def suppression_opt_in(*, spec: ChannelSpec, recipient: str) -> bool:
    """The recipient opted in again (START …): lifts their opt-out, not a bounce or an operator's entry.
    True when one was lifted."""
    rows = spec.suppression_model.objects.using(spec.database).filter(recipient=recipient)
    deleted, _ = rows.filter(reason__in=OPT_OUT_REASONS).delete()
    return deleted > 0


class Reply(StrEnum):
    """What a recipient's reply said about their suppression."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    OTHER = "other"  # anything but a keyword: nothing changes


def suppression_reply_apply(*, channel: Channel | str, recipient: str, body: str, reference: str = "") -> Reply:
    """A recipient's reply (an inbound SMS or WhatsApp message) to the channel: an opt-out keyword
    (STOP …, the whole body, any case) suppresses them as `unsubscribed`, an opt-in keyword (START …)
    lifts their opt-out; any other body changes nothing. `reference` (the provider's id of the
    reply) goes into the suppression's detail."""
    spec = get_channel(channel)
    keyword = body.strip().upper()
    if keyword in OPT_OUT_KEYWORDS:
        detail = f"replied {keyword} ({reference})" if reference else f"replied {keyword}"
        suppression_add(spec=spec, recipient=recipient, reason=SuppressionReason.UNSUBSCRIBED, detail=detail)
        return Reply.OPT_OUT
    if keyword in OPT_IN_KEYWORDS:
        suppression_opt_in(spec=spec, recipient=recipient)
        return Reply.OPT_IN
    return Reply.OTHER


def suppressed_among(*, spec: ChannelSpec, recipients: set[str]) -> set[str]:
    """Which of these recipients are suppressed (one query, for a whole consume batch)."""
    if not recipients:
        return set()
    rows = spec.suppression_model.objects.using(spec.database).filter(recipient__in=recipients)
    return set(rows.values_list("recipient", flat=True))
