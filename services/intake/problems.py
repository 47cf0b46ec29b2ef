"""Intake's errors as HTTP problem bodies, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.errors import (
    Conflict,
    ContentRefused,
    IntakeError,
    NotFound,
    OutsideZone,
    PrivacyUnresolved,
    TargetsRefused,
)
from shared.problems import problem

STATUS: dict[type[IntakeError], int] = {
    TargetsRefused: 422,
    ContentRefused: 422,
    OutsideZone: 403,
    NotFound: 404,
    Conflict: 409,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(IntakeError)
    async def refused(_: Request, error: IntakeError) -> JSONResponse:
        if isinstance(error, PrivacyUnresolved):
            # Each finding where it is, so a client can highlight it and answer it.
            findings = [
                {
                    "field": field,
                    "language": f.language.value,
                    "kind": f.kind.value,
                    "text": f.text,
                    "start": f.start,
                    "end": f.end,
                    "detail": f.detail,
                }
                for field, f in error.findings
            ]
            return problem(422, error.detail, reasons=error.reasons, findings=findings)
        if error.reasons:
            return problem(STATUS.get(type(error), 400), error.detail, reasons=error.reasons)
        return problem(STATUS.get(type(error), 400), error.detail)
