"""Dispatch's progress of an alert, over its HTTP API (dispatch owns the deliveries)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


class DispatchUnavailable(Exception):
    """Dispatch did not answer (or answered with an error): try again on the next poll."""


class ProgressClient:
    def __init__(self, dispatch_url: str, token: str | None, timeout: float = 2.0) -> None:
        # The operator's own token: dispatch checks the alert is in their zone itself.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=dispatch_url.rstrip("/"), timeout=timeout, headers=headers
        )

    async def __aenter__(self) -> ProgressClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def progress(self, alert_id: uuid.UUID) -> dict[str, Any] | None:
        """Dispatch's answer, or None while it does not know the alert yet."""
        try:
            response = await self._client.get(f"/alerts/{alert_id}/progress")
        except httpx.HTTPError as error:
            raise DispatchUnavailable(type(error).__name__) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DispatchUnavailable(f"HTTP {response.status_code}")
        found: dict[str, Any] = response.json()
        return found
