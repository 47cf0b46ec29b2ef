"""The privacy guard on every outgoing text: recognisable licence plates and personal
identifiers are masked, pictures of people refused. Police decide what is sent; this makes
the rules hard to break by accident.

What the guard looks for, and where the formats come from:

* licence plates of Belgium, the Netherlands, France, Germany and Luxembourg, every series
  still on the road, in any case and with any separator (:mod:`.plates` cites its sources);
* Belgian national register numbers and IBANs, by their check digits (:mod:`.checksums`:
  https://nl.wikipedia.org/wiki/Rijksregisternummer, ISO 13616 as in
  https://en.wikipedia.org/wiki/International_Bank_Account_Number), so a random run of
  digits is not caught.

A finding is *certain* or *uncertain*:

* certain: masked, as the operator is shown before sending. An identifier whose check
  digits verify; a plate in capitals; a plate of a strong format (one whose mix of letters
  and digits prose hardly makes, such as ``1-ABC-123`` or ``AB-123-CD``) in any case;
* uncertain: never changed silently. A plate of a weak format in lower case ("abc 123",
  which also reads as "van 150"), any plate whose letters are all ordinary words ("BEL NU
  101", "2 man 180"), a number laid out as a national register number whose check digits
  fail (a typo is still personal data). The operator decides *mask* or *keep* for each; an
  outgoing text that still holds an undecided finding is refused.

What only looks like a plate stays as written and is not asked about (:mod:`.near_misses`):
phone numbers, 101 and 112, house and box numbers, times, dates, postcodes, PV and case
numbers, amounts, measures, roads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.intake.domain import near_misses, plates
from services.intake.domain.checksums import (
    IBAN_LENGTHS,
    IBAN_MAX,
    IBAN_MIN,
    iban_valid,
    national_register_number_valid,
)
from shared.events import Language


class Kind(StrEnum):
    LICENCE_PLATE = "licence_plate"
    NATIONAL_REGISTER_NUMBER = "national_register_number"
    IBAN = "iban"


MASKS: dict[Kind, dict[Language, str]] = {
    Kind.LICENCE_PLATE: {
        Language.NL: "[nummerplaat]",
        Language.FR: "[plaque]",
        Language.DE: "[Kennzeichen]",
    },
    Kind.NATIONAL_REGISTER_NUMBER: {
        Language.NL: "[rijksregisternummer]",
        Language.FR: "[numéro de registre national]",
        Language.DE: "[Nationalregisternummer]",
    },
    Kind.IBAN: {
        Language.NL: "[rekeningnummer]",
        Language.FR: "[numéro de compte]",
        Language.DE: "[Kontonummer]",
    },
}
MASK = MASKS[Kind.LICENCE_PLATE]

# Words of one to three letters in nl, fr, de and en: a plate whose letters are all words
# may be prose ("bel nu 101", "IN DE 12"), so the operator is asked.
COMMON_WORDS = frozenset(
    # One string reads as the word list it is; a list literal would take a line per word.
    """
    de het een en op in te om van aan bij met tot uit of nr is er ik je jij hij zij ze we wij
    ons mij me dat die wat wie hoe nu al ja nee zo ook nog wel dan als na per man zag was had
    rij weg bus tel gsm uur km min sec ca st le la les un une du des au aux et ou par sur pour
    il on ce cet qui que est rue av bd ch pl bte no pas mon ton son sa ses vu vus env der das
    den dem ein und im am an um zu zum zur von vom bei aus auf sie es ihr ab bis uhr str the
    and to at by for car
    """.split()  # noqa: SIM905
)


class Action(StrEnum):
    MASK = "mask"
    KEEP = "keep"


@dataclass(frozen=True)
class Decision:
    """The operator's answer to an uncertain finding: the text as written, and for which
    language (None: wherever it occurs)."""

    text: str
    action: Action
    language: Language | None = None

    def answers(self, finding: Finding) -> bool:
        return self.text == finding.text and self.language in (None, finding.language)


@dataclass(frozen=True)
class Finding:
    language: Language
    kind: Kind
    text: str
    start: int
    end: int
    certain: bool
    detail: str  # the format it fits, for the operator ("BE since 2010", "IBAN NL")

    @property
    def replacement(self) -> str:
        return MASKS[self.kind][self.language]


@dataclass(frozen=True)
class Change:
    """What the guard replaced, as stored with the alert and shown to the operator."""

    language: Language
    kind: str
    original: str
    replacement: str
    decided_by: str = "guard"  # or "operator", for an uncertain finding they chose to mask


# --- finding ------------------------------------------------------------------------------


_NRN = re.compile(
    r"(?<![\w+.-])(?<!00)(\d{2})([. ]?)(\d{2})\2(\d{2})[ .-]?(\d{3})[. ]?(\d{2})(?![\w])(?![.-]\d)"
)
_NRN_LAYOUT = re.compile(r"\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}")
_IBAN_START = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}")


def _national_register_numbers(text: str, language: Language) -> list[Finding]:
    found = []
    for match in _NRN.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        certain = national_register_number_valid(digits)
        if certain or _NRN_LAYOUT.fullmatch(match.group(0)):
            found.append(
                Finding(
                    language,
                    Kind.NATIONAL_REGISTER_NUMBER,
                    match.group(0),
                    match.start(),
                    match.end(),
                    certain,
                    "national register number"
                    if certain
                    else "national register number (check digits fail)",
                )
            )
    return found


def _iban_at(text: str, start: int) -> tuple[int, str] | None:
    """The end and compact form of the IBAN starting at ``start``, written in one run or in
    groups split by single spaces or dashes."""
    compact: list[str] = []
    ends: list[int] = []
    i = start
    while i < len(text) and len(compact) < IBAN_MAX:
        char = text[i]
        if char.isascii() and char.isalnum():
            compact.append(char)
            ends.append(i + 1)
        elif not (char in " -" and compact and text[i + 1 : i + 2].isalnum()):
            break
        i += 1
    country = "".join(compact[:2]).upper()
    wanted = IBAN_LENGTHS.get(country)
    for length in [wanted] if wanted else range(len(compact), IBAN_MIN - 1, -1):
        if length is None or length > len(compact):
            continue
        end = ends[length - 1]
        if text[end : end + 1].isalnum():
            continue  # the IBAN ends inside a group: not this length
        return end, "".join(compact[:length])
    return None


def _ibans(text: str, language: Language) -> list[Finding]:
    found = []
    for match in _IBAN_START.finditer(text):
        located = _iban_at(text, match.start())
        if located is None:
            continue
        end, compact = located
        certain = iban_valid(compact)
        # A known country's length with failing check digits: a mistyped account number.
        typed = compact[:2].upper() in IBAN_LENGTHS and compact[2:].isalnum()
        if certain or typed:
            found.append(
                Finding(
                    language,
                    Kind.IBAN,
                    text[match.start() : end],
                    match.start(),
                    end,
                    certain,
                    f"IBAN {compact[:2].upper()}" + ("" if certain else " (check digits fail)"),
                )
            )
    return found


def _reads_as_words(candidate: plates.Candidate) -> bool:
    groups = candidate.letter_groups
    return bool(groups) and all(g.lower() in COMMON_WORDS for g in groups)


def _plate_certain(candidate: plates.Candidate) -> bool:
    # Dashes as on the plate are not prose, even around a word ("AB-12-34").
    if _reads_as_words(candidate) and not candidate.canonical:
        return False
    letters = "".join(candidate.letter_groups)
    return letters == letters.upper() or candidate.format.strong


def _plates(text: str, language: Language) -> list[Finding]:
    return [
        Finding(
            language,
            Kind.LICENCE_PLATE,
            c.text,
            c.start,
            c.end,
            _plate_certain(c),
            f"{c.format.country} {c.format.name}",
        )
        for c in plates.candidates(text)
    ]


def _overlaps(finding: Finding, spans: Iterable[tuple[int, int]]) -> bool:
    return any(finding.start < end and start < finding.end for start, end in spans)


def _select(found: list[Finding]) -> list[Finding]:
    """Non-overlapping findings: the longest first, the certain before the uncertain."""
    chosen: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start - f.end, not f.certain, f.start)):
        if not _overlaps(finding, ((c.start, c.end) for c in chosen)):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def findings(text: str, language: Language) -> list[Finding]:
    """Everything in ``text`` that is, or may be, a plate or an identifier, in order."""
    protected = list(near_misses.spans(text))
    checked = _national_register_numbers(text, language) + _ibans(text, language)
    # Verified check digits outrank a near-miss (a date inside a national register
    # number); a pattern alone never does.
    kept = [f for f in checked if f.certain or not _overlaps(f, protected)]
    patterns = [f for f in _plates(text, language) if not _overlaps(f, protected)]
    certain_ids = [(f.start, f.end) for f in kept if f.certain]
    return _select(kept + [f for f in patterns if not _overlaps(f, certain_ids)])


# --- guarding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A stretch of a text as the guard sees it: kept as written, or masked; ``finding``
    names what the guard saw there (an unresolved one has neither mask nor decision)."""

    text: str
    replacement: str | None = None
    finding: Finding | None = None
    decision: Action | None = None


def pieces(text: str, language: Language, decisions: Sequence[Decision] = ()) -> list[Piece]:
    """The text cut where the guard found something, so the operator sees what goes out next
    to what they wrote; joined, the texts give the original, the replacements what is sent."""
    cut: list[Piece] = []
    last = 0
    for finding in findings(text, language):
        if finding.start > last:
            cut.append(Piece(text[last : finding.start]))
        decision = _decision(finding, decisions)
        masked = finding.certain or decision is Action.MASK
        cut.append(Piece(finding.text, finding.replacement if masked else None, finding, decision))
        last = finding.end
    if last < len(text):
        cut.append(Piece(text[last:]))
    return cut


def _decision(finding: Finding, decisions: Sequence[Decision]) -> Action | None:
    if finding.certain:
        return None  # certain findings are masked whatever was asked
    return next((d.action for d in decisions if d.answers(finding)), None)


@dataclass(frozen=True)
class Guarded:
    texts: dict[Language, str]
    changes: list[Change]
    unresolved: list[Finding]  # uncertain findings without a decision: not to be sent
    kept: int  # uncertain findings the operator chose to keep


def guard_texts(texts: dict[Language, str], decisions: Sequence[Decision] = ()) -> Guarded:
    """Every text of a message, masked, with what was changed (for the operator to see) and
    what still waits for the operator's decision."""
    guarded: dict[Language, str] = {}
    changes: list[Change] = []
    unresolved: list[Finding] = []
    kept = 0
    for language, text in texts.items():
        out: list[str] = []
        for piece in pieces(text, language, decisions):
            out.append(piece.replacement or piece.text)
            finding = piece.finding
            if finding is None:
                continue
            if piece.replacement is not None:
                by = "guard" if finding.certain else "operator"
                changes.append(
                    Change(language, finding.kind.value, finding.text, piece.replacement, by)
                )
            elif piece.decision is Action.KEEP:
                kept += 1
            else:
                unresolved.append(finding)
        guarded[language] = "".join(out)
    return Guarded(guarded, changes, unresolved, kept)


def describe(finding: Finding) -> str:
    """A finding as a refusal names it (English, like the API's other reasons)."""
    kind = finding.kind.value.replace("_", " ")
    return (
        f"{finding.language.value}: {finding.text!r} may be a {kind} ({finding.detail}); "
        "decide mask or keep in privacy_decisions"
    )


# --- attachments --------------------------------------------------------------------------

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
