"""The SMTP adapter against real peers: an aiosmtpd recipient server in its own process, and
a private Postfix that accepts, then gets 550 from the next hop and bounces a real DSN to the
adapter's bounce listener."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.connectors.adapters.bounce_listener import BounceListener
from services.connectors.adapters.smtp import SmtpConfig, SmtpProvider
from services.connectors.domain.email_outcomes import return_path
from services.connectors.ports import (
    DeliveryReport,
    InboundReply,
    OutgoingMessage,
    ProviderUnavailable,
    SubmitStatus,
)
from shared.events import DeliveryOutcome
from tests.integration.connectors.conftest import RecordingSink
from tests.peers.mail import HOST, MailServer, PostfixRelay
from tests.ports import free_port

BOUNCE_DOMAIN = "bounces.bin.example.org"
SENDER = "BIN Sint-Anna <alerts@bin.example.org>"


def smtp_config(port: int, **overrides: Any) -> SmtpConfig:
    settings: dict[str, Any] = {
        "name": "mail-relay",
        "host": HOST,
        "port": port,
        "security": "none",
        "sender": SENDER,
        "return_path_domain": BOUNCE_DOMAIN,
        "local_hostname": "connector.bin.test",
        "timeout_seconds": 5,
        **overrides,
    }
    return SmtpConfig(**settings)


def outgoing(address: str, **fields: Any) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=uuid.uuid4(),
        address=address,
        language="nl",
        text=fields.pop("text", "Inbraak gemeld in de Kerkstraat."),
        subject=fields.pop("subject", "BIN-melding"),
        **fields,
    )


@asynccontextmanager
async def running(config: SmtpConfig, sink: RecordingSink) -> AsyncIterator[SmtpProvider]:
    provider = SmtpProvider(config)
    await provider.start(sink)
    try:
        yield provider
    finally:
        await provider.stop()


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


async def test_a_digest_arrives_as_text_and_html_with_one_click_unsubscribe(
    mail_server: MailServer, sink: RecordingSink
) -> None:
    digest = outgoing(
        "jan.peeters@example.net",
        subject="Uw BIN-overzicht van deze week",
        text="Drie meldingen deze week.\nGeen inbraken.",
        html="<h1>Drie meldingen deze week</h1><p>Geen inbraken.</p>",
        unsubscribe_url="https://bin.example.org/voorkeuren/abc123",
        priority="bulk",
    )
    async with running(smtp_config(mail_server.port), sink) as provider:
        [result] = await provider.send([digest])

    assert result.status is SubmitStatus.ACCEPTED
    assert result.provider_message_ids == ("M000001",)
    [received] = await mail_server.wait_for(1)
    assert received.mail_from == return_path(digest.delivery_id, "bounces", BOUNCE_DOMAIN)
    assert received.rcpt_tos == ["jan.peeters@example.net"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert "Geen inbraken." in plain.get_content()
    assert html.get_content_type() == "text/html"
    assert "<h1>Drie meldingen deze week</h1>" in html.get_content()
    assert message["List-Unsubscribe"] == "<https://bin.example.org/voorkeuren/abc123>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-BIN-Delivery"] == str(digest.delivery_id)
    assert digest.delivery_id.hex in message["Message-ID"]
    assert message["Subject"] == "Uw BIN-overzicht van deze week"
    assert message["Content-Language"] == "nl"


async def test_refusals_at_rcpt_are_per_recipient_outcomes_on_one_reused_connection(
    mail_server: MailServer, sink: RecordingSink
) -> None:
    unknown = outgoing("unknown.member@example.net")
    busy = outgoing("tempfail.member@example.net")
    fine = outgoing("an.janssens@example.net", text="Alles rustig.")
    # One connection: the refusals must leave it usable (RSET) for the next transaction.
    async with running(smtp_config(mail_server.port, concurrency=1), sink) as provider:
        results = {r.delivery_id: r for r in await provider.send([unknown, busy, fine])}

    assert results[unknown.delivery_id].status is SubmitStatus.PERMANENT_FAILURE
    assert results[unknown.delivery_id].detail == "550 5.1.1"
    assert results[busy.delivery_id].status is SubmitStatus.TEMPORARY_FAILURE
    assert results[busy.delivery_id].detail == "451 4.3.0"
    assert results[fine.delivery_id].status is SubmitStatus.ACCEPTED
    [received] = await mail_server.wait_for(1)
    assert received.message["X-BIN-Delivery"] == str(fine.delivery_id)
    assert mail_server.refusals() == [550, 451]


async def test_a_server_that_went_away_is_reconnected_to(sink: RecordingSink) -> None:
    port = free_port()
    async with running(smtp_config(port), sink) as provider:
        with MailServer(port=port):
            [first] = await provider.send([outgoing("jan@example.net")])
        # The pooled connection is dead now; the next message needs a new one.
        with MailServer(port=port) as restarted:
            [second] = await provider.send([outgoing("jan@example.net")])
            assert restarted.count == 1
    assert (first.status, second.status) == (SubmitStatus.ACCEPTED, SubmitStatus.ACCEPTED)


async def test_nothing_listening_is_provider_unavailable(sink: RecordingSink) -> None:
    async with running(smtp_config(free_port()), sink) as provider:
        with pytest.raises(ProviderUnavailable):
            await provider.send([outgoing("jan@example.net"), outgoing("an@example.net")])


async def test_a_421_greeting_is_provider_unavailable(sink: RecordingSink) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.3.2 Service shutting down, closing channel\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running(smtp_config(port), sink) as provider:
            with pytest.raises(ProviderUnavailable):
                await provider.send([outgoing("jan@example.net")])
    finally:
        server.close()
        await server.wait_closed()


class _GoesAwayAfterOneMessage:
    """In-process aiosmtpd handler: after one message the server stops listening and drops
    the connection at the next MAIL, without a reply, as a crashing relay would."""

    def __init__(self) -> None:
        self.listening: asyncio.Server | None = None
        self.taken = 0

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.taken and isinstance(server.transport, asyncio.Transport):
            server.transport.abort()
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.taken += 1
        assert self.listening is not None
        self.listening.close()
        return "250 2.0.0 Ok: queued as ONLY1"


async def test_a_server_gone_mid_batch_leaves_the_rest_unsent(sink: RecordingSink) -> None:
    handler = _GoesAwayAfterOneMessage()
    loop = asyncio.get_running_loop()
    handler.listening = await loop.create_server(lambda: SMTP(handler, loop=loop), HOST, 0)
    port = handler.listening.sockets[0].getsockname()[1]
    first, second, third = (outgoing(f"member{i}@example.net") for i in range(3))
    async with running(smtp_config(port, concurrency=1), sink) as provider:
        results = {r.delivery_id: r.status for r in await provider.send([first, second, third])}
    await handler.listening.wait_closed()

    assert results == {
        first.delivery_id: SubmitStatus.ACCEPTED,
        second.delivery_id: SubmitStatus.UNSENT,
        third.delivery_id: SubmitStatus.UNSENT,
    }


async def test_a_non_ascii_address_goes_with_smtputf8_and_a_broken_subject_on_one_line(
    mail_server: MailServer, sink: RecordingSink
) -> None:
    message = outgoing("jöran.dupré@example.net", subject="Inbraak\r\nBcc: iedereen@example.net")
    async with running(smtp_config(mail_server.port), sink) as provider:
        [result] = await provider.send([message])

    assert result.status is SubmitStatus.ACCEPTED
    [received] = await mail_server.wait_for(1)
    assert received.rcpt_tos == ["jöran.dupré@example.net"]
    assert "SMTPUTF8" in received.mail_options
    assert received.message["Subject"] == "Inbraak Bcc: iedereen@example.net"
    assert received.message["Bcc"] is None


async def test_starttls_with_the_servers_own_ca(sink: RecordingSink) -> None:
    with MailServer(tls=True) as server:
        assert server.ca_file is not None
        trusting = smtp_config(server.port, security="starttls", ca_file=server.ca_file)
        async with running(trusting, sink) as provider:
            [result] = await provider.send([outgoing("jan@example.net")])
        # Without the CA the self-signed certificate must not be taken.
        async with running(smtp_config(server.port, security="starttls"), sink) as provider:
            with pytest.raises(ProviderUnavailable):
                await provider.send([outgoing("jan@example.net")])
        received = server.received()

    assert result.status is SubmitStatus.ACCEPTED
    assert [r.tls for r in received] == [True]


async def test_a_dsn_from_postfix_reaches_the_sink_for_exactly_that_delivery(
    mail_server: MailServer, sink: RecordingSink
) -> None:
    bounce_port = free_port()
    routes = {"example.net": (HOST, mail_server.port), BOUNCE_DOMAIN: (HOST, bounce_port)}
    unknown = outgoing("unknown.member@example.net")
    fine = outgoing("an.janssens@example.net")
    with PostfixRelay(routes) as relay:
        config = smtp_config(relay.port, bounce_listen_port=bounce_port)
        async with running(config, sink) as provider:
            results = await provider.send([unknown, fine])
            # Postfix takes both; only then does the next hop refuse one.
            assert [r.status for r in results] == [SubmitStatus.ACCEPTED] * 2
            try:
                await sink.wait_for(1, timeout=20)
                await mail_server.wait_for(1)
            except TimeoutError:
                pytest.fail(f"no DSN within 20 s; Postfix's log:\n{relay.maillog()[-3000:]}")
            assert provider.bounce_listener is not None
            assert provider.bounce_listener.stats.reports == 1

    [(provider_name, report)] = sink.delivery_reports
    assert provider_name == "mail-relay"
    assert report.delivery_id == unknown.delivery_id
    assert report.outcome is DeliveryOutcome.PERMANENT_FAILURE
    assert report.detail is not None and "5.1.1" in report.detail
    [received] = mail_server.received()
    assert received.message["X-BIN-Delivery"] == str(fine.delivery_id)


# ── the bounce listener on its own ──────────────────────────────────────────────────────


class FailingSink:
    async def reports(self, provider: str, reports: Sequence[DeliveryReport]) -> None:
        raise RuntimeError("ledger down")

    async def replies(self, provider: str, replies: Sequence[InboundReply]) -> None:
        raise RuntimeError("ledger down")


@asynccontextmanager
async def listening(sink: Any) -> AsyncIterator[BounceListener]:
    listener = BounceListener(
        provider="mail-relay",
        sink=sink,
        local_part="bounces",
        domain=BOUNCE_DOMAIN,
        host=HOST,
        port=0,
    )
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


DSN = """\
From: MAILER-DAEMON@relay.example.net
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message could not be delivered.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.net

Final-Recipient: rfc822; jan@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <jan@example.net>: User unknown
--b--
"""


async def deliver(port: int, message: str, sender: str, recipient: str) -> None:
    """One transaction as a bouncing MTA makes it (aiosmtplib.send refuses the null sender)."""
    async with aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False) as client:
        await client.mail(sender)
        await client.rcpt(recipient)
        await client.data(message)


async def test_the_listener_takes_mail_for_bounce_addresses_only(sink: RecordingSink) -> None:
    async with (
        listening(sink) as listener,
        aiosmtplib.SMTP(hostname=HOST, port=listener.port, start_tls=False) as client,
    ):
        await client.mail("")
        for address in (
            "jan@example.net",
            f"postmaster@{BOUNCE_DOMAIN}",
            f"other+{uuid.uuid4().hex}@{BOUNCE_DOMAIN}",
            f"bounces+{uuid.uuid4().hex}@evil.example",
        ):
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
                await client.rcpt(address)
            assert refused.value.code == 550
    assert listener.stats.refused_recipients == 4


async def test_a_bounce_the_sink_cannot_record_is_answered_451() -> None:
    delivery = uuid.uuid4()
    async with listening(FailingSink()) as listener:
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await deliver(listener.port, DSN, "", return_path(delivery, "bounces", BOUNCE_DOMAIN))
    assert refused.value.code == 451
    assert listener.stats.sink_failures == 1


async def test_an_auto_reply_is_accepted_and_ignored(sink: RecordingSink) -> None:
    delivery = uuid.uuid4()
    auto_reply = "Subject: Afwezig\nAuto-Submitted: auto-replied\n\nTot maandag.\n"
    bounce_address = return_path(delivery, "bounces", BOUNCE_DOMAIN)
    async with listening(sink) as listener:
        await deliver(listener.port, auto_reply, "jan@example.net", bounce_address)
        await deliver(listener.port, DSN, "", bounce_address)
    assert listener.stats.ignored == 1
    [(_, report)] = sink.delivery_reports
    assert (report.delivery_id, report.detail) == (delivery, "550 5.1.1")
