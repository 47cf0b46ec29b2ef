"""Members' stories through the real channel connectors: every service its own process
(``services.connectors`` among them, the gateway simulator answering voice and push only),
SMS and e-mail counted where they arrive, at the provider peers, not in our code:

- SMPP 3.4 straight to the SMSC simulator, and the same through a real Kannel bound to it
  over SMPP (DLRs and MO messages over Kannel's HTTP callbacks);
- SMTP to the recipients' mail server, and through a private Postfix that turns the next
  hop's 550 into a real DSN for the connector's bounce listener.

Each system has a database of its own (``tests/e2e/connectors_system.py``); the stories
sharing one use their own members' numbers and addresses.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.dispatch.domain.keywords import SmsCommand, confirmation
from shared.events import Language
from tests.e2e.api_client import OPERATOR, coordinator_of
from tests.e2e.connectors_system import (
    BOUNCE_DOMAIN,
    MEMBER_DOMAIN,
    Member,
    connectors_system,
    follow,
    issue_alert,
    kannel_link,
    kannel_mo_url,
    kannel_provider,
    members,
    register_bin,
    smpp_provider,
    smtp_provider,
    start,
)
from tests.e2e.system import RunningSystem
from tests.helpers import eventually
from tests.infrastructure import Infrastructure
from tests.peers.kannel import KannelGateway
from tests.peers.mail import HOST, MailServer, PostfixRelay, Received
from tests.peers.smsc import SmscSimulator
from tests.ports import free_port

ALERT = {
    "nl": "Verdachte wagen in de Abdijstraat. Bel 101 bij waarneming.",
    "fr": "Voiture suspecte rue de l'Abbaye. Appelez le 101.",
}
FOLLOW_UP = {
    "nl": "De wagen is weg. Blijf alert en meld verdachte zaken.",
    "fr": "La voiture est partie. Restez attentifs.",
}
STOP_FR = confirmation(SmsCommand.STOP, Language.FR)
NEWS = "Inbraak via de achterdeur, niets gestolen."


# ── the systems ──────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def smsc() -> Iterator[SmscSimulator]:
    with SmscSimulator(dlr_delay=0.02) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def mail_server() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def direct(
    infra: Infrastructure,
    smsc: SmscSimulator,
    mail_server: MailServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningSystem]:
    """The connectors speaking SMPP to the SMSC simulator and SMTP to the recipients' mail
    server (which refuses "unknown..." addresses at RCPT, so no bounce can come later: an
    accepted e-mail counts as delivered after 2 s)."""
    logs = Path(tmp_path_factory.mktemp("direct-logs"))
    with connectors_system(infra.database_url, infra.amqp_url, logs) as system:
        start(
            system,
            [smpp_provider(smsc), smtp_provider(mail_server.port, report_timeout_seconds=2)],
        )
        yield system


@pytest.fixture
def through_kannel(
    infra: Infrastructure, tmp_path: Path
) -> Iterator[tuple[RunningSystem, SmscSimulator]]:
    """The connectors' only SMS provider a real Kannel (bearerbox and smsbox), bound over
    SMPP to an SMSC simulator of its own; Kannel's sms-service calls the connector's MO
    route, each sendsms names the connector's DLR route."""
    with (
        SmscSimulator(dlr_delay=0.02) as simulator,
        connectors_system(infra.database_url, infra.amqp_url, tmp_path) as system,
        KannelGateway(link=kannel_link(simulator), mo_url=kannel_mo_url(system)) as kannel,
    ):
        try:
            start(system, [kannel_provider(kannel, system.url("connectors"))])
            yield system, simulator
        finally:
            system.stop()  # before Kannel and the SMSC go


@dataclass
class ThroughPostfix:
    system: RunningSystem
    smsc: SmscSimulator
    recipients: MailServer
    relay: PostfixRelay
    bounce_port: int


@pytest.fixture
def through_postfix(infra: Infrastructure, tmp_path: Path) -> Iterator[ThroughPostfix]:
    """The connectors' SMTP provider relaying to a private Postfix, which hands the
    members' mail to the recipients' server and the DSNs it writes to the connector's bounce
    listener (Postfix's route for the VERP domain); SMS over SMPP to an SMSC simulator of
    its own."""
    bounce_port = free_port()
    with (
        SmscSimulator(dlr_delay=0.02) as simulator,
        MailServer() as recipients,
        PostfixRelay(
            {MEMBER_DOMAIN: (HOST, recipients.port), BOUNCE_DOMAIN: (HOST, bounce_port)}
        ) as relay,
        connectors_system(infra.database_url, infra.amqp_url, tmp_path) as system,
    ):
        # An accepted e-mail with no DSN counts as delivered after this: long enough for
        # Postfix's DSN to come first (it came within a second when tried).
        mail = smtp_provider(relay.port, report_timeout_seconds=10, bounce_listen_port=bounce_port)
        start(system, [smpp_provider(simulator), mail])
        yield ThroughPostfix(system, simulator, recipients, relay, bounce_port)


# ── helpers ──────────────────────────────────────────────────────────────────────────────


def by_channel(progress: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per channel the deliveries' counts that are not 0 (queued, sent... left out)."""
    wanted = ("targeted", "delivered", "permanent_failure", "failed")
    return {
        channel: {k: v for k, v in counts.items() if k in wanted and v}
        for channel, counts in progress["channels"].items()
    }


async def sms_texts(smsc: SmscSimulator) -> dict[str, list[str]]:
    """Every text the SMSC took, by destination number."""
    stats = await smsc.astats(detail=True)
    return {number: d["texts"] for number, d in stats["per_destination"].items()}


async def opted_out_at_registry(
    client: httpx.AsyncClient, system: RunningSystem, bin_id: str, member_id: str
) -> bool:
    response = await client.get(
        f"{system.url('registry')}/members/{member_id}", headers=coordinator_of(bin_id)
    )
    assert response.status_code == 200, response.text
    opted_out: bool = response.json()["sms_opted_out"]
    return opted_out


async def stop_by_sms_is_confirmed(
    client: httpx.AsyncClient,
    system: RunningSystem,
    smsc: SmscSimulator,
    bin_id: str,
    member: Member,
    member_id: str,
) -> None:
    """The member replies STOP from their phone (an MO at the SMSC): a confirmation SMS in
    their language reaches their number, and the registry records the opt-out."""
    before = len((await sms_texts(smsc)).get(member.smsc_number, []))
    sent = await smsc.asend_mo(member.phone or "", "8080", "STOP")
    assert sent["statuses"] == [0], sent

    async def confirmation_arrived() -> list[str] | None:
        texts = (await sms_texts(smsc)).get(member.smsc_number, [])
        return texts if len(texts) > before else None

    texts = await eventually(confirmation_arrived, timeout=30, interval=0.2)
    assert texts[before:] == [STOP_FR]
    assert STOP_FR.startswith("Vous ne recevrez plus de SMS")
    await eventually(lambda: opted_out_at_registry(client, system, bin_id, member_id), timeout=30)


def mail_to(server: MailServer, addresses: set[str]) -> list[Received]:
    return [r for r in server.received() if set(r.rcpt_tos) & addresses]


def plain_and_html(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    plain, html = message.iter_parts()
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    return plain.get_content(), html.get_content()


# ── SMS over SMPP ────────────────────────────────────────────────────────────────────────


async def test_an_alert_to_2000_members_reaches_the_smsc_once_per_member(
    direct: RunningSystem, smsc: SmscSimulator
) -> None:
    """A BIN whose plan sends urgent alerts by SMS, 2,000 members imported as one CSV: the
    operator's alert reaches the SMSC as one submit_sm per member, and the SMSC's receipts
    make every delivery delivered in dispatch."""
    listed = members(2000, block=0, emails=False)
    async with httpx.AsyncClient(timeout=30) as client:
        began = time.monotonic()
        bin_id, _ = await register_bin(client, direct, listed, urgent_channels=["sms"])
        registered = time.monotonic()
        await smsc.areset()
        progress_url = await issue_alert(client, direct, bin_id, ALERT)
        progress = await follow(client, progress_url, targeted=2000, timeout=120)
        done = time.monotonic()
    print(
        f"\n2,000 members imported and projected in {registered - began:.1f} s; "
        f"alert issued to complete in {done - registered:.1f} s"
    )

    assert (progress["delivered"], progress["failed"], progress["pending"]) == (2000, 0, 0)
    assert by_channel(progress) == {"sms": {"targeted": 2000, "delivered": 2000}}
    stats = await smsc.astats(detail=True)
    # One submit_sm per member's number, nothing twice, the text in the member's language.
    assert stats["received"] == stats["submits"] == 2000
    assert stats["duplicates"] == 0 and stats["duplicate_parts"] == 0
    arrived = stats["per_destination"]
    assert set(arrived) == {m.smsc_number for m in listed}
    assert [m.n for m in listed if arrived[m.smsc_number]["texts"] != [ALERT[m.language]]] == []
    # The SMSC's receipt for each was taken by the connector (and made it delivered above).
    assert stats["dlrs_sent"] == 2000


async def test_a_stop_reply_by_sms_ends_the_members_sms_and_is_confirmed(
    direct: RunningSystem, smsc: SmscSimulator
) -> None:
    """A member answers an alert with STOP from their phone: they get dispatch's
    confirmation by SMS, in French, and the next alert reaches them by voice (the plan's next
    channel) while everyone else still gets it by SMS."""
    listed = members(20, block=2, emails=False)
    stopper = listed[3]
    assert stopper.language == "fr"
    async with httpx.AsyncClient(timeout=30) as client:
        bin_id, ids = await register_bin(client, direct, listed, urgent_channels=["sms", "voice"])
        await smsc.areset()
        first = await issue_alert(client, direct, bin_id, ALERT)
        await follow(client, first, targeted=20, timeout=60)

        await stop_by_sms_is_confirmed(client, direct, smsc, bin_id, stopper, ids[stopper.n])

        second = await issue_alert(client, direct, bin_id, FOLLOW_UP)
        progress = await follow(client, second, targeted=20, timeout=60)
        simulated = (await client.get(f"{direct.url('gateway_simulator')}/stats")).json()

    # The next alert reaches the member by the plan's next channel (voice, the simulator).
    assert progress["delivered"] == 20
    assert by_channel(progress) == {
        "sms": {"targeted": 19, "delivered": 19},
        "voice": {"targeted": 1, "delivered": 1},
    }
    assert simulated["sent"] == {"voice": 1}
    texts = await sms_texts(smsc)
    assert texts.pop(stopper.smsc_number) == [ALERT["fr"], STOP_FR]
    assert texts == {
        m.smsc_number: [ALERT[m.language], FOLLOW_UP[m.language]] for m in listed if m != stopper
    }
    assert (await smsc.astats())["submits"] == 20 + 1 + 19
    # The reply came with the member's number; no service logged it.
    for service in ("connectors", "dispatch", "registry"):
        assert stopper.smsc_number not in direct.log(service)


# ── e-mail over SMTP ─────────────────────────────────────────────────────────────────────


async def digest_by_email(
    client: httpx.AsyncClient, system: RunningSystem, bin_id: str, count: int
) -> None:
    """An operator records a publishable police news item through intake's API; once the
    BIN's next digest carries it, the operator has that digest sent (rather than wait for
    07:00), and it is followed until dispatch has every member's outcome."""
    news = await client.post(
        f"{system.url('intake')}/news",
        headers=OPERATOR,
        json={
            "police_zone": "Leuven",
            "place": "Leuven, Abdijstraat",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "category": "burglary_home",
            "published_info": NEWS,
            "publishable": True,
        },
    )
    assert news.status_code == 201, news.text
    digest = system.url("digest")

    async def preview_has_the_news() -> dict[str, Any] | None:
        response = await client.get(f"{digest}/bins/{bin_id}/digest/preview", headers=OPERATOR)
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["items"] >= 1 else None

    preview = await eventually(preview_has_the_news, timeout=30)
    resent = await client.post(
        f"{digest}/bins/{bin_id}/digest/{preview['day']}/resend", headers=OPERATOR
    )
    assert resent.status_code == 202, resent.text
    progress = await follow(
        client,
        f"{system.url('dispatch')}/fanouts/{resent.json()['digest_id']}/progress",
        targeted=count,
        timeout=60,
    )
    assert progress["delivered"] == count
    assert by_channel(progress) == {"email": {"targeted": count, "delivered": count}}


def unsubscribe_link(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    assert header.startswith("<") and header.endswith(">"), header
    return header[1:-1]


async def test_a_digest_reaches_the_mailbox_as_text_and_html_with_one_click_unsubscribe(
    direct: RunningSystem, mail_server: MailServer
) -> None:
    """Police news recorded through intake reaches each member's mailbox in their digest:
    MIME multipart/alternative (text and HTML), a VERP return path, and RFC 8058 headers
    naming the member's own preferences link, which opens their page."""
    listed = members(3, block=3, phones=False)
    addresses = {m.email or "" for m in listed}
    async with httpx.AsyncClient(timeout=30) as client:
        bin_id, ids = await register_bin(client, direct, listed, urgent_channels=["email"])
        await digest_by_email(client, direct, bin_id, len(listed))

        received = {r.rcpt_tos[0]: r for r in mail_to(mail_server, addresses)}
        assert sorted(received) == sorted(addresses)
        assert all(len(r.rcpt_tos) == 1 for r in received.values())
        for m in listed:
            got = received[m.email or ""]
            assert got.mail_from.startswith("bounces+") and got.mail_from.endswith(BOUNCE_DOMAIN)
            message = got.message
            plain, html = plain_and_html(message)
            assert NEWS in plain and NEWS in html
            assert message["Content-Language"] == m.language
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            # The member's own signed preferences link (it names the member), as in the text.
            link = unsubscribe_link(message)
            assert link.startswith(f"{direct.url('registry')}/preferences/{ids[m.n]}.")
            assert link in plain
            page = await client.get(link)
            assert page.status_code == 200, page.text
            assert f'<html lang="{m.language}">' in page.text and "Kessel-Lo Noord" in page.text


async def test_the_one_click_unsubscribe_post_ends_the_members_digest(
    direct: RunningSystem, mail_server: MailServer
) -> None:
    """The member's mail client unsubscribes with one click, as the digest's headers offer."""
    [member] = listed = members(1, block=6, phones=False)
    async with httpx.AsyncClient(timeout=30) as client:
        bin_id, ids = await register_bin(client, direct, listed, urgent_channels=["email"])
        await digest_by_email(client, direct, bin_id, 1)
        [got] = mail_to(mail_server, {member.email or ""})
        # What a mail client does for one-click (RFC 8058 section 3.2): a POST with this body
        # and no cookie, no Origin, no other field.
        answered = await client.post(
            unsubscribe_link(got.message), data={"List-Unsubscribe": "One-Click"}
        )
        exported = await client.get(
            f"{direct.url('registry')}/members/{ids[member.n]}", headers=coordinator_of(bin_id)
        )
    assert answered.is_success, answered.status_code
    assert exported.json()["digest_subscribed"] is False


async def test_an_address_refused_at_rcpt_fails_permanently_and_the_plan_falls_back_to_sms(
    direct: RunningSystem, smsc: SmscSimulator, mail_server: MailServer
) -> None:
    """A BIN whose plan sends urgent alerts by e-mail, then SMS: the member whose address
    the mail server refuses (550 at RCPT) ends as a permanent e-mail failure and gets the
    alert by SMS; the others get it by e-mail only."""
    listed = members(3, block=4, refused_email=[1])
    refused = listed[1]
    assert refused.email is not None and refused.email.startswith("unknown.")
    refusals_before = mail_server.refusals().count(550)
    async with httpx.AsyncClient(timeout=30) as client:
        bin_id, _ = await register_bin(client, direct, listed, urgent_channels=["email", "sms"])
        await smsc.areset()
        alert = await issue_alert(client, direct, bin_id, ALERT)
        progress = await follow(client, alert, targeted=3, timeout=60)

    assert progress["delivered"] == 3 and progress["failed"] == 0
    assert by_channel(progress) == {
        "email": {"targeted": 3, "delivered": 2, "permanent_failure": 1},
        "sms": {"targeted": 1, "delivered": 1},
    }
    assert mail_server.refusals().count(550) == refusals_before + 1
    got = {r.rcpt_tos[0]: r.message for r in mail_to(mail_server, {m.email or "" for m in listed})}
    # The two others got the alert by e-mail, in their language (text only: alerts have no
    # HTML).
    for m in (listed[0], listed[2]):
        message = got.pop(m.email or "")
        assert message.get_content_type() == "text/plain"
        assert message.get_content().strip() == ALERT[m.language]
    assert got == {}
    # Only the refused member's phone got the alert, as SMS.
    assert await sms_texts(smsc) == {refused.smsc_number: [ALERT["fr"]]}
    # The refusal's text names the address; no service logged it.
    for service in ("connectors", "dispatch"):
        assert refused.email not in direct.log(service)


# ── SMS through Kannel ───────────────────────────────────────────────────────────────────

KANNEL_MEMBERS = 2000


@pytest.mark.timeout(720)  # two 2,000-SMS alerts through Kannel, each given 5 minutes
async def test_an_alert_through_kannel_is_counted_at_the_smsc_and_receipted_by_dlr(
    through_kannel: tuple[RunningSystem, SmscSimulator],
) -> None:
    """The first two stories through Kannel: 2,000 members, the SMS counted at the SMSC
    behind Kannel and made delivered by Kannel's DLR callbacks (the provider's report
    timeout is 600 s: nothing here is delivered by default); then STOP, sent from the SMSC
    through Kannel's sms-service, confirmed back through Kannel."""
    system, smsc = through_kannel
    listed = members(KANNEL_MEMBERS, block=1, emails=False)
    stopper = listed[5]
    async with httpx.AsyncClient(timeout=30) as client:
        bin_id, ids = await register_bin(client, system, listed, urgent_channels=["sms", "voice"])
        began = time.monotonic()
        first = await issue_alert(client, system, bin_id, ALERT)
        # Long enough for dispatch's own rescue of a retry (its sweeper, up to 3 minutes):
        # once in a full-suite run one of 2,000 waited past 120 s as "queued".
        progress = await follow(client, first, targeted=KANNEL_MEMBERS, timeout=300)
        print(
            f"\n{KANNEL_MEMBERS} SMS through Kannel, complete in {time.monotonic() - began:.1f} s"
        )

        assert progress["delivered"] == KANNEL_MEMBERS and progress["failed"] == 0
        assert by_channel(progress) == {
            "sms": {"targeted": KANNEL_MEMBERS, "delivered": KANNEL_MEMBERS}
        }
        stats = await smsc.astats(detail=True)
        assert stats["received"] == stats["submits"] == KANNEL_MEMBERS
        assert stats["duplicates"] == 0
        arrived = stats["per_destination"]
        assert set(arrived) == {m.smsc_number for m in listed}
        assert [m.n for m in listed if arrived[m.smsc_number]["texts"] != [ALERT[m.language]]] == []

        # STOP from the member's phone: SMSC → Kannel (deliver_sm) → smsbox's get-url →
        # the connector; the confirmation goes back out through Kannel.
        await stop_by_sms_is_confirmed(client, system, smsc, bin_id, stopper, ids[stopper.n])
        second = await issue_alert(client, system, bin_id, FOLLOW_UP)
        progress = await follow(client, second, targeted=KANNEL_MEMBERS, timeout=300)

    assert by_channel(progress) == {
        "sms": {"targeted": KANNEL_MEMBERS - 1, "delivered": KANNEL_MEMBERS - 1},
        "voice": {"targeted": 1, "delivered": 1},
    }
    texts = await sms_texts(smsc)
    assert texts[stopper.smsc_number] == [ALERT["fr"], STOP_FR]
    assert (await smsc.astats())["submits"] == 2 * KANNEL_MEMBERS
    # The MO callback carried the member's number in its URL; the connector logged none.
    assert stopper.smsc_number not in system.log("connectors")


# ── e-mail through Postfix ───────────────────────────────────────────────────────────────


def logged(maillog: str, pattern: str) -> re.Match[str]:
    found = re.search(pattern, maillog)
    assert found is not None, f"not in Postfix's log: {pattern}\n{maillog[-3000:]}"
    return found


async def test_a_dsn_from_postfix_fails_the_email_permanently_and_the_plan_falls_back_to_sms(
    through_postfix: ThroughPostfix,
) -> None:
    """The same through a relay: Postfix accepts both e-mails, the next hop refuses one,
    Postfix's DSN reaches the connector's bounce listener, and the member gets the SMS."""
    system, smsc, recipients = (
        through_postfix.system,
        through_postfix.smsc,
        through_postfix.recipients,
    )
    listed = members(2, block=5, refused_email=[1])
    kept, refused = listed
    async with httpx.AsyncClient(timeout=30) as client:
        bin_id, _ = await register_bin(client, system, listed, urgent_channels=["email", "sms"])
        alert = await issue_alert(client, system, bin_id, ALERT)
        progress = await follow(client, alert, targeted=2, timeout=60)
    maillog = through_postfix.relay.maillog()

    assert progress["delivered"] == 2 and progress["failed"] == 0, maillog[-3000:]
    assert by_channel(progress) == {
        "email": {"targeted": 2, "delivered": 1, "permanent_failure": 1},
        "sms": {"targeted": 1, "delivered": 1},
    }
    # Postfix took both e-mails from the connector; the next hop took one and refused the
    # other at RCPT.
    [got] = recipients.received()
    assert got.rcpt_tos == [kept.email] and recipients.refusals() == [550]
    # Postfix bounced the refused one and delivered its DSN to that e-mail's own VERP return
    # path, over its route to the connector's bounce listener, which took it.
    bounced = logged(maillog, rf"(\w+): to=<{re.escape(refused.email or '')}>, .*status=bounced")
    queue_id = bounced[1]
    verp = logged(
        maillog, rf"{queue_id}: from=<(bounces\+[0-9a-f]{{32}}@{re.escape(BOUNCE_DOMAIN)})>"
    )[1]
    assert verp != got.mail_from
    dsn = logged(maillog, rf"{queue_id}: sender non-delivery notification: (\w+)")[1]
    logged(
        maillog,
        rf"{dsn}: to=<{re.escape(verp)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
        rf"{through_postfix.bounce_port}, .*status=sent \(250 ",
    )
    # And the member the e-mail could not reach got the alert by SMS, the plan's next channel.
    assert await sms_texts(smsc) == {refused.smsc_number: [ALERT["fr"]]}
