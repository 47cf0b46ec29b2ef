"""What every console page handler shares: the console, the operator behind the page, and
refusals shown as a page (not the API's JSON problem)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from services.intake.errors import IntakeError, OutsideZone
from services.intake.problems import STATUS
from shared.auth import Principal, Role
from shared.web import Console
from shared.web.session import ConsoleUser


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


PageConsole = Annotated[Console, Depends(console_of)]


def _operator(request: Request, user: ConsoleUser) -> Principal:
    # Kept for the refusal page, which shows the navigation to whoever is logged in.
    request.state.principal = user
    if not user.has_role(Role.OPERATOR, Role.MANDATED_OFFICER):
        raise OutsideZone("this console is for police operators and mandated officers")
    return user


# The logged-in police operator (or mandated officer, or admin) a page is for.
Operator = Annotated[Principal, Depends(_operator)]


class PageRoute(APIRoute):
    """Intake's refusals (another zone, unknown id, ...) raised by a page handler, its
    dependencies or the API functions it reuses, shown as the console's refusal page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def refusing(request: Request) -> Response:
            try:
                return await handle(request)
            except IntakeError as error:
                principal = getattr(request.state, "principal", None)
                return console_of(request).refuse(
                    request, error.detail, principal, STATUS.get(type(error), 400)
                )

        return refusing
