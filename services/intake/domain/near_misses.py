"""What an alert says that only looks like a plate or an identifier, and must stay as
written: phone numbers (101, 112, +32 ...), house and box numbers, times, dates, postcodes,
PV and case numbers, amounts, measures. The guard sets these stretches aside before it looks
for plates, so "bus 101", "150 EUR" or "1-jan-26" are never masked nor asked about."""

from __future__ import annotations

import re
from collections.abc import Iterator

_MONTHS = (
    "jan|januari|janvier|januar|feb|febr|februari|février|fevrier|februar|mrt|maart|mars|"
    "märz|marz|apr|april|avril|mei|mai|jun|juni|juin|jul|juli|juillet|aug|augustus|août|aout|"
    "august|sep|sept|september|septembre|okt|oktober|oct|octobre|nov|november|novembre|dec|"
    "december|décembre|decembre|dez|dezember"
)
_CALL = (
    "bel|belt|bellen|contacteer|telefoneer|tel|telefoon|gsm|nummer|noodnummer|appelez|"
    "appeler|appelle|composez|contactez|tél|numéro|ruf|rufen|rufen sie|anrufen|wählen|wählt|"
    "notruf|telefon|call"
)


def _variants(words: str, *, capitals: bool = False) -> str:
    """An alternation of space-separated words, in lower case and capitalised (and in
    capitals if asked), for a pattern that is otherwise case-sensitive: "AA 000 AV" and
    "BT 000 AA" in capitals are plates, not an address or a box number."""
    found = [
        v for w in words.split() for v in (w, w.capitalize(), *((w.upper(),) if capitals else ()))
    ]
    return "|".join(re.escape(v) for v in dict.fromkeys(found))


# French order, number first ("12 rue ..."); Dutch and German put the number after the street.
_STREET_WORDS = _variants(
    "rue avenue av chaussée chaussee place boulevard bd chemin allée allee impasse quai "
    "route square"
)
_NUMBER_WORDS = _variants(
    "bus bte boîte boite bt postbus nr n° no numéro nummer huisnummer hausnummer"
)
_POSTCODE_WORDS = _variants("postcode cp plz postleitzahl") + "|code postal|Code postal|PLZ"
# "PV" is written in capitals; a case word in capitals before a plate is rare enough.
_CASE_WORDS = _variants(
    "pv p.v. proces-verbaal procès-verbal dossier dossiernummer dossiernr notitie "
    "notitienummer referentie référence ref réf aktenzeichen az vorgangsnummer zaak "
    "zaaknummer affaire",
    capitals=True,
)
_PHONE = r"(?:(?:\+|00)\d{2,3}[ ./-]?(?:\(0\))?\d(?:[ ./-]?\d){6,10}|0\d(?:[ ./-]?\d){7,8})"

# After a protected number: not the start of a plate ("bel 123-ABC" is a plate after "bel").
_END = r"(?![\w])(?![-./ ]?[A-Za-z0-9])"
_LOWER_WORD = r"(?-i:[a-zà-ÿ]+)"  # filler words in lower case only: capitals may be a plate

PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # Phone numbers, and the short emergency numbers after a word that calls them.
        rf"(?<![\w+./-]){_PHONE}(?!\w)",
        rf"\b(?:{_CALL})\b\.?:?(?:\s+{_LOWER_WORD}){{0,2}}\s+(?:1\d{{2}}|{_PHONE})(?![\w])"
        r"(?![-./]\w)",
        r"\b1(?:01|12|00|10|16)\s+(?:of|ou|oder|en|et|und|or)\s+1(?:01|12|00|10|16)\b",
        # House and box numbers: "nr. 12", "bus 101", "bte 3", "Hausnummer 5a", "12 rue ...".
        rf"(?-i:(?<![-.])\b(?:{_NUMBER_WORDS})\.?\s*\d+[a-z]?\b(?![-./]\w))",
        # Not the digits that end a plate: "1-ABC-123 rue du Canal", "ABC 123 rue".
        rf"(?-i:(?<![\w][-./])(?<![A-Z] )\b\d{{1,4}}[a-z]?,?\s+(?:{_STREET_WORDS})\b)",
        # Times: 10:30, 10.30 uur, 10u30, 10h30, 22 Uhr.
        r"(?<![\w][-./])\b\d{1,2}\s?[:.hu]\s?\d{2}\b(?:\s?(?:uur|u|h|uhr))?(?![-./]\w)",
        r"(?<![\w][-./])\b\d{1,2}\s?(?:uur|u|h|uhr|heures?|heure)\b(?![-./]\w)",
        # Dates: 12/05/2026, 12.05.26, 2026-05-12, 1 jan 2026, 3 mai; not "1-JAN-123", a
        # Belgian plate.
        r"(?<![\w][-./])\b\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})\b(?![-.]\d)",
        r"\b\d{4}-\d{2}-\d{2}\b",
        rf"\b\d{{1,2}}(?:er)?[ .-]?(?:{_MONTHS})\.?(?:[ .-]?\d{{2}}(?:\d{{2}})?)?{_END}",
        # Postcodes with their town: "3000 Leuven", "B-1000 Brussel", "L-1234 Luxembourg",
        # "75001 Paris"; and after the word that names them.
        r"(?-i:\b(?:[BLFD]-)?\d{4,5}\s+[A-ZÀ-Ý][a-zà-ÿ]+)",
        rf"(?-i:\b(?:{_POSTCODE_WORDS})(?:\s+|\s*:\s*)(?:[BLFD]-)?\d{{4,5}}\b)",
        # PV and case numbers: the Belgian PV layout anywhere, and what follows a case word
        # when it looks like a reference (a slash or dot, five digits, "123 Js 456/26"),
        # not like a plate ("PV 123 AB" may be a French car).
        r"\b[A-Z]{2}\.\d{2}\.[A-Z0-9]{2}\.\d{6}/\d{2,4}",
        rf"(?-i:(?<![-.])\b(?:{_CASE_WORDS})\b\.?(?:\s+|\s*:\s*)(?:n[r°o]\.?\s*)?:?\s*)"
        r"(?=[a-z0-9-]*[./]\d|\d{5}|\d+\s+[a-z]{1,4}\s+\d)"
        r"[a-z0-9][a-z0-9./-]*(?:\s+[a-z]{1,4}\s+\d[\d./-]*)?",
        # Amounts: €150, 150 EUR, 1.200,50 euro.
        r"(?:€|\beur\b|\beuro\b)\s?\d[\d.,]*",
        r"\b\d[\d.,]*\s?(?:€|eur\b|euros?\b)",
        # Measures and ages, in lower case: 120 km/u, 1m80, 25 jaar, 30 ans, 180 cm.
        # (A French plate in lower case ending in such a unit, "ab 123 km", reads as one.)
        r"(?-i:\b\d+(?:[.,]\d+)?\s?(?:km/u|km/h|kmh|km|m|cm|mm|kg|jaar|jaren|ans|jahre|"
        r"jahren|min|sec)\b)",
        r"(?-i:\b\d[m,.]\d{2}\s?m?\b)",  # a height: 1m80, 1,80 m
        r"(?-i:\b\d+\s?x\s?\d+\b)",  # dimensions, counts: 20x30, 3 x 2
        # Roads: E40, A12, N3, R0.
        r"(?-i:\b[EANR]\d{1,3}\b)",
    )
)


def spans(text: str) -> Iterator[tuple[int, int]]:
    """The stretches of ``text`` that are near-misses, possibly overlapping."""
    for pattern in PATTERNS:
        for found in pattern.finditer(text):
            yield found.start(), found.end()
