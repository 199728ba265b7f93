"""Recipients as they may appear in log events: masked by default (LOG_MASK_RECIPIENTS).

Log events go to Elasticsearch and Kibana, which more people can read than the service databases,
so they carry just enough of a recipient to tell messages apart and spot a typo in a domain or a
country code: `u***@example.com`, `+4477*****123`. Every log event renders its recipient through
`recipient_for_logs` (messaging.log_events), and so does any error text meant for a log event.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings

MASK = "*"
PHONE_KEEP_AFTER_COUNTRY_CODE = 2
PHONE_KEEP_LAST = 3


def mask_email(address: str) -> str:
    """The local part's first character and the whole domain: `u***@example.com`."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _country_code(digits: str) -> str:
    """The calling code the digits start with (codes are prefix-free, 1 to 3 digits), else the first
    digit. A table lookup: parsing the whole number cost more than the rest of a log event."""
    for length in (1, 2, 3):
        if int(digits[:length] or 0) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return digits[:length]
    return digits[:1]


def mask_phone(number: str) -> str:
    """Country code, the next two digits and the last three: `+4477*****123`."""
    digits = number[1:]
    country_code = _country_code(digits)
    national = digits[len(country_code) :]
    kept = PHONE_KEEP_AFTER_COUNTRY_CODE + PHONE_KEEP_LAST
    if len(national) <= kept:  # too short to keep both ends and still hide something
        return f"+{country_code}{MASK * len(national)}"
    head, tail = national[:PHONE_KEEP_AFTER_COUNTRY_CODE], national[-PHONE_KEEP_LAST:]
    return f"+{country_code}{head}{MASK * (len(national) - kept)}{tail}"


def mask_recipient(recipient: str) -> str:
    """An email address or an E.164 number masked as above; anything else keeps its first character."""
    if "@" in recipient:
        return mask_email(recipient)
    if recipient.startswith("+") and recipient[1:].isascii() and recipient[1:].isdigit():
        return mask_phone(recipient)
    return f"{recipient[:1]}***"


def recipient_for_logs(recipient: str) -> str:
    """The recipient as a log event may carry it: masked unless LOG_MASK_RECIPIENTS is off."""
    # getattr: a settings module without the flag (older branches, scripts) still masks.
    return mask_recipient(recipient) if getattr(settings, "LOG_MASK_RECIPIENTS", True) else recipient
