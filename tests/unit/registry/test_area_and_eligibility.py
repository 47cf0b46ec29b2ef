from datetime import date

import pytest

from services.registry.admission import Admission, BinRules, admit
from services.registry.domain.eligibility import (
    OUTSIDE_AREA,
    age_on,
    eligibility_reasons,
    grant_subsidised_sms,
)
from services.registry.schemas import MemberCreate
from shared.areas import Address, Parity, StreetSegment, normalise_name

AREA = [
    StreetSegment("Abdijstraat"),
    StreetSegment("Sint-Jansplein", from_number=1, to_number=20),
    StreetSegment("Diestsesteenweg", from_number=100, to_number=200, parity=Parity.EVEN),
]
TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("street", "number", "covered"),
    [
        ("Abdijstraat", "999", True),
        ("abdijstraat", "1", True),
        ("Sint Jansplein", "12B", True),
        ("SINT-JANSPLEIN", "20 bus 3", True),
        ("Sint-Jansplein", "21", False),
        ("Diestsesteenweg", "150", True),
        ("Diestsesteenweg", "151", False),  # the odd side belongs to another BIN
        ("Diestsesteenweg", "98", False),
        ("Diestsesteenweg", "geen", False),
        ("Tiensestraat", "1", False),
    ],
)
def test_an_area_covers_its_streets_and_ranges(street: str, number: str, covered: bool) -> None:
    assert any(s.covers(street, number) for s in AREA) is covered


def test_names_compare_without_case_accents_or_punctuation() -> None:
    assert normalise_name("Rue de l'Église") == normalise_name("rue de l eglise")
    assert normalise_name("  Sint-Jans-plein ") == "sint jans plein"


def test_housing_units_differ_by_box_not_by_spelling() -> None:
    a = Address("Abdijstraat", "12", "Leuven", box="1")
    assert a.housing_unit() == Address("abdijstraat", "12", "LEUVEN", box="1").housing_unit()
    assert a.housing_unit() != Address("Abdijstraat", "12", "Leuven", box="2").housing_unit()


def test_age_counts_whole_years() -> None:
    assert age_on(date(2008, 11, 23), TODAY) == 18
    assert age_on(date(2008, 11, 24), TODAY) == 17


def _reasons(**override: object) -> list[str]:
    values: dict[str, object] = {
        "birth_date": date(1980, 1, 1),
        "address": Address("Abdijstraat", "5", "Leuven"),
        "bin_municipality": "Leuven",
        "area": AREA,
        "registration_signed_on": date(2026, 1, 1),
        "house_rules_accepted_on": date(2026, 1, 1),
        "today": TODAY,
    }
    values.update(override)
    return eligibility_reasons(**values)  # type: ignore[arg-type]


def test_an_adult_in_the_area_with_signed_forms_is_eligible() -> None:
    assert _reasons() == []


def test_each_rule_gives_its_own_reason() -> None:
    assert _reasons(birth_date=date(2010, 1, 1)) == ["birth_date: a member must be 18 or older"]
    assert _reasons(address=Address("Tiensestraat", "5", "Leuven")) == [OUTSIDE_AREA]
    assert _reasons(address=Address("Abdijstraat", "5", "Brussel")) == [OUTSIDE_AREA]
    assert _reasons(area=[]) == ["address: the BIN has no area yet; define its streets first"]
    assert _reasons(registration_signed_on=date(2027, 1, 1)) == [
        "registration_signed_on: lies in the future"
    ]
    assert len(_reasons(birth_date=date(2010, 1, 1), area=[])) == 2


def test_one_subsidised_sms_member_per_housing_unit() -> None:
    assert grant_subsidised_sms(True, one_per_housing_unit=True, unit_already_subsidised=False)
    assert not grant_subsidised_sms(True, one_per_housing_unit=True, unit_already_subsidised=True)
    assert grant_subsidised_sms(True, one_per_housing_unit=False, unit_already_subsidised=True)
    assert not grant_subsidised_sms(
        False, one_per_housing_unit=False, unit_already_subsidised=False
    )


def candidate(**override: object) -> MemberCreate:
    body: dict[str, object] = {
        "full_name": "An Peeters",
        "birth_date": "1980-01-01",
        "address": {"street": "Abdijstraat", "house_number": "5", "municipality": "Leuven"},
        "phones": ["0470 12 34 56"],
        "language": "nl",
        "registration_signed_on": "2026-01-01",
        "house_rules_version": "2024-1",
        "house_rules_accepted_on": "2026-01-01",
    }
    body.update(override)
    return MemberCreate.model_validate(body)


def test_admission_claims_the_units_sms_and_tells_the_second_member_why_not() -> None:
    rules = BinRules("Leuven", AREA, one_sms_per_housing_unit=True)
    first = admit(candidate(), rules, set(), TODAY)
    assert isinstance(first, Admission) and first.subsidised_sms and first.sms_unit_claim
    second = admit(candidate(full_name="Jan Peeters"), rules, {first.sms_unit_claim}, TODAY)
    assert isinstance(second, Admission)
    assert not second.subsidised_sms and second.sms_unit_claim is None
    assert "housing unit" in second.notices[0]


def test_admission_refused_lists_the_reasons() -> None:
    rules = BinRules("Leuven", AREA, one_sms_per_housing_unit=False)
    refused = admit(candidate(birth_date="2015-01-01"), rules, set(), TODAY)
    assert refused == ["birth_date: a member must be 18 or older"]


def test_a_member_needs_a_way_to_be_reached() -> None:
    with pytest.raises(ValueError, match="phone number or an e-mail"):
        candidate(phones=[])
