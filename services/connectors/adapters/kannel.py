"""SMS through a Kannel gateway: one HTTP ``sendsms`` POST per message.

Kannel does the SMS work itself: GSM 03.38 or UCS-2 (``coding=2``, asked for here when a
text has a character GSM 03.38 lacks), splitting a long text into concatenated parts (its
``sendsms-user`` group's ``max-messages`` and ``concatenation = true``), the SMPP link,
resends. Reports come back on their own: each request carries a ``dlr-url`` naming our
delivery id (:func:`~services.connectors.domain.kannel_reports.dlr_url`), which Kannel calls
on the connector's HTTP listener (:mod:`services.connectors.adapters.kannel_http`).

Kannel answers a sendsms only once bearerbox has the message, so a 202 is a real hand-over.
A report can reach the listener before that answer reaches us.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import aiohttp
import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from pydantic import Field, SecretStr, field_validator, model_validator

from services.connectors.adapters import http_client
from services.connectors.config import ProviderConfig, read_secret
from services.connectors.domain.kannel_reports import (
    DLR_MASK_ALL,
    ProviderDown,
    dlr_url,
    read_sendsms_answer,
)
from services.connectors.domain.sms_encoding import MAX_PARTS, part_count
from services.connectors.ports import (
    OutgoingMessage,
    ProviderUnavailable,
    ReportSink,
    SubmitResult,
    SubmitStatus,
)
from shared.logging import get_logger

log = get_logger(__name__)

GSM_CODEC = "gsm03.38"
KANNEL_CODING_UCS2 = 2
# sendsms ``priority`` 0-3, higher first in bearerbox's queue: alerts pass digests.
KANNEL_PRIORITY = {"urgent": 1, "bulk": 0}


class KannelConfig(ProviderConfig):
    kind: Literal["kannel"] = "kannel"
    channel: Literal["sms"] = "sms"
    # smsbox's sendsms endpoint: http://host:<sendsms-port>/cgi-bin/sendsms
    sendsms_url: str = Field(pattern=r"^https?://\S+$")
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    password_file: Path | None = None
    # The "from": an alphanumeric sender id (11 characters at most) or a number; ASCII,
    # as it travels in an HTTP header.
    sender: str = Field(pattern=r"^[!-~][ -~]{0,19}$")
    # The connector's own HTTP base URL as Kannel reaches it, for the DLR callbacks.
    callback_base_url: str = Field(pattern=r"^https?://[^%\s]+$")
    # Kannel's smsc-id to route by; None lets bearerbox choose, and a link with an
    # allowed-smsc-id then refuses the message ("Not routable").
    smsc_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    request_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("callback_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_password(self) -> KannelConfig:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("give exactly one of password and password_file")
        return self


class KannelProvider:
    def __init__(self, config: KannelConfig) -> None:
        self.name: str = config.name
        self.channel: str = config.channel
        self._config = config
        self._client: aiohttp.ClientSession | None = None
        self._password = ""

    async def start(self, sink: ReportSink) -> None:
        # Reports reach the sink through kannel_router, not through this object.
        del sink
        self._password = read_secret(self._config.password, self._config.password_file) or ""
        self._client = http_client.session(
            self._config.concurrency, self._config.request_timeout_seconds
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        if self._client is None:
            raise RuntimeError(f"provider {self.name} is not started")
        batch = _Batch(self._client, self._config, self._password)
        gate = asyncio.Semaphore(self._config.concurrency)

        async def one(message: OutgoingMessage) -> SubmitResult:
            async with gate:
                return await batch.submit(message)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(message)) for message in messages]
        results = [task.result() for task in tasks]
        if batch.down is not None and all(r.status is SubmitStatus.UNSENT for r in results):
            raise ProviderUnavailable(batch.down)
        return results


class _Batch:
    """One call of :meth:`KannelProvider.send`: once Kannel is found down, the messages not
    yet handed over stay with us (UNSENT) for the next provider."""

    def __init__(self, client: aiohttp.ClientSession, config: KannelConfig, password: str) -> None:
        self._client = client
        self._config = config
        self._password = password
        self.down: str | None = None

    async def submit(self, message: OutgoingMessage) -> SubmitResult:
        delivery_id = message.delivery_id
        if self.down is not None:
            return SubmitResult(delivery_id, SubmitStatus.UNSENT, detail=self.down)
        parts = part_count(message.text)
        if parts > MAX_PARTS:
            # Kannel would cut it at its max-messages without a word.
            detail = f"text needs {parts} SMS parts, more than {MAX_PARTS}"
            return SubmitResult(delivery_id, SubmitStatus.PERMANENT_FAILURE, detail=detail)
        headers, body = sendsms_request(self._config, self._password, message)
        try:
            response = await http_client.post(self._client, self._config.sendsms_url, headers, body)
        except http_client.Unreachable as refused:
            return self._lost(delivery_id, SubmitStatus.UNSENT, f"kannel unreachable: {refused}")
        except http_client.NoAnswer as broken:
            # The request may have reached smsbox: Kannel may send it.
            reason = f"kannel did not answer: {broken}"
            return self._lost(delivery_id, SubmitStatus.IN_DOUBT, reason)
        answer = read_sendsms_answer(response.status, response.text)
        if isinstance(answer, ProviderDown):
            return self._lost(delivery_id, SubmitStatus.UNSENT, answer.reason)
        log.debug(
            "kannel submit", provider=self.name, delivery_id=str(delivery_id), status=answer.status
        )
        return SubmitResult(delivery_id, answer.status, detail=answer.detail)

    @property
    def name(self) -> str:
        return self._config.name

    def _lost(self, delivery_id: uuid.UUID, status: SubmitStatus, reason: str) -> SubmitResult:
        if self.down is None:
            self.down = reason
            log.warning("kannel unavailable", provider=self.name, reason=reason)
        return SubmitResult(delivery_id, status, detail=reason)


def sendsms_request(
    config: KannelConfig, password: str, message: OutgoingMessage
) -> tuple[dict[str, str], bytes]:
    """The headers and body of one sendsms POST: Kannel reads ``X-Kannel-*`` headers and
    takes the body as the text, so no number, text or password is ever in a URL (URLs are
    what HTTP clients, proxies and our own request logging write down)."""
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "X-Kannel-Username": config.username,
        "X-Kannel-Password": password,
        "X-Kannel-From": config.sender,
        "X-Kannel-To": message.address,
        "X-Kannel-DLR-Mask": str(DLR_MASK_ALL),
        "X-Kannel-DLR-URL": dlr_url(config.callback_base_url, config.name, message.delivery_id),
        "X-Kannel-Priority": str(KANNEL_PRIORITY.get(message.priority, 0)),
    }
    if not is_gsm7(message.text):
        # Kannel turns the UTF-8 body into UCS-2 then; else into GSM 03.38 for the SMSC.
        headers["X-Kannel-Coding"] = str(KANNEL_CODING_UCS2)
    if config.smsc_id is not None:
        headers["X-Kannel-SMSC"] = config.smsc_id
    return headers, message.text.encode("utf-8")


def is_gsm7(text: str) -> bool:
    try:
        text.encode(GSM_CODEC)
    except UnicodeEncodeError:
        return False
    return True
