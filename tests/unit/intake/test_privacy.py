"""The privacy guard: every plate format of Belgium and its neighbours, national register
numbers and IBANs masked when certain, asked about when not, and what only looks like one
left alone."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.intake.domain.checksums import iban_valid, national_register_number_valid
from services.intake.domain.privacy import (
    COMMON_WORDS,
    MASK,
    MASKS,
    Action,
    Decision,
    Kind,
    attachment_problem,
    findings,
    guard_texts,
    pieces,
)
from shared.events import Language

NL = MASK[Language.NL]


def guard(text: str, *decisions: Decision) -> tuple[str, list[str]]:
    """The Dutch text as sent, and the uncertain findings still waiting for a decision."""
    guarded = guard_texts({Language.NL: text}, decisions)
    return guarded.texts[Language.NL], [f.text for f in guarded.unresolved]


@pytest.mark.parametrize(
    "plate",
    [
        # Belgium: since 2010, series 1 to 9, any separator, in capitals or dashed in any case
        "1-ABC-123", "2-XYZ-987", "7-ABD-001", "1ABC123", "1 ABC 123", "1.ABC.123",
        "1-abc-123", "2-Xyz-987", "1 abc 123", "1abc123",
        # 2008-2010 and 1973-2008
        "123-ABC", "123ABC", "123 ABC", "ABC-123", "ABC123", "ABC 123", "ABC.123",
        # special series (oldtimer, moped, trade, transit), diplomatic, before 1973
        "O-ABC-12", "M-ABC-12", "Z-ABC-123", "Q-ABC-123", "OABC12", "o-abc-12", "CD 1234",
        "A.1234", "B-5678",
        # 1951-1973 codes 2 to 10, as the plates show them
        "1.A.234", "12.B.34", "123.C.4", "1234.D", "KP.123", "1.KP.23", "12.KP.3", "123.KP",
        "C.123.A",
        # the Netherlands, sidecodes 1 to 14
        "AB-12-34", "12-34-AB", "12-AB-34", "AB-12-CD", "AB-CD-12", "12-AB-CD", "12-ABC-3",
        "1-ABC-23", "AB-123-C", "A-123-BC", "ABC-12-D", "A-12-BCD", "1-AB-234", "123-AB-4",
        "gz-123-x", "12-abc-3", "GZ123X",
        # France: SIV in any case and separator, FNI with its department
        "AB-123-CD", "ab-123-cd", "AB 123 CD", "AB123CD", "ab 123 cd", "123 ABC 75",
        "1234 AB 2A", "12 ABC 974",
        # Germany: district code, letters, digits (E/H suffix)
        "D-AB 1234", "B-AB 1234", "M AB 1234", "M-A 1", "HH-XY 12E", "LÖ-AB 123",
        # Luxembourg
        "ZK 1234", "XY-9876",
    ],
)  # fmt: skip
def test_every_plate_format_is_masked(plate: str) -> None:
    masked, unresolved = guard(f"Witte bestelwagen {plate} reed weg richting Leuven.")
    assert masked == f"Witte bestelwagen {NL} reed weg richting Leuven."
    assert unresolved == []


@pytest.mark.parametrize(
    "text",
    [
        "een auto abc 123",  # the old Belgian format in lower case: also "van 150"
        "abc-123",  # a weak format in lower case
        "a.1234",
        "m-ab 1234",  # German in lower case
        "lu ab 1234",
        "hij zag 2 man 180",  # the letters are all words
        "IN DE 12",  # in capitals, but every letter group a word
        "rrn 85.07.30-033.29",  # laid out as a national register number, check digits fail
        "IBAN BE71 0961 2345 6768",  # a Belgian IBAN whose check digits fail
    ],
)
def test_what_may_be_an_identifier_waits_for_the_operator(text: str) -> None:
    masked, unresolved = guard(text)
    assert masked == text  # never changed silently
    assert len(unresolved) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Abdijstraat 12 bus 101",  # a box number
        "Rue de la Station 12 bte 3",
        "Hauptstraße 5a, Hausnummer 5a",
        "12 rue de la Gare",
        "bel 101 of 112",
        "BEL 112",
        "appelez le 112 ou le 101",
        "rufen Sie 110 an",
        "tel 0470 12 34 56",
        "gsm: 0470/12.34.56",
        "+32 470 12 34 56",
        "+32 (0)2 123 45 67",
        "0032 2 123 45 67",
        "op de E40 richting Brussel",
        "postcode 3000 Leuven",
        "3000 Leuven",
        "B-1000 Brussel",
        "L-1234 Luxembourg",
        "75001 Paris",
        "PLZ 52062",
        "om 10:30 uur",
        "om 10u30",
        "à 10h30",
        "um 22 Uhr",
        "op 12/05/2026",
        "le 12.05.26",
        "am 2026-05-12",
        "op 1-jan-26",
        "le 3 mai 2026",
        "am 1. Mai",
        "een man van 1m80",
        "180 cm, 25 jaar",
        "een doos van 20x30 cm",
        "à 120 km/h",
        "dossier PV 2026/123456",
        "PV BR.12.L3.012345/2026",
        "pv nr. BR.12.L3.012345/2026",
        "Aktenzeichen 123 Js 456/26",
        "référence AB/2026/123",
        "150 EUR",
        "€ 1.200,50",
        "250 euro",
        "12345",
        "BE0123456789",  # a company number
        "N-VA",
        "ABC",
        "ABCD-1234",  # too many letters and digits
        "1-ABCD-123",
        "12-ABC-123",
        "in de 20 minuten",
        "85073003329",  # eleven digits whose check digits fail: a random number
    ],
)
def test_what_only_looks_like_an_identifier_stays(text: str) -> None:
    assert guard(text) == (text, [])
    assert findings(text, Language.NL) == []


def test_each_language_and_kind_gets_its_own_placeholder_and_every_change_is_listed() -> None:
    guarded = guard_texts(
        {
            Language.NL: "Wagen 1-ABC-123 en ABC-987, rekening BE71 0961 2345 6769",
            Language.FR: "Voiture 1-ABC-123, NN 85.07.30-033.28",
            Language.DE: "Wagen 1-ABC-123",
        }
    )
    assert guarded.texts[Language.FR] == "Voiture [plaque], NN [numéro de registre national]"
    assert guarded.texts[Language.DE] == "Wagen [Kennzeichen]"
    assert guarded.texts[Language.NL] == f"Wagen {NL} en {NL}, rekening [rekeningnummer]"
    assert [c.kind for c in guarded.changes] == [
        "licence_plate", "licence_plate", "iban", "licence_plate",
        "national_register_number", "licence_plate",
    ]  # fmt: skip
    assert {c.decided_by for c in guarded.changes} == {"guard"}


def test_the_operator_masks_or_keeps_each_uncertain_finding() -> None:
    text = "auto abc 123 en later xyz 987"
    assert guard(text) == (text, ["abc 123", "xyz 987"])
    masked, unresolved = guard(
        text, Decision("abc 123", Action.MASK), Decision("xyz 987", Action.KEEP)
    )
    assert (masked, unresolved) == (f"auto {NL} en later xyz 987", [])
    guarded = guard_texts({Language.NL: text}, [Decision("abc 123", Action.MASK)])
    assert [(c.original, c.decided_by) for c in guarded.changes] == [("abc 123", "operator")]
    assert [f.text for f in guarded.unresolved] == ["xyz 987"]


def test_a_decision_holds_in_its_language_only_and_never_unmasks_a_certain_finding() -> None:
    texts = {Language.NL: "auto abc 123", Language.FR: "voiture abc 123, 1-ABC-123"}
    french = Decision("abc 123", Action.KEEP, Language.FR)
    guarded = guard_texts(texts, [french, Decision("1-ABC-123", Action.KEEP)])
    assert [(f.language, f.text) for f in guarded.unresolved] == [(Language.NL, "abc 123")]
    assert guarded.texts[Language.FR] == "voiture abc 123, [plaque]"
    assert guarded.kept == 1
    everywhere = guard_texts(texts, [Decision("abc 123", Action.MASK)])
    assert everywhere.unresolved == []
    assert everywhere.texts[Language.NL] == f"auto {NL}"


def test_pieces_rebuild_the_written_and_the_sent_text_and_mark_what_is_asked() -> None:
    text = "Wagen 1-ABC-123, toen abc 123 gezien"
    cut = pieces(text, Language.NL)
    assert "".join(p.text for p in cut) == text
    assert "".join(p.replacement or p.text for p in cut) == guard(text)[0]
    asked = [p for p in cut if p.finding and not p.finding.certain]
    assert [(p.text, p.replacement, p.decision) for p in asked] == [("abc 123", None, None)]
    decided = pieces(text, Language.NL, [Decision("abc 123", Action.MASK)])
    assert [p.replacement for p in decided if p.finding] == [NL, NL]


# --- check digits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("85073003328", True),  # born 1985
        ("01021512373", True),  # born 2001: the check counts a leading 2
        ("85073003329", False),
        ("85133003328", False),  # no 13th month
        ("85273003300", None),  # a BIS number (month + 20): valid when its check matches
        ("8507300332", False),
    ],
)
def test_national_register_number_check_digits(digits: str, valid: bool | None) -> None:
    if valid is None:
        check = 97 - int(digits[:9]) % 97
        assert national_register_number_valid(digits[:9] + f"{check:02d}")
    else:
        assert national_register_number_valid(digits) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("BE71096123456769", True),
        ("be71096123456769", True),
        ("NL91ABNA0417164300", True),
        ("FR1420041010050500013M02606", True),
        ("DE89370400440532013000", True),
        ("LU280019400644750000", True),
        ("BE71096123456768", False),
        ("BE7109612345676", False),  # one character short for Belgium
    ],
)
def test_iban_check_digits(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


# --- properties ----------------------------------------------------------------------------

UPPER = "ABCDEFGHJKLMNPRSTVWXYZ"  # no vowels: no accidental words
SEPARATORS = st.sampled_from(["-", " ", ".", ""])


def _letters(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=UPPER, min_size=n, max_size=n)


def _digits(n: int, first: str = "0123456789") -> st.SearchStrategy[str]:
    return st.tuples(
        st.sampled_from(first), st.text(alphabet="0123456789", min_size=n - 1, max_size=n - 1)
    ).map("".join)


PLATES = st.one_of(
    st.tuples(_digits(1, "123456789"), _letters(3), _digits(3)),  # BE since 2010
    st.tuples(_letters(3), _digits(3)),  # BE 1973-2008
    st.tuples(_digits(3), _letters(3)),  # BE 2008-2010
    st.tuples(_letters(2), _digits(3), _letters(2)),  # FR SIV
    st.tuples(_letters(2), _digits(2), _digits(2)),  # NL sidecode 1
    st.tuples(_digits(2), _letters(3), _digits(1)),  # NL sidecode 7
    st.tuples(_letters(1), _digits(3), _letters(2)),  # NL sidecode 10
)


@given(PLATES, SEPARATORS, st.sampled_from(["gezien: {}.", "{} reed weg", "auto ({})"]))
def test_any_plate_in_capitals_is_masked_whatever_its_separator(
    groups: tuple[str, ...], sep: str, sentence: str
) -> None:
    plate = sep.join(groups)
    # Letters that are all words ("1 GSM 123"), without the plate's dashes, are asked about.
    assume(sep == "-" or not {g.lower() for g in groups if g.isalpha()} <= COMMON_WORDS)
    masked, unresolved = guard(sentence.format(plate))
    assert plate not in masked and NL in masked and unresolved == []


@given(PLATES, SEPARATORS)
def test_any_plate_in_lower_case_is_masked_or_asked_about(
    groups: tuple[str, ...], sep: str
) -> None:
    plate = sep.join(groups).lower()
    # Lower-case letters after digits that name a unit or a street read as such ("123 km",
    # "12 av").
    assume(not (sep == " " and groups[-1] in {"KM", "M", "CM", "MM", "KG", "AV", "BD"}))
    # ... and so do lower-case letters before digits that name a number ("nr 123", "no 12").
    assume(not (sep in " ." and groups[0] in {"NR", "NO", "BT", "PV", "AZ"}))
    # Dutch plates of two-character groups are written with dashes; with spaces, in lower
    # case, they are prose ("in de 20 minuten").
    assume(not (sep == " " and all(len(g) == 2 for g in groups)))
    found = findings(f"gezien: {plate}.", Language.NL)
    assert [f.text for f in found] == [plate]


@given(
    st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ", min_size=1, max_size=3),
    st.text(alphabet=UPPER, min_size=1, max_size=2),
    st.integers(1, 9999).map(str),
    st.sampled_from(["-", " "]),
)
def test_any_german_plate_in_capitals_is_masked(
    district: str, letters: str, number: str, sep: str
) -> None:
    plate = f"{district}{sep}{letters} {number}"
    # Letters that are all words, with spaces, are asked about (tested above).
    assume(not (sep == " " and {district.lower(), letters.lower()} <= COMMON_WORDS))
    assume(len(district + letters + number) <= 8)  # longer is no German plate
    masked, unresolved = guard(f"Wagen {plate} gesehen")
    assert masked == f"Wagen {NL} gesehen" and unresolved == []


def _with_check(body: str) -> str:
    return body + f"{97 - int(body) % 97:02d}"


NATIONAL_NUMBERS = st.builds(
    lambda yy, mm, dd, serial: _with_check(f"{yy:02d}{mm:02d}{dd:02d}{serial:03d}"),
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(1, 998),
)


@given(NATIONAL_NUMBERS, st.sampled_from(["plain", "dotted", "spaced"]))
def test_any_national_register_number_is_masked(digits: str, layout: str) -> None:
    written = {
        "plain": digits,
        "dotted": f"{digits[:2]}.{digits[2:4]}.{digits[4:6]}-{digits[6:9]}.{digits[9:]}",
        "spaced": f"{digits[:6]} {digits[6:9]} {digits[9:]}",
    }[layout]
    masked, unresolved = guard(f"verdachte, rijksregisternummer {written}, gezien")
    mask = MASKS[Kind.NATIONAL_REGISTER_NUMBER][Language.NL]
    assert masked == f"verdachte, rijksregisternummer {mask}, gezien" and unresolved == []


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_eleven_random_digits_are_masked_only_when_they_check(digits: str) -> None:
    masked, unresolved = guard(f"nummer {digits} gezien")
    assert unresolved == []
    assert (masked != f"nummer {digits} gezien") == national_register_number_valid(digits)


def _iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    return f"{country}{check:02d}{bban}"


IBANS = st.one_of(
    st.text(alphabet="0123456789", min_size=12, max_size=12).map(lambda b: _iban("BE", b)),
    st.tuples(_letters(4), st.text(alphabet="0123456789", min_size=10, max_size=10)).map(
        lambda g: _iban("NL", "".join(g))
    ),
    st.text(alphabet="0123456789", min_size=18, max_size=18).map(lambda b: _iban("DE", b)),
)


@given(IBANS, st.booleans())
def test_any_iban_is_masked_in_groups_or_in_one_run(iban: str, grouped: bool) -> None:
    written = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if grouped else iban
    masked, unresolved = guard(f"stort op {written} aub")
    assert masked == f"stort op {MASKS[Kind.IBAN][Language.NL]} aub" and unresolved == []


NEAR_MISSES = st.one_of(
    st.builds("tel 0{}{} {:02d} {:02d} {:02d}".format, st.sampled_from("45"), _digits(2),
              st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
    st.builds("+32 {} {:02d} {:02d} {:02d}".format, _digits(3, "4"), st.integers(0, 99),
              st.integers(0, 99), st.integers(0, 99)),
    st.builds("om {:02d}:{:02d} uur".format, st.integers(0, 23), st.integers(0, 59)),
    st.builds("{}h{:02d}".format, st.integers(0, 23), st.integers(0, 59)),
    st.builds("op {:02d}/{:02d}/{}".format, st.integers(1, 31), st.integers(1, 12),
              st.integers(1990, 2030)),
    st.builds("{} {} {}".format, st.integers(1, 31),
              st.sampled_from(["jan", "mei", "mars", "mai", "juli", "août", "Dezember"]),
              st.integers(1990, 2030)),
    st.builds("{} Leuven".format, st.integers(1000, 9992)),
    st.builds("bus {}".format, st.integers(1, 999)),
    st.builds("Kerkstraat {} bus {}".format, st.integers(1, 300), st.integers(1, 999)),
    st.builds("{} rue de la Gare".format, st.integers(1, 300)),
    st.builds("PV {}.{:02d}.L{}.{:06d}/{}".format, st.sampled_from(["BR", "AN", "GE", "LE"]),
              st.integers(0, 99), st.integers(1, 9), st.integers(0, 999_999),
              st.integers(2020, 2030)),
    st.builds("{} EUR".format, st.integers(1, 99_999)),
    st.builds("€{}".format, st.integers(1, 99_999)),
    st.builds("{} km/u".format, st.integers(1, 250)),
    st.sampled_from(["bel 101", "bel 112", "appelez le 112", "101 of 112", "E40", "E313"]),
)  # fmt: skip


@given(NEAR_MISSES, st.sampled_from(["{}", "Gezien {}.", "{}, daarna weg"]))
def test_near_misses_are_never_changed_nor_asked_about(near_miss: str, sentence: str) -> None:
    text = sentence.format(near_miss)
    assert guard(text) == (text, [])


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.!?éèà", max_size=200))
def test_prose_without_digits_is_never_touched(text: str) -> None:
    assert findings(text, Language.NL) == []


def test_pictures_of_people_are_refused() -> None:
    assert attachment_problem("image/jpeg", shows_people=True) is not None
    assert "shows_people" in (attachment_problem("image/png", shows_people=None) or "")
    assert attachment_problem("image/png", shows_people=False) is None
    assert attachment_problem("application/pdf", shows_people=None) is None
