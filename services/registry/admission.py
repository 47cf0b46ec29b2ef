"""Whether and how a candidate joins a BIN: the eligibility rules and the SMS subsidy rule,
as one pure step shared by a single registration and a CSV import (no IO here)."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import date

from services.registry.domain.eligibility import eligibility_reasons, grant_subsidised_sms
from services.registry.schemas import MemberCreate
from shared.areas import Address, StreetSegment


@dataclass(frozen=True)
class BinRules:
    municipality: str
    area: list[StreetSegment]
    one_sms_per_housing_unit: bool


@dataclass(frozen=True)
class Admission:
    housing_unit: str
    subsidised_sms: bool
    # The key that holds the one-per-unit rule in the database (None: no claim).
    sms_unit_claim: str | None
    notices: list[str]


def address_of(candidate: MemberCreate) -> Address:
    a = candidate.address
    return Address(a.street, a.house_number, a.municipality, a.postal_code, a.box)


def admit(
    candidate: MemberCreate, rules: BinRules, claimed_units: Set[str], today: date
) -> Admission | list[str]:
    """The admission, or every reason the candidate is refused."""
    address = address_of(candidate)
    reasons = eligibility_reasons(
        birth_date=candidate.birth_date,
        address=address,
        bin_municipality=rules.municipality,
        area=rules.area,
        registration_signed_on=candidate.registration_signed_on,
        house_rules_accepted_on=candidate.house_rules_accepted_on,
        today=today,
    )
    if reasons:
        return reasons
    unit = address.housing_unit()
    subsidised = grant_subsidised_sms(
        candidate.subsidised_sms, rules.one_sms_per_housing_unit, unit in claimed_units
    )
    notices = []
    if candidate.subsidised_sms and not subsidised:
        notices.append(
            "another member of this housing unit already receives SMS paid by the "
            "municipality; this member is reached by voice, e-mail or push"
        )
    claim = unit if subsidised and rules.one_sms_per_housing_unit else None
    return Admission(unit, subsidised, claim, notices)
