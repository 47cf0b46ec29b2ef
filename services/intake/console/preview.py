"""The privacy guard's changes shown before sending: the composer's texts, with what the
guard masks struck through and its replacement next to it (an HTML fragment for the page)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from services.intake.console.pages import Operator, PageConsole, PageRoute
from services.intake.domain.privacy import guard_texts, pieces
from services.intake.schemas import PrivacyPreview

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)


def texts_of(form: dict[str, Any]) -> Any:
    """The texts of whichever form asks: an evaluation nests them under ``alert``; alerts,
    follow-ups, notices and feedback carry them at the top."""
    alert = form.get("alert")
    return (alert if isinstance(alert, dict) else form).get("texts") or {}


@router.post("/privacy/preview", response_class=HTMLResponse)
async def privacy_preview(
    request: Request,
    console: PageConsole,
    principal: Operator,
    form: Annotated[dict[str, Any], Body()],
) -> HTMLResponse:
    try:
        # The same limits as the JSON API's own preview (and as the texts sent).
        wanted = PrivacyPreview.model_validate({"texts": texts_of(form)})
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None
    _, changes = guard_texts(dict(wanted.texts))
    return console.render(
        request,
        "_privacy_preview.html",
        {
            "changes": changes,
            "pieces": {language: pieces(text, language) for language, text in wanted.texts.items()},
        },
        principal,
    )
