"""Web Push: one encrypted POST per delivery to the push service named by the subscription.

RFC 8030 (the push protocol: ``TTL``, ``Urgency``), RFC 8291 (the payload encrypted for the
browser's key, ``aes128gcm``; pywebpush's :class:`WebPusher` does the encryption) and RFC
8292 (VAPID: a token signed with the platform's key, whose public half the browser
subscribed with; py-vapid signs it). The HTTP request itself is ours, so the push service's
status is read by :mod:`~services.connectors.domain.push_outcomes`; it goes through
:mod:`~services.connectors.adapters.http_client`, as Kannel's sendsms does.

Every subscription names its own push service (FCM, Mozilla's, Apple's), so one of them
failing says nothing about the others: this provider never raises ProviderUnavailable, each
delivery gets its own answer. No reports follow: a 201 is final.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
from py_vapid import Vapid02
from pydantic import Field, SecretStr, model_validator
from pywebpush import WebPusher

from services.connectors.adapters import http_client
from services.connectors.config import ProviderConfig, read_secret
from services.connectors.domain.push_outcomes import (
    DEFAULT_PUSH_HOSTS,
    URGENCY,
    classify_status,
    host_allowed,
    payload,
    ttl_seconds,
)
from services.connectors.ports import OutgoingMessage, ReportSink, SubmitResult, SubmitStatus
from shared.logging import get_logger
from shared.push_subscription import InvalidSubscription, PushSubscription, read_subscription

log = get_logger(__name__)

# A VAPID token lives 12 hours (RFC 8292 allows 24) and is signed again an hour before.
TOKEN_LIFETIME = 12 * 3600
TOKEN_RENEW_BEFORE = 3600
# The notification's title when the message has no subject (alerts have none).
TITLES = {"nl": "BIN-melding", "fr": "Alerte BIN", "de": "BIN-Meldung"}


class WebPushConfig(ProviderConfig):
    kind: Literal["webpush"] = "webpush"
    channel: Literal["push"] = "push"
    # The VAPID private key (P-256): base64url of the raw 32 bytes or of the DER, or PEM.
    # Its public half is what the registry's page subscribes with (BIN_PUSH_VAPID_PUBLIC_KEY).
    vapid_private_key: SecretStr | None = None
    vapid_private_key_file: Path | None = None
    # RFC 8292 "sub": how a push service's operator reaches the platform's.
    vapid_subject: str = Field(pattern=r"^(mailto:\S+@\S+|https://\S+)$")
    # Hosts (and their subdomains) a subscription's endpoint may name: see DEFAULT_PUSH_HOSTS.
    allowed_endpoint_hosts: tuple[str, ...] = DEFAULT_PUSH_HOSTS
    # How long a push service keeps the message for a device that is offline.
    urgent_ttl_seconds: int = Field(default=4 * 3600, ge=0, le=28 * 86400)
    bulk_ttl_seconds: int = Field(default=24 * 3600, ge=0, le=28 * 86400)
    request_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _one_key(self) -> WebPushConfig:
        if (self.vapid_private_key is None) == (self.vapid_private_key_file is None):
            raise ValueError("give exactly one of vapid_private_key and vapid_private_key_file")
        return self


def load_vapid(config: WebPushConfig) -> Vapid02:
    secret = read_secret(config.vapid_private_key, config.vapid_private_key_file) or ""
    if secret.lstrip().startswith("-----BEGIN"):
        return Vapid02.from_pem(secret.encode())
    return Vapid02.from_string(secret.strip())


class VapidTokens:
    """One signed token per push service origin, reused until shortly before it expires:
    signing (ECDSA) costs more than the encryption, and every FCM endpoint has one origin."""

    def __init__(self, vapid: Vapid02, subject: str) -> None:
        self._vapid = vapid
        self._subject = subject
        self._tokens: dict[str, tuple[str, float]] = {}

    def authorization(self, audience: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        cached = self._tokens.get(audience)
        if cached is not None and cached[1] - TOKEN_RENEW_BEFORE > now:
            return cached[0]
        expires = int(now) + TOKEN_LIFETIME
        claims = {"aud": audience, "sub": self._subject, "exp": expires}
        header = str(self._vapid.sign(claims)["Authorization"])
        self._tokens[audience] = (header, expires)
        return header


class WebPushProvider:
    def __init__(self, config: WebPushConfig) -> None:
        self.name: str = config.name
        self.channel: str = config.channel
        self._config = config
        self._client: aiohttp.ClientSession | None = None
        self._tokens: VapidTokens | None = None

    async def start(self, sink: ReportSink) -> None:
        # Push services send no reports: a 201 is final.
        del sink
        self._tokens = VapidTokens(load_vapid(self._config), self._config.vapid_subject)
        self._client = http_client.session(
            self._config.concurrency, self._config.request_timeout_seconds
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        if self._client is None or self._tokens is None:
            raise RuntimeError(f"provider {self.name} is not started")
        gate = asyncio.Semaphore(self._config.concurrency)

        async def one(message: OutgoingMessage) -> SubmitResult:
            async with gate:
                return await self._send_one(message)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(message)) for message in messages]
        return [task.result() for task in tasks]

    async def _send_one(self, message: OutgoingMessage) -> SubmitResult:
        assert self._client is not None
        delivery_id = message.delivery_id
        try:
            subscription = read_subscription(message.address)
        except InvalidSubscription as invalid:
            return SubmitResult(delivery_id, SubmitStatus.PERMANENT_FAILURE, detail=str(invalid))
        if not host_allowed(urlsplit(subscription.endpoint).hostname,
                            self._config.allowed_endpoint_hosts):  # fmt: skip
            detail = "push endpoint not on the allowed push services"
            return SubmitResult(delivery_id, SubmitStatus.PERMANENT_FAILURE, detail=detail)
        headers, body = self.request(subscription, message)
        try:
            status = (await http_client.post(self._client, subscription.endpoint, headers,
                                             body)).status  # fmt: skip
        except http_client.Unreachable as refused:
            detail = f"push service unreachable: {refused}"
            return SubmitResult(delivery_id, SubmitStatus.TEMPORARY_FAILURE, detail=detail)
        except http_client.NoAnswer as broken:
            # It may have the message: a second one on retry is better than none.
            detail = f"push service did not answer: {broken}"
            return SubmitResult(delivery_id, SubmitStatus.TEMPORARY_FAILURE, detail=detail)
        answer = classify_status(status)
        log.debug("push submit", provider=self.name, delivery_id=str(delivery_id),
                  status=status)  # fmt: skip
        return SubmitResult(
            delivery_id,
            answer.status,
            detail=answer.detail,
            expired_endpoint=subscription.endpoint if answer.gone else None,
        )

    def request(
        self, subscription: PushSubscription, message: OutgoingMessage
    ) -> tuple[dict[str, str], bytes]:
        """The headers and the encrypted body of one push message."""
        assert self._tokens is not None
        config = self._config
        title = message.subject or TITLES.get(message.language, TITLES["nl"])
        data = payload(str(message.delivery_id), message.priority, message.language, title,
                       message.text)  # fmt: skip
        pusher = WebPusher(subscription.model_dump())
        body = pusher.encode(data, content_encoding="aes128gcm")["body"]
        ttl = ttl_seconds(message.priority, config.urgent_ttl_seconds, config.bulk_ttl_seconds)
        headers = {
            "TTL": str(ttl),
            "Urgency": URGENCY.get(message.priority, "normal"),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self._tokens.authorization(subscription.origin()),
        }
        return headers, bytes(body)
