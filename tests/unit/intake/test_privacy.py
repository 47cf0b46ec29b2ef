"""The privacy guard: every Belgian plate format masked, with and without separators, and
what only looks like a plate left alone."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.domain.privacy import MASK, attachment_problem, guard_texts, mask_plates
from shared.events import Language

NL = MASK[Language.NL]


@pytest.mark.parametrize(
    "plate",
    [
        # European format since 2010, series 1 to 9
        "1-ABC-123",
        "2-XYZ-987",
        "7-ABD-001",
        "1ABC123",
        "1 ABC 123",
        "1.ABC.123",
        "1-abc-123",
        # 2008-2010
        "123-ABC",
        "123ABC",
        "123 ABC",
        # 1973-2008
        "ABC-123",
        "ABC123",
        "ABC 123",
        "ABC.123",
        # special series: oldtimer, moped, trade, transit
        "O-ABC-12",
        "M-ABC-12",
        "Z-ABC-123",
        "Q-ABC-123",
        "OABC12",
        # before 1973
        "A.1234",
        "B-5678",
    ],
)
def test_every_plate_format_is_masked(plate: str) -> None:
    masked, changes = mask_plates(
        f"Witte bestelwagen {plate} reed weg richting Leuven.", Language.NL
    )
    assert masked == f"Witte bestelwagen {NL} reed weg richting Leuven."
    assert [c.original for c in changes] == [plate]


@pytest.mark.parametrize(
    "text",
    [
        "Abdijstraat 12 bus 101",  # a box number
        "bel 101 of 112",
        "op de E40 richting Brussel",
        "postcode 3000 Leuven",
        "om 10:30 uur",
        "een man van 1m80",
        "dossier PV 2026/123456",
        "ABC",
        "12345",
        "BE0123456789",  # a company number
        "tel 0470 12 34 56",
        "N-VA",
        "ABCD-1234",  # too many letters and digits
        "1-ABCD-123",
        "12-ABC-123",
    ],
)
def test_what_only_looks_like_a_plate_stays(text: str) -> None:
    assert mask_plates(text, Language.NL) == (text, [])


def test_each_language_gets_its_own_placeholder_and_every_change_is_listed() -> None:
    texts, changes = guard_texts(
        {
            Language.NL: "Wagen 1-ABC-123 en ABC-987",
            Language.FR: "Voiture 1-ABC-123",
            Language.DE: "Wagen 1-ABC-123",
        }
    )
    assert texts[Language.FR] == "Voiture [plaque]"
    assert texts[Language.DE] == "Wagen [Kennzeichen]"
    assert texts[Language.NL] == f"Wagen {NL} en {NL}"
    assert len(changes) == 4


@given(
    st.sampled_from("123456789"),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
    st.integers(0, 999),
    st.sampled_from(["-", " ", ".", ""]),
)
def test_any_current_plate_is_masked_whatever_its_separator(
    series: str, letters: str, number: int, sep: str
) -> None:
    plate = f"{series}{sep}{letters}{sep}{number:03d}"
    masked, changes = mask_plates(f"gezien: {plate}.", Language.NL)
    assert plate not in masked and len(changes) == 1


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.!?éèà", max_size=200))
def test_lowercase_prose_is_never_touched(text: str) -> None:
    assert mask_plates(text, Language.NL)[0] == text


def test_pictures_of_people_are_refused() -> None:
    assert attachment_problem("image/jpeg", shows_people=True) is not None
    assert "shows_people" in (attachment_problem("image/png", shows_people=None) or "")
    assert attachment_problem("image/png", shows_people=False) is None
    assert attachment_problem("application/pdf", shows_people=None) is None
