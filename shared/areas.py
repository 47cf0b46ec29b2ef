"""A BIN's area: named streets of one municipality, some only for a range of house numbers.

Shared: the registry keeps areas and checks members' addresses against them; intake matches a
report's place against its projection of the same areas to propose the BINs to alert.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Parity(StrEnum):
    ALL = "all"
    EVEN = "even"
    ODD = "odd"


@functools.lru_cache(maxsize=4096)  # the same few streets, over and over in an import
def normalise_name(name: str) -> str:
    """Street and municipality names compared as people write them: case, accents, dots,
    dashes and spacing do not matter ("Sint-Jansplein" = "sint jansplein")."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub("[.\\-'\u2019/]", " ", plain).split())


_NUMBER = re.compile(r"^\s*(\d+)")


def house_number_value(house_number: str) -> int | None:
    """12, 12A and 12 bus 3 are all number 12 of the street."""
    found = _NUMBER.match(house_number)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class StreetSegment:
    street: str
    from_number: int | None = None
    to_number: int | None = None
    parity: Parity = Parity.ALL

    def covers(self, street: str, house_number: str | None) -> bool:
        if normalise_name(street) != normalise_name(self.street):
            return False
        if self.from_number is None and self.to_number is None and self.parity is Parity.ALL:
            return True
        number = house_number_value(house_number or "")
        if number is None:
            return False
        if self.from_number is not None and number < self.from_number:
            return False
        if self.to_number is not None and number > self.to_number:
            return False
        if self.parity is Parity.EVEN:
            return number % 2 == 0
        if self.parity is Parity.ODD:
            return number % 2 == 1
        return True


@dataclass(frozen=True)
class Address:
    street: str
    house_number: str
    municipality: str
    postal_code: str = ""
    box: str = ""

    def housing_unit(self) -> str:
        """One key per housing unit (street, number, box, municipality), for the
        municipality's one-subsidised-SMS-member-per-unit rule."""
        return "|".join(
            (
                normalise_name(self.municipality),
                normalise_name(self.street),
                normalise_name(self.house_number),
                normalise_name(self.box),
            )
        )


def area_covers(segments: list[StreetSegment], street: str, house_number: str | None) -> bool:
    """Whether the address lies in one of the segments (the municipality is matched apart)."""
    return any(segment.covers(street, house_number) for segment in segments)
