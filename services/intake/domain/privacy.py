"""The privacy guard on every outgoing text: recognisable licence plates are masked, pictures
of people refused. Police decide what is sent; this makes the rules hard to break by accident.

Belgian plates, every format still on the road:

* since 2010, European format: a digit, three letters, three digits (``1-ABC-123``; the
  leading digit counts the series, 1 to 9);
* 2008-2010: three digits, three letters (``123-ABC``);
* 1973-2008: three letters, three digits (``ABC-123``);
* special series (oldtimers ``O``, mopeds ``M``, trade ``Z``, transit ``Q``): a letter, then
  three letters and two or three digits (``O-ABC-12``);
* before 1973: a letter and four digits with a separator (``A.1234``).

Separators may be dashes, dots, spaces or nothing. Plates in capitals only, except the
dashed European format, so that "bus 101" (a box number) or "om 112" stays as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.events import Language

_SEP = r"[-.\s]?"
_EDGE_BEFORE = r"(?<![\w-])"
_EDGE_AFTER = r"(?![\w-])"
_PLATE_FORMATS = (
    r"[1-9]-[A-Za-z]{3}-\d{3}",  # 1-abc-123, any case with its dashes
    rf"[1-9]{_SEP}[A-Z]{{3}}{_SEP}\d{{3}}",  # 1ABC123, 1 ABC 123
    rf"[MOQZ]{_SEP}[A-Z]{{3}}{_SEP}\d{{2,3}}",  # special series
    rf"\d{{3}}{_SEP}[A-Z]{{3}}",  # 123-ABC
    rf"[A-Z]{{3}}{_SEP}\d{{3}}",  # ABC-123
    r"[A-Z][-.]\d{4}",  # A.1234
)
PLATE = re.compile(_EDGE_BEFORE + "(?:" + "|".join(_PLATE_FORMATS) + ")" + _EDGE_AFTER)

MASK = {Language.NL: "[nummerplaat]", Language.FR: "[plaque]", Language.DE: "[Kennzeichen]"}


@dataclass(frozen=True)
class Change:
    language: Language
    kind: str
    original: str
    replacement: str


def mask_plates(text: str, language: Language) -> tuple[str, list[Change]]:
    changes: list[Change] = []

    def replace(found: re.Match[str]) -> str:
        changes.append(Change(language, "licence_plate", found.group(0), MASK[language]))
        return MASK[language]

    return PLATE.sub(replace, text), changes


def guard_texts(texts: dict[Language, str]) -> tuple[dict[Language, str], list[Change]]:
    """Every text of a message, masked, with what was changed (for the operator to see)."""
    guarded: dict[Language, str] = {}
    changes: list[Change] = []
    for language, text in texts.items():
        guarded[language], found = mask_plates(text, language)
        changes.extend(found)
    return guarded, changes


IMAGE_TYPES = ("image/",)


def attachment_problem(content_type: str, shows_people: bool | None) -> str | None:
    """Why an attachment may not go out, or None. Recognisable pictures of people may not be
    spread; whether a picture shows people is the operator's statement, required for every
    image (no automatic face detection here)."""
    if not content_type.startswith(IMAGE_TYPES):
        return None
    if shows_people is None:
        return "say whether the picture shows people (shows_people)"
    if shows_people:
        return "pictures of people may not be spread through a BIN"
    return None


@dataclass(frozen=True)
class Piece:
    """A stretch of a text as the guard sees it: kept as written, or masked."""

    text: str
    replacement: str | None = None


def pieces(text: str, language: Language) -> list[Piece]:
    """The text cut where the guard masks it (the same expression as :func:`mask_plates`),
    so the operator sees what goes out next to what they wrote."""
    found: list[Piece] = []
    last = 0
    for plate in PLATE.finditer(text):
        if plate.start() > last:
            found.append(Piece(text[last : plate.start()]))
        found.append(Piece(plate.group(0), MASK[language]))
        last = plate.end()
    if last < len(text):
        found.append(Piece(text[last:]))
    return found
