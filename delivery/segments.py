"""How many SMS segments a text takes, as carriers (and Twilio's rate limits) count them.

A text made only of GSM-7 characters fits 160 septets in one segment, 153 per segment once split (the
rest carries the concatenation header); the extension table's characters (`{`, `€`, …) take two
septets. Any other character makes the whole text UCS-2: 70 UTF-16 code units in one segment, 67 per
segment once split.
"""

from __future__ import annotations

import math

# The GSM 03.38 default alphabet and its extension table (each of the latter is escape + character).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def _gsm7_septets(body: str) -> int | None:
    """The text's length in GSM-7 septets; None when a character is not in GSM-7."""
    septets = 0
    for character in body:
        if character in _GSM7_BASIC:
            septets += 1
        elif character in _GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def message_segments(body: str) -> int:
    """Segments `body` takes as one SMS (or WhatsApp message counted alike); an empty text takes one."""
    septets = _gsm7_septets(body)
    if septets is not None:
        return 1 if septets <= GSM7_SINGLE else math.ceil(septets / GSM7_PART)
    units = len(body.encode("utf-16-le")) // 2  # characters beyond the BMP take two
    return 1 if units <= UCS2_SINGLE else math.ceil(units / UCS2_PART)
