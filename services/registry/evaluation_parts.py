"""Fetches intake's and dispatch's parts of the yearly evaluation over their HTTP APIs, with
the caller's own bearer token, so each service applies its own access rules to its own data.
A service that does not answer makes the report fail with a problem naming it: a report
with a silently missing part would mislead the evaluation meeting."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from shared.evaluation import ActivityFigures, ActivityPart, DeliveryFigures, DeliveryPart
from shared.logging import get_logger
from shared.problems import problem

log = get_logger(__name__)
Part = TypeVar("Part", bound=BaseModel)


class PartUnavailable(Exception):
    """503: the service did not answer; 502: it answered, but not with its part."""

    def __init__(self, service: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.service = service
        self.status = status
        self.detail = detail


async def part_unavailable(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PartUnavailable)
    return problem(error.status, error.detail, service=error.service)


class EvaluationParts:
    def __init__(self, urls: dict[str, str], timeout: float = 10.0) -> None:
        self.urls = urls
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def start(self, _: object) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout)

    async def stop(self, _: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _fetch(
        self, service: str, path: str, authorization: str, model: type[Part], empty: Part
    ) -> Part:
        if self._client is None:
            raise PartUnavailable(service, 503, f"{service}: the registry is not started")
        url = f"{self.urls[service].rstrip('/')}{path}"
        try:
            response = await self._client.get(url, headers={"Authorization": authorization})
        except httpx.HTTPError as error:
            log.warning("evaluation part unavailable", service=service, error=repr(error))
            raise PartUnavailable(
                service, 503, f"{service} did not answer ({type(error).__name__}); try again"
            ) from None
        if response.status_code == 404:
            # The service never heard of the BIN (no alert, no delivery): nothing to count.
            return empty
        if response.status_code != 200:
            raise PartUnavailable(
                service, 502, f"{service} answered {response.status_code}: {_detail(response)}"
            )
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise PartUnavailable(service, 502, f"{service} answered an unreadable part") from None

    async def fetch(
        self, path: str, year: int, authorization: str
    ) -> tuple[ActivityPart, DeliveryPart]:
        """``path``: ``/bins/{id}/evaluation/{year}`` or ``/zones/{zone}/evaluation/{year}``,
        the same on both services."""
        return await asyncio.gather(
            self._fetch(
                "intake",
                path,
                authorization,
                ActivityPart,
                ActivityPart(year=year, total=ActivityFigures()),
            ),
            self._fetch(
                "dispatch",
                path,
                authorization,
                DeliveryPart,
                DeliveryPart(year=year, price_eur={}, total=DeliveryFigures()),
            ),
        )


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except ValueError:
        return response.text[:200]
