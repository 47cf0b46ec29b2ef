"""Police news for the digest: which categories may be published at all."""

from __future__ import annotations

from enum import StrEnum

from shared.events import PoliceNewsCategory


class NewsCategory(StrEnum):
    """Everything an operator may file as police news; only some of it is publishable."""

    TRAFFIC_ACCIDENT_WITH_INJURIES = "traffic_accident_with_injuries"
    DAMAGE_VANDALISM = "damage_vandalism"
    SMALL_THEFT = "small_theft"
    BURGLARY_HOME = "burglary_home"
    BURGLARY_OTHER_BUILDING = "burglary_other_building"
    NEIGHBOUR_DISPUTE = "neighbour_dispute"
    FAMILY_MATTER = "family_matter"
    CONFIDENTIAL = "confidential"  # under professional secrecy or the secrecy of an inquiry
    OTHER = "other"


PUBLISHABLE = {c.value for c in PoliceNewsCategory}


def publication_problem(category: NewsCategory, publishable: bool) -> str | None:
    if publishable and category.value not in PUBLISHABLE:
        return (
            f"{category} is never published: only traffic accidents with injuries, damage or "
            "vandalism, small thefts and burglaries go into the digest"
        )
    return None
