"""Segments as Twilio counts them: GSM-7 160 / 153 per part, UCS-2 70 / 67 per part (UTF-16 units)."""

import pytest

from delivery.segments import call_cost, message_segments
from messaging.channels import Channel


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        (("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà" * 4)[:160], 1),  # 160 of the basic set's own
        (("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà" * 4)[:161], 2),
        ("€" * 80, 1),  # extension characters take two septets: 160
        ("€" * 81, 2),
        ("a" + "€" * 76, 1),  # 153 septets in one part... still under 160: one segment
        ("a" * 152 + "€" + "a" * 10, 2),  # the escape pair is not split: 152 + (2 + 10) in the second
        ("a" * 152 + "€" * 77, 3),  # 152 | 76 pairs (152) | 1 pair
        ("Ω" * 160, 1),  # Greek capitals of the GSM basic set stay GSM-7
        ("\u03b1" * 70, 1),  # small Greek alpha is not GSM-7: UCS-2
        ("\u03b1" * 71, 2),
        ("a" * 159 + "é", 1),  # é is in the GSM set
        ("a" * 69 + "á", 1),  # á is not: the whole body becomes UCS-2
        ("a" * 70 + "á", 2),
        ("a" * 134 + "á", 3),  # 135 units: 67 + 67 + 1
        ("😀" * 35, 1),  # an emoji is two UTF-16 units: 70
        ("😀" * 36, 2),
        ("a" + "😀" * 33 + "b" * 10, 2),  # 1 + 66 = 67, the 34th emoji would split: it goes on
        ("a" * 66 + "😀" + "a" * 66, 3),  # 66 | the pair + 65 | 1: a pair is never split (not 134 / 67 = 2)
    ],
)
def test_message_segments(body, segments):
    assert message_segments(body) == segments


def test_only_sms_and_whatsapp_count_segments():
    assert call_cost(Channel.SMS, "a" * 161) == call_cost(Channel.WHATSAPP, "a" * 161) == 2
    assert call_cost(Channel.EMAIL, "a" * 1000) == 1
