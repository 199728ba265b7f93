"""Links to a message's trace page that need no login: signed for one message, valid for a day. The
API gives one to the key that sent the message (`traceUrl`), so its owner can open the page in a
browser; staff signed in to the admin need none."""

from __future__ import annotations

import uuid

from django.core import signing
from django.urls import reverse

SALT = "router.trace-page"
MAX_AGE_SECONDS = 24 * 3600


def trace_token(message_id: uuid.UUID) -> str:
    return signing.dumps(str(message_id), salt=SALT, compress=True)


def trace_path(message_id: uuid.UUID) -> str:
    return f"{reverse('message-trace', kwargs={'message_id': message_id})}?t={trace_token(message_id)}"


def trace_token_valid(token: str, message_id: uuid.UUID) -> bool:
    try:
        return signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS) == str(message_id)
    except signing.BadSignature:  # tampered or expired (SignatureExpired is one)
        return False
