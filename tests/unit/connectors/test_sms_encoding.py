"""SMS encoding: GSM 03.38 where it fits, UCS-2 otherwise, parts with a concatenation header."""

from __future__ import annotations

import gsm0338  # noqa: F401
import pytest

from services.connectors.domain import sms_encoding
from services.connectors.domain.sms_encoding import (
    DATA_CODING_GSM,
    DATA_CODING_UCS2,
    ESM_CLASS_UDHI,
    TextTooLong,
    decode,
    encode,
)


def _reassemble(parts: list[sms_encoding.SmsPart]) -> str:
    payload = b"".join(p.short_message[6:] if p.esm_class else p.short_message for p in parts)
    if parts[0].data_coding == DATA_CODING_UCS2:
        return payload.decode("utf-16-be")
    return payload.decode("gsm03.38")


def test_a_short_gsm_text_is_one_part_without_header() -> None:
    [part] = encode("Verdachte wagen in de Abdijstraat, kenteken gemaskeerd.", 7)
    assert part.data_coding == DATA_CODING_GSM and part.esm_class == 0
    assert decode(part.data_coding, part.esm_class, part.short_message).startswith("Verdachte")


def test_160_gsm_characters_fit_one_part_and_161_take_two() -> None:
    assert len(encode("a" * 160, 1)) == 1
    parts = encode("a" * 161, 1)
    assert [len(p.short_message) for p in parts] == [6 + 153, 6 + 8]


def test_french_accents_of_the_gsm_table_stay_gsm() -> None:
    text = "Véhicule suspect près de l'école, conducteur âgé d'environ 30 ans. " * 4
    text = text.replace("â", "a")  # â, ê, ô are not in GSM 03.38 (é, è, à, ù are)
    parts = encode(text, 200)
    assert all(p.data_coding == DATA_CODING_GSM for p in parts)
    assert all(p.esm_class == ESM_CLASS_UDHI for p in parts)
    assert [p.short_message[:6] for p in parts] == [
        bytes((5, 0, 3, 200, len(parts), i)) for i in range(1, len(parts) + 1)
    ]
    assert _reassemble(parts) == text


def test_a_circumflex_makes_a_french_text_ucs2_rather_than_changing_it() -> None:
    text = "Conducteur âgé d'environ 30 ans, fenêtre arrière cassée. " * 3
    parts = encode(text, 4)
    assert {p.data_coding for p in parts} == {DATA_CODING_UCS2}
    assert _reassemble(parts) == text


def test_a_character_outside_gsm_makes_the_whole_text_ucs2() -> None:
    text = "Verdachte persoon bij de kerk, naam Łukasz volgens getuigen. " * 3
    parts = encode(text, 9)
    assert {p.data_coding for p in parts} == {DATA_CODING_UCS2}
    assert all(len(p.short_message) <= 140 for p in parts)
    assert _reassemble(parts) == text


def test_an_escape_pair_is_never_cut_between_parts() -> None:
    text = "a" * 152 + "€" + "b" * 20  # the euro sign's two septets would straddle 153
    parts = encode(text, 3)
    assert len(parts[0].short_message) == 6 + 152
    assert _reassemble(parts) == text


def test_a_surrogate_pair_is_never_cut_between_parts() -> None:
    text = "ł" * 66 + "🚨" + "x" * 10
    parts = encode(text, 3)
    assert len(parts[0].short_message) == 6 + 132
    assert _reassemble(parts) == text


def test_a_text_of_more_than_ten_parts_is_refused() -> None:
    with pytest.raises(TextTooLong):
        encode("a" * 153 * 11, 0)


def test_an_incoming_ucs2_message_with_a_header_is_decoded() -> None:
    body = bytes((5, 0, 3, 1, 1, 1)) + "STOP ✋".encode("utf-16-be")
    assert decode(DATA_CODING_UCS2, ESM_CLASS_UDHI, body) == "STOP ✋"
