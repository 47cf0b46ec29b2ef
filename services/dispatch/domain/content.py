"""What a fan-out says, per language, and the work item one recipient gets of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from services.dispatch.domain.fanout import text_for
from shared.events import Language

PREFERENCES_PLACEHOLDER = "{preferences_url}"


@dataclass(frozen=True)
class Content:
    texts: dict[Language, str]
    subjects: dict[Language, str] = field(default_factory=dict)
    html: dict[Language, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "texts": {k.value: v for k, v in self.texts.items()},
            "subjects": {k.value: v for k, v in self.subjects.items()},
            "html": {k.value: v for k, v in self.html.items()},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Content:
        def languages(key: str) -> dict[Language, str]:
            return {Language(k): v for k, v in (raw.get(key) or {}).items()}

        return cls(texts=languages("texts"), subjects=languages("subjects"), html=languages("html"))

    def work(
        self,
        delivery_id: uuid.UUID,
        address: str,
        language: Language,
        preferences_url: str | None = None,
    ) -> dict[str, str | None]:
        """One recipient's work item in its wire form (the JSON of :class:`DeliveryWork`).

        A plain dict, not the model: this runs once per recipient on the hot path, building
        and then serialising a model per recipient cost an eighth of a 100,000-recipient
        fan-out, and every field comes from our own checked data. A unit test holds the
        two forms equal."""
        chosen, text = text_for(self.texts, language)
        html = self.html.get(chosen)
        if preferences_url is not None:
            text = text.replace(PREFERENCES_PLACEHOLDER, preferences_url)
            html = html.replace(PREFERENCES_PLACEHOLDER, preferences_url) if html else html
        return {
            "delivery_id": str(delivery_id),
            "address": address,
            "language": chosen.value,
            "text": text,
            "subject": self.subjects.get(chosen),
            "html": html,
            # For e-mail's one-click List-Unsubscribe header (RFC 8058): the same link.
            "unsubscribe_url": preferences_url or None,
        }
