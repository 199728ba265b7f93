"""How many SMS segments a body takes: the unit Twilio rates and bills by, so the unit of an SMS or
WhatsApp channel's rate limit.

A body made only of GSM-7 characters (the GSM 03.38 basic set, and its extension table whose
characters take two septets: an escape and the character) fits 160 septets in one segment, 153 per
segment when it needs several (the user-data header takes the rest). Any other character makes the
whole body UCS-2: 70 UTF-16 code units in one segment, 67 per segment when several, and a character
outside the Basic Multilingual Plane (most emoji) takes two units. An escape pair or a surrogate pair
is never split across two segments, as phones and carriers join them back.
"""

from __future__ import annotations

from collections.abc import Iterable

from messaging.channels import Channel

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Channels whose provider rates (and bills) per segment; others count one per message.
SEGMENTED_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


def message_segments(body: str) -> int:
    """Segments `body` takes as one SMS (an empty body still sends one)."""
    characters = set(body)
    # Every character one unit (the usual body): counted by length, not packed one by one, since the
    # API counts this for every message it accepts.
    if characters <= GSM7_BASIC:
        return _uniform_parts(len(body), GSM7_SINGLE, GSM7_PART)
    if characters <= GSM7_BASIC | GSM7_EXTENSION:
        return _parts((2 if char in GSM7_EXTENSION else 1 for char in body), GSM7_SINGLE, GSM7_PART)
    if max(characters) <= "\uffff":
        return _uniform_parts(len(body), UCS2_SINGLE, UCS2_PART)
    return _parts((2 if ord(char) > 0xFFFF else 1 for char in body), UCS2_SINGLE, UCS2_PART)


def call_cost(channel: Channel, body: str) -> int:
    """What one send of `body` counts against a provider's rate: segments for SMS and WhatsApp."""
    return message_segments(body) if channel in SEGMENTED_CHANNELS else 1


def _uniform_parts(count: int, single: int, part: int) -> int:
    """_parts of `count` characters of one unit each."""
    return 1 if count <= single else -(-count // part)


def _parts(sizes: Iterable[int], single: int, part: int) -> int:
    """Parts needed for characters of these sizes: all in one if they fit `single`, else packed
    `part` at a time without splitting a character."""
    sizes = list(sizes)
    if sum(sizes) <= single:
        return 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return parts
