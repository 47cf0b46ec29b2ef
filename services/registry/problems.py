"""The registry's domain errors as HTTP problems, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.registry.domain.errors import IllegalTransition, NotEligible, SignatureRefused
from services.registry.domain.sanctions import SanctionRefused
from shared.problems import problem


def install(app: FastAPI) -> None:
    @app.exception_handler(NotEligible)
    async def not_eligible(_: Request, error: NotEligible) -> JSONResponse:
        return problem(422, "the member may not join this BIN; see reasons", reasons=error.reasons)

    @app.exception_handler(IllegalTransition)
    async def illegal(_: Request, error: IllegalTransition) -> JSONResponse:
        return problem(409, str(error))

    @app.exception_handler(SanctionRefused)
    async def sanction_refused(_: Request, error: SanctionRefused) -> JSONResponse:
        return problem(409, str(error))

    @app.exception_handler(SignatureRefused)
    async def refused(_: Request, error: SignatureRefused) -> JSONResponse:
        return problem(409, str(error))
