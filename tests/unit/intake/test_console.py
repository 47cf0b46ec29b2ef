"""The operator console's pure parts: complete translations, the progress it shows and when
it stops following, the privacy guard's changes cut out for display."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from services.intake.console.progress import final, view
from services.intake.domain.news import NewsCategory
from services.intake.domain.privacy import Piece, guard_texts, pieces
from services.intake.domain.targets import Reason
from services.intake.schemas import Decision, NoticeScope, ReportCategory, ReportSource
from shared.events import Channel, Language
from shared.request_limits import console_token
from shared.web.i18n import Catalogues

CONSOLE = Path(__file__).resolve().parents[3] / "services" / "intake" / "console"


@pytest.mark.parametrize("language", ["fr", "de"])
def test_every_console_text_is_translated(language: str) -> None:
    assert Catalogues([CONSOLE / "messages"]).missing(language) == []


def test_every_text_a_template_asks_for_is_in_the_dutch_catalogue() -> None:
    dutch = Catalogues([CONSOLE / "messages"]).texts["nl"]
    shared = Catalogues([CONSOLE.parents[2] / "shared" / "web" / "messages"]).texts["nl"]
    asked = {
        key
        for template in (CONSOLE / "templates").glob("*.html")
        for key in re.findall(r"""\bt\(["']([a-z_]+)["']""", template.read_text())
    }
    known = set(dutch) | set(shared)
    # "category_" ~ value: a prefix completed by an enum's value (checked below).
    assert {key for key in asked if not key.endswith("_")} - known == set()
    assert {
        key for key in asked if key.endswith("_") and not any(k.startswith(key) for k in known)
    } == set()


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("category_", [c.value for c in ReportCategory]),
        ("source_", [s.value for s in ReportSource]),
        ("news_", [c.value for c in NewsCategory]),
        ("channel_", [c.value for c in Channel] + ["app"]),
        ("reason_", [r.value for r in Reason]),
        ("decision_", [d.value for d in Decision]),
        ("scope_", [s.value for s in NoticeScope]),
        ("language_", [lang.value for lang in Language]),
        ("alert_text_in_", [lang.value for lang in Language]),
        ("status_", ["open", "evaluated"]),
    ],
)
def test_every_value_shown_has_its_text(prefix: str, values: list[str]) -> None:
    dutch = Catalogues([CONSOLE / "messages"]).texts["nl"]
    assert [v for v in values if prefix + v not in dutch] == []


def progress(
    targeted: int, delivered: int, failed: int = 0, **channels: dict[str, int]
) -> dict[str, Any]:
    pending = targeted - delivered - failed
    return {
        "targeted": targeted,
        "delivered": delivered,
        "failed": failed,
        "pending": pending,
        "complete": pending == 0,
        "channels": channels,
    }


def test_the_view_counts_finished_deliveries_per_member_and_per_channel() -> None:
    shown = view(progress(8, 5, 1, sms={"targeted": 8, "sent": 8, "delivered": 5, "queued": 2}))
    assert shown["finished"] == 6
    assert shown["percent"] == 75
    assert shown["channels"] == {"sms": {"targeted": 8, "sent": 8, "delivered": 5, "failed": 0}}
    assert view(None) == {
        "known": False,
        "targeted": 0,
        "finished": 0,
        "percent": 0,
        "channels": {},
    }


def test_a_fanout_is_final_only_when_dispatch_says_complete() -> None:
    assert not final(None)  # dispatch does not know it yet
    assert not final(progress(10, 4))
    assert final(progress(10, 10))
    assert not final({**progress(10, 10), "complete": False})  # still planning


@pytest.mark.parametrize(
    "text",
    [
        "Witte bestelwagen 1-ABC-123 en een auto ABC 123 in de straat",
        "Geen nummerplaat hier, bus 101",
        "1-ABC-123",
        "",
    ],
)
def test_pieces_rebuild_both_the_written_and_the_sent_text(text: str) -> None:
    cut = pieces(text, Language.NL)
    guarded = guard_texts({Language.NL: text})
    assert "".join(p.text for p in cut) == text
    assert "".join(p.replacement or p.text for p in cut) == guarded.texts[Language.NL]
    assert [p.text for p in cut if p.replacement] == [c.original for c in guarded.changes]


def test_a_masked_piece_carries_the_replacement_of_its_language() -> None:
    cut = pieces("plaat 1-ABC-123.", Language.FR)
    assert [(p.text, p.replacement) for p in cut] == [
        ("plaat ", None),
        ("1-ABC-123", "[plaque]"),
        (".", None),
    ]
    assert cut[0] == Piece("plaat ")


@pytest.mark.parametrize(
    ("header", "caller"),
    [
        (b"bin_lang=fr; bin_console=abc.def.ghi", "abc.def.ghi"),
        (b"bin_lang=fr", None),
        (b"", None),
        (b'bin_console="unterminated', None),
    ],
)
def test_console_callers_are_rate_limited_by_their_session(
    header: bytes, caller: str | None
) -> None:
    assert console_token(header) == caller
