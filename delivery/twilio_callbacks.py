"""What Twilio's webhooks tell a channel (SMS and WhatsApp alike), once the API has checked their
signature: a StatusCallback is a delivery receipt (delivery.receipts), an inbound message a
recipient's reply, whose keywords suppress them or lift their opt-out (delivery.suppressions)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from delivery.events import DeliveryLog
from delivery.models import DeliveryStatus
from delivery.receipts import Receipt, delivery_report_status
from delivery.registry import get_channel
from delivery.suppressions import Reply, suppression_reply_apply
from delivery.twilio import twilio_address_split
from messaging.channels import Channel

# Twilio's MessageStatus values that are receipts; queued/sending/sent/accepted only say it is on its way.
TWILIO_RECEIPTS = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,  # WhatsApp: read implies delivered
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,  # Twilio could not send what it had accepted
}


def twilio_status_apply(
    *,
    message_status: str,
    message_sid: str,
    to: str,
    error_code: str = "",
    message_id: str = "",
    log_for: Callable[[Channel], DeliveryLog],
) -> bool:
    """A StatusCallback's fields (MessageStatus, MessageSid, To, ErrorCode, and the message id we put in
    its URL: delivery.twilio.CALLBACK_MESSAGE_ID) applied to the record of the channel `To` names;
    `log_for(channel)` says so. False when it is no receipt, or it moves no record (a duplicate, one
    out of order, an unknown SID)."""
    status = TWILIO_RECEIPTS.get(message_status)
    if status is None or not message_sid:
        return False
    channel, _ = twilio_address_split(to)
    receipt = Receipt(
        provider_message_id=message_sid,
        status=status,
        error=f"Twilio error {error_code}" if error_code else "",
        message_id=_uuid_or_none(message_id),
    )
    return delivery_report_status(spec=get_channel(channel), receipt=receipt, log=log_for(channel))


def twilio_reply_apply(*, sender: str, body: str, message_sid: str = "") -> Reply:
    """An inbound message's From and Body: STOP … suppresses the sender on the channel their address
    names, START … lifts their opt-out."""
    channel, recipient = twilio_address_split(sender)
    return suppression_reply_apply(
        channel=channel, recipient=recipient, body=body, reference=f"Twilio message {message_sid}"
    )


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None
