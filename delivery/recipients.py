"""Recipient validators the channel apps choose from; each raises InvalidRecipient (permanent).

The error text ends up in log events, so it names the recipient the way log events may (masked)."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from delivery.errors import InvalidRecipient
from messaging.masking import recipient_for_logs


def validate_email_address(to: str) -> None:
    try:
        validate_email(to)
    except ValidationError:
        raise InvalidRecipient(f"{recipient_for_logs(to)!r} is not a valid email address") from None


def validate_e164_phone_number(to: str) -> None:
    """E.164 only (`+` and country code), as SMS and WhatsApp providers require."""
    try:
        number = phonenumbers.parse(to, None)
    except phonenumbers.NumberParseException:
        raise InvalidRecipient(f"{recipient_for_logs(to)!r} is not an E.164 phone number") from None
    if not to.startswith("+") or not phonenumbers.is_valid_number(number):
        raise InvalidRecipient(f"{recipient_for_logs(to)!r} is not a valid E.164 phone number")
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != to:
        raise InvalidRecipient(f"{recipient_for_logs(to)!r} is not in E.164 form (no spaces or punctuation)")
