"""Who may join a BIN: an adult who lives or works in its area and signed the forms."""

from __future__ import annotations

from datetime import date

from shared.areas import Address, StreetSegment, area_covers, normalise_name

ADULT_AGE = 18
OUTSIDE_AREA = "address: not in the BIN's area (a member lives or works in one of its streets)"


def age_on(birth_date: date, day: date) -> int:
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def in_area(address: Address, bin_municipality: str, area: list[StreetSegment]) -> bool:
    """Whether the address lies in the BIN's municipality and one of its streets."""
    return normalise_name(address.municipality) == normalise_name(bin_municipality) and area_covers(
        area, address.street, address.house_number
    )


def eligibility_reasons(
    *,
    birth_date: date,
    address: Address,
    bin_municipality: str,
    area: list[StreetSegment],
    registration_signed_on: date | None,
    house_rules_accepted_on: date | None,
    today: date,
) -> list[str]:
    """Every rule the candidate breaks, each as a sentence for the coordinator; [] if none."""
    reasons = []
    if birth_date > today:
        reasons.append("birth_date: lies in the future")
    elif age_on(birth_date, today) < ADULT_AGE:
        reasons.append(f"birth_date: a member must be {ADULT_AGE} or older")
    if not area:
        reasons.append("address: the BIN has no area yet; define its streets first")
    elif not in_area(address, bin_municipality, area):
        reasons.append(OUTSIDE_AREA)
    if registration_signed_on is None:
        reasons.append("registration_signed_on: the signed registration form is required")
    elif registration_signed_on > today:
        reasons.append("registration_signed_on: lies in the future")
    if house_rules_accepted_on is None:
        reasons.append("house_rules_accepted_on: consent to the house rules is required")
    elif house_rules_accepted_on > today:
        reasons.append("house_rules_accepted_on: lies in the future")
    return reasons


def grant_subsidised_sms(
    requested: bool, one_per_housing_unit: bool, unit_already_subsidised: bool
) -> bool:
    """Whether the municipality pays this member's SMS: when the BIN limits it to one member
    per housing unit, further members of a unit get e-mail/push (and voice) only."""
    if not requested:
        return False
    return not (one_per_housing_unit and unit_already_subsidised)
