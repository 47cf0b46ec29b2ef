"""Licence plates of Belgium and its neighbours, as people type them in an alert: in any
case, with dashes, dots, spaces or nothing between the groups.

Sources (the formats' pages, consulted for this module):

* Belgium, https://en.wikipedia.org/wiki/Vehicle_registration_plates_of_Belgium and
  https://nl.wikipedia.org/wiki/Belgisch_kenteken: since 2010 a series digit, three letters,
  three digits (``1-ABC-123``; series 1, now 2); 2008-2010 ``123-ABC``; 1973-2008
  ``ABC-123``; special series (oldtimer ``O``, moped ``M``, trade ``Z``, transit and
  temporary ``Q``/``W``, motorcycles) a letter in place of the series digit, three letters
  and two or three digits (``O-ABC-12``); diplomatic plates ``CD``/``CC`` and digits; from
  1951 to 1973 codes 1 to 10 (``X.1111``, ``1.X.111`` ... ``111.XX``, ``X.111.X``), still
  on oldtimers (https://belgianlicenceplates.blogspot.com/2009/07/types-of-belgian-licence-plates.html,
  "Normal series" A and B). Military vehicles carry a Defence registration that is not a
  civil format and is not recognised here.
* The Netherlands, https://en.wikipedia.org/wiki/Vehicle_registration_plates_of_the_Netherlands
  and https://nl.wikipedia.org/wiki/Nederlands_kenteken: sidecodes 1 to 14, six letters and
  digits in three groups (``AB-12-34`` ... ``999-XX-9``).
* France, https://en.wikipedia.org/wiki/Vehicle_registration_plates_of_France: SIV since
  2009 ``AB-123-CD``; the older FNI ``123 ABC 75`` (one to four digits, one to three letters,
  the department: 01-95, 2A/2B, 971-976), still on the road.
* Germany, https://en.wikipedia.org/wiki/Vehicle_registration_plates_of_Germany: the
  district code (one to three letters, umlauts allowed), one or two letters, one to four
  digits without a leading zero, eight characters at most, ``E`` (electric) or ``H``
  (historic) after (``M-AB 1234``, ``D-AB 1234`` for Düsseldorf, ``B-AB 1234``).
* Luxembourg, https://en.wikipedia.org/wiki/Vehicle_registration_plates_of_Luxembourg: two
  letters and four digits (``AB 1234``); plates of digits only cannot be told from other
  numbers and are not recognised.

Each format is *strong* (its mix of groups hardly occurs in prose) or *weak* (three
letters and three digits also read as "van 150"). How sure the guard may be of a match is
decided in :mod:`services.intake.domain.privacy`; this module only finds the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_S = r"[-. \u00a0]?"  # what people type between groups, or nothing
_L = r"[A-Za-z]"
_D = r"\d"
# A plate stands on its own: not glued to a word, nor the middle of a dotted or dashed code
# (a PV number "BR.12.L3.012345/2026", a road "E40-A3").
_BEFORE = r"(?<![\w])(?<![\w][-./])"
_AFTER = r"(?![\w])(?![-./]\w)"


@dataclass(frozen=True)
class PlateFormat:
    country: str
    name: str
    pattern: re.Pattern[str]
    canonical: re.Pattern[str]  # the dashed layout the plate itself shows
    strong: bool


def _groups(*groups: str, sep: str = _S) -> str:
    return sep.join(groups)


def _format(
    country: str, name: str, groups: tuple[str, ...], strong: bool, sep: str = _S
) -> PlateFormat:
    return PlateFormat(
        country,
        name,
        re.compile(_BEFORE + _groups(*groups, sep=sep) + _AFTER),
        re.compile(_groups(*groups, sep="-")),
        strong,
    )


def _l(n: int | str) -> str:
    return f"{_L}{{{n}}}"


def _d(n: int | str) -> str:
    return f"{_D}{{{n}}}"


_NL_SIDECODES = (
    (_l(2), _d(2), _d(2)),
    (_d(2), _d(2), _l(2)),
    (_d(2), _l(2), _d(2)),
    (_l(2), _d(2), _l(2)),
    (_l(2), _l(2), _d(2)),
    (_d(2), _l(2), _l(2)),
    (_d(2), _l(3), _d(1)),
    (_d(1), _l(3), _d(2)),
    (_l(2), _d(3), _l(1)),
    (_l(1), _d(3), _l(2)),
    (_l(3), _d(2), _l(1)),
    (_l(1), _d(2), _l(3)),
    (_d(1), _l(2), _d(3)),
    (_d(3), _l(2), _d(1)),
)
# Belgium 1951-1973 (still on oldtimers, which keep the district system): codes 1 to 5 a
# letter and four digits, codes 6 to 10 two letters and three digits, the letters moving
# through the plate. Short and digit-heavy, so only with the dot or dash the plates show.
_BE_1951_CODES = (
    (_l(1), _d(4)),
    (_d(1), _l(1), _d(3)),
    (_d(2), _l(1), _d(2)),
    (_d(3), _l(1), _d(1)),
    (_d(4), _l(1)),
    (_l(2), _d(3)),
    (_d(1), _l(2), _d(2)),
    (_d(2), _l(2), _d(1)),
    (_d(3), _l(2)),
    (_l(1), _d(3), _l(1)),
)
_DOT = "[-.]"
_FR_DEPARTMENT = r"(?:0[1-9]|[1-8]\d|9[0-5]|2[ABab]|97[1-6])"

FORMATS: tuple[PlateFormat, ...] = (
    _format("BE", "since 2010", ("[1-9]", _l(3), _d(3)), strong=True),
    _format("BE", "special series", (_L, _l(3), _d("2,3")), strong=True),
    _format("BE", "2008-2010", (_d(3), _l(3)), strong=False),
    _format("BE", "1973-2008", (_l(3), _d(3)), strong=False),
    _format("BE", "diplomatic", ("[Cc][CDcd]", _d("3,4")), strong=False),
    *(
        _format("BE", f"1951-1973 code {n}", groups, strong=False, sep=_DOT)
        for n, groups in enumerate(_BE_1951_CODES, start=1)
    ),
    *(
        _format("NL", f"sidecode {n}", groups, strong=n >= 7)
        for n, groups in enumerate(_NL_SIDECODES, start=1)
    ),
    _format("FR", "SIV", (_l(2), _d(3), _l(2)), strong=True),
    _format("FR", "FNI", (_d("1,4"), _l("1,3"), _FR_DEPARTMENT), strong=False),
    PlateFormat(
        "DE",
        "district code",
        re.compile(
            _BEFORE + r"[A-Za-zÄÖÜäöü]{1,3}[- ]" + _l("1,2") + r"[- ]?[1-9]\d{0,3}[EHeh]?" + _AFTER
        ),
        re.compile(r"[A-Za-zÄÖÜäöü]{1,3}-" + _l("1,2") + r" ?[1-9]\d{0,3}[EHeh]?"),
        strong=False,
    ),
    _format("LU", "current", (_l(2), _d(4)), strong=False),
)

_DE_MAX_CHARACTERS = 8  # letters and digits, without the E/H suffix


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    text: str
    format: PlateFormat

    @property
    def letter_groups(self) -> list[str]:
        return re.findall(r"[^\W\d_]+", self.text)

    @property
    def canonical(self) -> bool:
        """Written as on the plate, with its dashes."""
        return self.format.canonical.fullmatch(self.text) is not None


def _plausible(candidate: Candidate) -> bool:
    written_lower = candidate.text != candidate.text.upper()
    if candidate.format.country == "NL" and not candidate.format.strong:
        # Two letters, two letters, two digits with spaces is Dutch prose in lower case
        # ("in de 20 minuten"); the plate itself is written with dashes.
        return not (written_lower and " " in candidate.text)
    if candidate.format.country != "DE":
        return True
    core = re.sub(r"[EHeh]$", "", re.sub(r"[- ]", "", candidate.text))
    # The district code needs its hyphen in lower case: "op de 12" is Dutch, not Germany.
    return len(core) <= _DE_MAX_CHARACTERS and not (written_lower and not candidate.canonical)


def candidates(text: str) -> Iterator[Candidate]:
    """Every stretch of ``text`` that fits some plate format (they may overlap)."""
    for plate_format in FORMATS:
        for found in plate_format.pattern.finditer(text):
            candidate = Candidate(found.start(), found.end(), found.group(0), plate_format)
            if _plausible(candidate):
                yield candidate
