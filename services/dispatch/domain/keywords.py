"""SMS keywords a member may reply: STOP (and its French and German equivalents) ends SMS,
START or RESUME (and theirs) brings them back. A whole reply, not a word in a sentence: "stop
hem!" is a response to the alert, not a command."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from functools import cache
from pathlib import Path

from shared.events import Language


class SmsCommand(StrEnum):
    STOP = "stop"
    START = "start"


_WORDS = {
    SmsCommand.STOP: {"stop", "stopp", "arret", "arrete", "halt"},
    SmsCommand.START: {"start", "resume", "demarrer", "reprendre", "weiter", "starten"},
}
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def command(reply: str) -> SmsCommand | None:
    plain = unicodedata.normalize("NFKD", reply)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).casefold()
    word = re.sub(r"[^a-z]", "", plain)
    if not word or len(plain.split()) > 1:
        return None
    return next((c for c, words in _WORDS.items() if word in words), None)


@cache
def confirmation(cmd: SmsCommand, language: Language) -> str:
    """What the member is sent back, in their language (templates/<command>.<lang>.txt)."""
    return (TEMPLATES / f"{cmd.value}.{language.value}.txt").read_text(encoding="utf-8").strip()
