"""The privacy guard's findings shown before sending: the composer's texts, with what the
guard masks struck through and its replacement next to it, and what it is not sure about
highlighted with a mask-or-keep choice that the form sends along (an HTML fragment)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from services.intake.console.pages import Operator, PageConsole, PageRoute
from services.intake.domain.privacy import guard_texts, pieces
from services.intake.schemas import PrivacyPreview

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)


def content_of(form: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The part of whichever form asks that holds the texts, and the prefix of its field
    names: an evaluation nests them under ``alert``; alerts, follow-ups, notices, feedback
    and police news carry them at the top."""
    alert = form.get("alert")
    return (alert, "alert.") if isinstance(alert, dict) else (form, "")


def texts_of(content: dict[str, Any]) -> Any:
    """The texts by language; police news has one text, guarded as Dutch as when it is
    recorded (services/intake/outgoing.py)."""
    if "texts" not in content and "published_info" in content:
        return {"nl": content["published_info"]}
    return content.get("texts") or {}


@router.post("/privacy/preview", response_class=HTMLResponse)
async def privacy_preview(
    request: Request,
    console: PageConsole,
    principal: Operator,
    form: Annotated[dict[str, Any], Body()],
    form_id: Annotated[str, Query(alias="form", pattern=r"^[a-z][a-z-]{0,39}$")] = "",
) -> HTMLResponse:
    content, prefix = content_of(form)
    try:
        # The same limits as the JSON API's own preview (and as the texts sent).
        wanted = PrivacyPreview.model_validate(
            {
                "texts": texts_of(content),
                "privacy_decisions": content.get("privacy_decisions") or [],
            }
        )
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None
    decisions = wanted.decisions()
    guard = guard_texts(dict(wanted.texts), decisions)
    return console.render(
        request,
        "_privacy_preview.html",
        {
            "changes": guard.changes,
            "unresolved": guard.unresolved,
            "pieces": {
                language: pieces(text, language, decisions)
                for language, text in wanted.texts.items()
            },
            # The choices belong to the form that asked (they sit outside it on the page).
            "form_id": form_id,
            "heading_id": f"{form_id}-privacy" if form_id else "privacy-heading",
            "field": f"{prefix}privacy_decisions[]",
        },
        principal,
    )
