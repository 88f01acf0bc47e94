"""SMS encoding and segment counts (GSM 03.38 and UCS-2 concatenation rules)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delivery.sms_segments import GSM7_BASIC, GSM7_EXTENSION, SmsEncoding, sms_segments

GSM_7, UCS_2 = SmsEncoding.GSM_7, SmsEncoding.UCS_2


def test_gsm7_tables_hold_the_whole_default_alphabet_and_its_extension():
    # 128 codes less the escape; the extension adds form feed, ^ { } \ [ ~ ] | and the euro.
    assert len(GSM7_BASIC) == 127
    assert GSM7_EXTENSION == frozenset("\f^{}\\[~]|€")
    assert "\x1b" not in GSM7_BASIC
    assert sms_segments("".join(sorted(GSM7_BASIC))) == (GSM_7, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (GSM_7, 0)),
        ("Your code is 1234", (GSM_7, 1)),
        ("a" * 160, (GSM_7, 1)),
        ("a" * 161, (GSM_7, 2)),
        ("a" * 306, (GSM_7, 2)),
        ("a" * 307, (GSM_7, 3)),
        ("Ärger in Ölfeld? Ça va, señor. ΔΦΓΛΩΠΨΣΘΞ @£$¥ èéùìò\n", (GSM_7, 1)),
    ],
)
def test_gsm7_bodies_take_160_septets_alone_and_153_per_part(text, expected):
    assert sms_segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€" * 80, (GSM_7, 1)),  # 160 septets
        ("€" * 81, (GSM_7, 2)),  # 162 septets; 76 euros (152 septets) per part
        ("[" * 152, (GSM_7, 2)),
        ("[" * 153, (GSM_7, 3)),
    ],
)
def test_gsm7_extension_characters_cost_two_septets(text, expected):
    assert sms_segments(text) == expected


def test_gsm7_escape_sequence_is_never_split_across_parts():
    # 306 septets would fit two parts if the euro's escape could end the first part.
    text = "a" * 152 + "€" + "a" * 152

    assert sms_segments(text) == (GSM_7, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ж" * 70, (UCS_2, 1)),
        ("ж" * 71, (UCS_2, 2)),
        ("ж" * 134, (UCS_2, 2)),
        ("ж" * 135, (UCS_2, 3)),
        ("a" * 69 + "ç", (UCS_2, 1)),  # lower-case c-cedilla is not in GSM-7 (only Ç is)
        ("a" * 160 + "✓", (UCS_2, 3)),  # one character outside GSM-7 re-encodes the whole body
        ("Привет, мир", (UCS_2, 1)),
    ],
)
def test_ucs2_bodies_take_70_units_alone_and_67_per_part(text, expected):
    assert sms_segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("😀" * 35, (UCS_2, 1)),  # 70 UTF-16 units
        ("😀" * 36, (UCS_2, 2)),  # 72 units; 33 emoji (66 units) per part
        ("a" * 68 + "😀", (UCS_2, 1)),
        ("a" * 69 + "😀", (UCS_2, 2)),
    ],
)
def test_ucs2_surrogate_pairs_count_as_two_units(text, expected):
    assert sms_segments(text) == expected


def test_ucs2_surrogate_pair_is_never_split_across_parts():
    # 134 units would fit two parts if the emoji's first half could end the first part.
    text = "ж" * 66 + "😀" + "ж" * 66

    assert sms_segments(text) == (UCS_2, 3)


@given(st.text(alphabet=sorted(GSM7_BASIC), max_size=2000))
def test_basic_gsm7_bodies_follow_the_single_and_concatenated_limits(text):
    expected = 0 if not text else 1 if len(text) <= 160 else math.ceil(len(text) / 153)

    assert sms_segments(text) == (GSM_7, expected)


@given(st.text(alphabet=st.characters(min_codepoint=0x0400, max_codepoint=0x04FF), min_size=1, max_size=1000))
def test_bmp_ucs2_bodies_follow_the_single_and_concatenated_limits(text):
    expected = 1 if len(text) <= 70 else math.ceil(len(text) / 67)

    assert sms_segments(text) == (UCS_2, expected)
