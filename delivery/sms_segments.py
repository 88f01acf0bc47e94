"""How an SMS body is encoded and how many segments (billed parts) it takes.

A body made only of GSM 03.38 characters goes as GSM-7: 160 septets in one part, 153 per
part once it is split (the concatenation header takes the rest). Characters from the
extension table cost two septets (an escape and the character). Anything else forces UCS-2
for the whole body: 70 UTF-16 units in one part, 67 per part; a character beyond the Basic
Multilingual Plane (most emoji) is a surrogate pair, two units. Phones and carriers never
split an escape sequence or a surrogate pair across parts, so such a character that does not
fit in what is left of a part starts the next one.
"""

from __future__ import annotations

import enum


class SmsEncoding(enum.StrEnum):
    GSM_7 = "GSM-7"
    UCS_2 = "UCS-2"


# The GSM 03.38 default alphabet without its escape code (0x1B), in code order.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_SEGMENT = 160
GSM7_MULTI_SEGMENT = 153
UCS2_SINGLE_SEGMENT = 70
UCS2_MULTI_SEGMENT = 67


def sms_segments(text: str) -> tuple[SmsEncoding, int]:
    """The encoding `text` needs and its segment count (0 for an empty body)."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        units = [2 if char in GSM7_EXTENSION else 1 for char in text]
        encoding, single, multi = SmsEncoding.GSM_7, GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT
    else:
        units = [2 if ord(char) > 0xFFFF else 1 for char in text]
        encoding, single, multi = SmsEncoding.UCS_2, UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT
    total = sum(units)
    if total <= single:
        return encoding, 1 if total else 0
    segments, used = 1, 0
    for size in units:
        if used + size > multi:
            segments += 1
            used = 0
        used += size
    return encoding, segments
