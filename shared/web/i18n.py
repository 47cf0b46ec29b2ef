"""The language of a page, and its texts from JSON catalogues (one file per language)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from fastapi import Request

LANGUAGES = ("nl", "fr", "de")
DEFAULT_LANGUAGE = "nl"
LANGUAGE_COOKIE = "bin_lang"


class Catalogues:
    """Texts by language and key; catalogues later in the list override earlier ones, so a
    service adds to and refines the shared texts. A key missing in a language falls back to
    Dutch, then to the key itself, so a missing translation shows, it does not break."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.texts: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
        for folder in folders:
            for language in LANGUAGES:
                path = folder / f"{language}.json"
                if path.exists():
                    self.texts[language].update(json.loads(path.read_text(encoding="utf-8")))

    def text(self, language: str, key: str, **values: object) -> str:
        found = self.texts.get(language, {}).get(key) or self.texts[DEFAULT_LANGUAGE].get(key)
        if found is None:
            return key
        return found.format(**values) if values else found

    def missing(self, language: str) -> list[str]:
        """Keys Dutch has and ``language`` lacks (a test keeps French complete)."""
        return sorted(set(self.texts[DEFAULT_LANGUAGE]) - set(self.texts[language]))


def negotiate(request: Request, offered: Iterable[str] = LANGUAGES) -> str:
    """``?lang=`` first (the switch in the page header), then the cookie it sets, then the
    browser's Accept-Language, then Dutch."""
    offered = tuple(offered)
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in offered:
            return candidate
    for language in _accepted(request.headers.get("accept-language", "")):
        if language in offered:
            return language
    return DEFAULT_LANGUAGE


def _accepted(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag:
            weighted.append((-weight, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(weighted)]
