"""E-mail over SMTP (a relay or a mail service's submission port), with VERP bounces.

One SMTP transaction per delivery, one RCPT each, with the delivery's own VERP return path
as MAIL FROM: a bounce then names its delivery by the address it is sent to, whatever the
bouncing MTA writes in it. Connections are pooled (at most ``concurrency``) and reused.

The outcome at submission comes from the reply codes; 250 after DATA is ACCEPTED only, as
a DSN may follow (the bounce listener reports it), and the connector counts a message as
delivered when none has come within ``report_timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.errors
import email.policy
import email.utils
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import aiosmtplib
from pydantic import Field, SecretStr, field_validator, model_validator

from services.connectors.adapters.bounce_listener import BounceListener
from services.connectors.config import ProviderConfig, read_secret
from services.connectors.domain.email_outcomes import (
    SERVICE_CLOSING,
    classify_reply,
    queue_id,
    reply_detail,
    return_path,
)
from services.connectors.ports import (
    OutgoingMessage,
    ProviderUnavailable,
    ReportSink,
    SubmitResult,
    SubmitStatus,
)
from shared.logging import get_logger

log = get_logger(__name__)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"^{_LABEL}(?:\.{_LABEL})*$"


class SmtpConfig(ProviderConfig):
    kind: Literal["smtp"] = "smtp"
    channel: Literal["email"] = "email"
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    # "starttls" insists on the upgrade (no silent fallback to plain text); "tls" is
    # implicit TLS (port 465); "none" only for a relay on a trusted link.
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    # The From header: "BIN Sint-Anna <alerts@bin.example.org>".
    sender: str
    return_path_domain: str = Field(pattern=_HOSTNAME, max_length=253)
    return_path_local_part: str = Field(default="bounces", pattern=r"^[A-Za-z0-9._-]{1,40}$")
    bounce_listen_host: str = "127.0.0.1"
    # None: no listener here (bounces reach another replica or nobody).
    bounce_listen_port: int | None = Field(default=None, ge=1, le=65535)
    timeout_seconds: float = Field(default=30.0, gt=0)
    validate_certs: bool = True
    ca_file: Path | None = None
    # The EHLO name; None: this machine's FQDN.
    local_hostname: str | None = None
    # Relays limit connections per client (Postfix: 50 by default); a few suffice here.
    concurrency: int = Field(default=10, ge=1, le=1_000)

    @field_validator("sender")
    @classmethod
    def _sender_has_an_address(cls, value: str) -> str:
        _, address = email.utils.parseaddr(value)
        if "@" not in address:
            raise ValueError("sender must hold an e-mail address")
        return value

    @model_validator(mode="after")
    def _credentials_complete(self) -> SmtpConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        has_secret = self.password is not None or self.password_file is not None
        if has_secret != (self.username is not None):
            raise ValueError("username and a password (or password_file) go together")
        return self


def build_message(message: OutgoingMessage, sender: str, now: datetime) -> EmailMessage:
    """The message as the member receives it: text, and HTML as its alternative if any."""
    # 7-bit transfer encodings (quoted-printable for non-ASCII text, long HTML lines): the
    # message then passes any relay, 8BITMIME or not.
    mail = EmailMessage(policy=email.policy.default.clone(cte_type="7bit"))
    mail["Subject"] = _one_line(message.subject or "") or _subject_from_text(message.text)
    mail["From"] = sender
    mail["To"] = message.address
    mail["Date"] = email.utils.format_datetime(now)
    # The same id on every attempt of a delivery: a receiving system can drop the copy
    # that an in-doubt resend produces.
    sender_domain = email.utils.parseaddr(sender)[1].rpartition("@")[2]
    mail["Message-ID"] = f"<{message.delivery_id.hex}@{sender_domain}>"
    mail["X-BIN-Delivery"] = str(message.delivery_id)
    mail["Auto-Submitted"] = "auto-generated"
    # Out-of-office replies to the bounce address only cost us parsing: Exchange honours this.
    mail["X-Auto-Response-Suppress"] = "All"
    if message.unsubscribe_url is not None:
        # RFC 8058 one-click: the receiving provider POSTs to the URL without asking the
        # member to confirm on a page; the relay's DKIM signature must cover both headers.
        mail["List-Unsubscribe"] = f"<{_one_line(message.unsubscribe_url)}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    # After the content: setting it clears every Content-* header.
    mail["Content-Language"] = _one_line(message.language)
    return mail


def _one_line(value: str) -> str:
    # A line break in a header value would end the header (the policy refuses it outright).
    return " ".join(value.split())


def _subject_from_text(text: str) -> str:
    first_line = _one_line(text.strip().splitlines()[0]) if text.strip() else ""
    return first_line if len(first_line) <= 78 else first_line[:77] + "…"


@dataclass
class _Batch:
    """What one send() call learnt about the server: once it refused a connection, the
    batch's other messages are not made to wait for the same refusal."""

    broken: str | None = None


class _Stale(Exception):
    """A reused connection turned out to be closed before anything of the message was sent."""


class SmtpProvider:
    def __init__(self, config: SmtpConfig) -> None:
        self.name = config.name
        self.channel: str = config.channel
        self.config = config
        self._password = read_secret(config.password, config.password_file)
        self._slots = asyncio.Semaphore(config.concurrency)
        self._idle: list[aiosmtplib.SMTP] = []
        self.bounce_listener: BounceListener | None = None

    async def start(self, sink: ReportSink) -> None:
        # No connection is opened here: the first send() connects, so a relay that is down
        # at start-up costs nothing until a message needs it.
        config = self.config
        if config.bounce_listen_port is not None:
            self.bounce_listener = BounceListener(
                provider=self.name,
                sink=sink,
                local_part=config.return_path_local_part,
                domain=config.return_path_domain,
                host=config.bounce_listen_host,
                port=config.bounce_listen_port,
            )
            await self.bounce_listener.start()

    async def stop(self) -> None:
        if self.bounce_listener is not None:
            await self.bounce_listener.stop()
            self.bounce_listener = None
        idle, self._idle = self._idle, []
        for client in idle:
            await _quit(client)

    async def send(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        batch = _Batch()
        results = list(await asyncio.gather(*(self._send_one(m, batch) for m in messages)))
        if results and all(result.status is SubmitStatus.UNSENT for result in results):
            raise ProviderUnavailable(f"{self.name}: {batch.broken or 'nothing was taken'}")
        return results

    async def _send_one(self, message: OutgoingMessage, batch: _Batch) -> SubmitResult:
        async with self._slots:
            while True:
                client = self._idle.pop() if self._idle else None
                reused = client is not None
                if client is None:
                    if batch.broken is not None:
                        return SubmitResult(message.delivery_id, SubmitStatus.UNSENT)
                    client = await self._connect(batch)
                    if client is None:
                        return SubmitResult(message.delivery_id, SubmitStatus.UNSENT)
                try:
                    result, reusable = await self._transaction(client, message, batch, reused)
                except _Stale:
                    client.close()
                    continue
                except BaseException:
                    # Cancelled mid-transaction: the connection's state is unknown, drop it.
                    client.close()
                    raise
                if reusable:
                    self._idle.append(client)
                else:
                    client.close()
                log.debug(
                    "e-mail submitted",
                    provider=self.name,
                    delivery=str(message.delivery_id),
                    status=result.status.value,
                    detail=result.detail,
                )
                return result

    async def _connect(self, batch: _Batch) -> aiosmtplib.SMTP | None:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=self._password,
            local_hostname=config.local_hostname,
            timeout=config.timeout_seconds,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            validate_certs=config.validate_certs,
            cert_bundle=str(config.ca_file) if config.ca_file is not None else None,
        )
        try:
            await client.connect()
            # Without STARTTLS or AUTH, aiosmtplib greets lazily at the first MAIL: greet now,
            # so the extensions (DSN, SMTPUTF8) are known before the first MAIL is written.
            if client.is_ehlo_or_helo_needed:
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
        except (aiosmtplib.SMTPException, OSError) as error:
            client.close()
            code = getattr(error, "code", None)
            batch.broken = f"{type(error).__name__} {code}" if code else type(error).__name__
            log.warning(
                "smtp connection failed",
                provider=self.name,
                error=type(error).__name__,
                code=code,
            )
            return None
        return client

    async def _transaction(
        self, client: aiosmtplib.SMTP, message: OutgoingMessage, batch: _Batch, reused: bool
    ) -> tuple[SubmitResult, bool]:
        """One delivery's MAIL, RCPT and DATA; the result and whether the connection is fit
        for the next message."""
        delivery = message.delivery_id
        utf8 = not message.address.isascii()
        if utf8 and not client.supports_extension("smtputf8"):
            # An address with a non-ASCII local part cannot be written without SMTPUTF8.
            failed = SubmitResult(delivery, SubmitStatus.PERMANENT_FAILURE, detail="no SMTPUTF8")
            return failed, True
        encoding = "utf-8" if utf8 else "ascii"
        try:
            # Built before MAIL FROM, so a message that cannot be written opens no transaction.
            built = build_message(message, self.config.sender, datetime.now(UTC))
            body = built.as_bytes(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP)
        except (ValueError, TypeError, email.errors.MessageError):
            failed = SubmitResult(delivery, SubmitStatus.PERMANENT_FAILURE, detail="bad headers")
            return failed, True
        sender = return_path(
            delivery, self.config.return_path_local_part, self.config.return_path_domain
        )
        mail_options = _mail_options(client, delivery, utf8)

        try:
            await client.mail(sender, options=mail_options, encoding=encoding)
        except aiosmtplib.SMTPResponseException as refused:
            # A refused return path is ours to fix, not the member's: every message would
            # meet it, so the next provider takes them.
            batch.broken = f"MAIL FROM {reply_detail(refused.code, refused.message)}"
            log.warning("smtp sender refused", provider=self.name, code=refused.code)
            return SubmitResult(delivery, SubmitStatus.UNSENT), False
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as lost:
            if reused:
                raise _Stale from lost
            batch.broken = type(lost).__name__
            return SubmitResult(delivery, SubmitStatus.UNSENT), False
        except aiosmtplib.SMTPException as odd:
            batch.broken = type(odd).__name__
            return SubmitResult(delivery, SubmitStatus.UNSENT), False

        try:
            await client.rcpt(message.address, encoding=encoding)
        except aiosmtplib.SMTPRecipientRefused as refused:
            return await self._refused(client, delivery, refused, batch)
        except (aiosmtplib.SMTPException, OSError) as lost:
            batch.broken = type(lost).__name__
            return SubmitResult(delivery, SubmitStatus.UNSENT), False

        try:
            response = await client.data(body)
        except aiosmtplib.SMTPDataError as refused:
            return await self._refused(client, delivery, refused, batch)
        except (aiosmtplib.SMTPException, OSError):
            # The message may have reached the server before the link broke.
            batch.broken = "connection lost during DATA"
            return SubmitResult(delivery, SubmitStatus.IN_DOUBT), False
        queued = queue_id(response.message)
        return (
            SubmitResult(
                delivery,
                SubmitStatus.ACCEPTED,
                provider_message_ids=(queued,) if queued else (),
                detail=reply_detail(response.code, response.message),
            ),
            True,
        )

    async def _refused(
        self,
        client: aiosmtplib.SMTP,
        delivery: uuid.UUID,
        refused: aiosmtplib.SMTPResponseException,
        batch: _Batch,
    ) -> tuple[SubmitResult, bool]:
        if refused.code == SERVICE_CLOSING:
            batch.broken = reply_detail(refused.code, refused.message)
            return SubmitResult(delivery, SubmitStatus.UNSENT), False
        outcome = classify_reply(refused.code, refused.message)
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            reusable = False
        else:
            reusable = True
        return SubmitResult(delivery, outcome.status, detail=outcome.detail), reusable


def _mail_options(client: aiosmtplib.SMTP, delivery: uuid.UUID, utf8: bool) -> list[str]:
    options = []
    if client.supports_extension("dsn"):
        # ENVID names the delivery in the DSN even where a relay rewrites the return path;
        # RET=HDRS keeps the member's message out of the bounce.
        options += [f"ENVID={delivery.hex}", "RET=HDRS"]
    if utf8:
        options.append("SMTPUTF8")
    return options


async def _quit(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        async with asyncio.timeout(2):
            await client.quit()
    client.close()
