"""The Kannel adapter against a real Kannel 1.4.5 and its fake SMSC: what fakesmsc prints
is what reached the SMSC; reports and MO messages come back over real HTTP callbacks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
import uvicorn
from fastapi import FastAPI

from services.connectors.adapters.kannel import KannelConfig, KannelProvider
from services.connectors.adapters.kannel_http import kannel_router
from services.connectors.domain.kannel_reports import mo_url
from services.connectors.domain.sms_encoding import part_count
from services.connectors.ports import (
    DeliveryReport,
    InboundReply,
    OutgoingMessage,
    Provider,
    ProviderUnavailable,
    SubmitStatus,
)
from shared.events import DeliveryOutcome
from tests.integration.connectors.conftest import RecordingSink
from tests.peers.kannel import KannelGateway, ReceivedSms
from tests.ports import free_port

PROVIDER = "kannel"


@dataclass
class ForwardingSink:
    """The callback server lives for the module, the recording sink for one test."""

    target: RecordingSink | None = None

    async def reports(self, provider: str, reports: Sequence[DeliveryReport]) -> None:
        assert self.target is not None
        await self.target.reports(provider, reports)

    async def replies(self, provider: str, replies: Sequence[InboundReply]) -> None:
        assert self.target is not None
        await self.target.replies(provider, replies)


@dataclass
class Callbacks:
    base_url: str
    sink: ForwardingSink = field(default_factory=ForwardingSink)


@pytest.fixture(scope="module")
async def callbacks() -> AsyncIterator[Callbacks]:
    port = free_port()
    found = Callbacks(base_url=f"http://127.0.0.1:{port}")
    app = FastAPI()
    app.include_router(kannel_router(found.sink, PROVIDER))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 10)
    yield found
    server.should_exit = True
    await serving


@pytest.fixture(scope="module")
async def kannel(callbacks: Callbacks) -> AsyncIterator[KannelGateway]:
    async with KannelGateway(mo_url=mo_url(callbacks.base_url, PROVIDER)) as gateway:
        yield gateway


@pytest.fixture
def wired(sink: RecordingSink, callbacks: Callbacks) -> RecordingSink:
    callbacks.sink.target = sink
    return sink


def config(kannel: KannelGateway, callbacks: Callbacks, **changes: object) -> KannelConfig:
    values: dict[str, object] = {
        "name": PROVIDER,
        "sendsms_url": kannel.sendsms_url,
        "username": kannel.username,
        "password": kannel.password,
        "sender": "BIN",
        "callback_base_url": callbacks.base_url,
        "smsc_id": kannel.smsc_id,
        "concurrency": 20,
        "request_timeout_seconds": 5,
        **changes,
    }
    return KannelConfig.model_validate(values)


@pytest.fixture
async def provider(
    kannel: KannelGateway, callbacks: Callbacks, wired: RecordingSink
) -> AsyncIterator[KannelProvider]:
    started = KannelProvider(config(kannel, callbacks))
    await started.start(wired)
    yield started
    await started.stop()


def messages(numbers: Sequence[str], text: str) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(uuid.uuid4(), number, "nl", f"{text} {n}")
        for n, number in enumerate(numbers)
    ]


def numbers(prefix: str, count: int) -> list[str]:
    # Each test its own numbers: the gateway and its fakesmsc serve the whole module.
    return [f"+32{prefix}{n:05d}" for n in range(count)]


def to(received: Sequence[ReceivedSms], wanted: Sequence[str]) -> list[ReceivedSms]:
    return [sms for sms in received if sms.receiver in set(wanted)]


async def eventually(condition: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def final_reports(
    sink: RecordingSink, delivery_ids: set[uuid.UUID], timeout: float = 20
) -> dict[uuid.UUID, DeliveryOutcome]:
    """The first final outcome reported for each delivery, once every one has one."""
    async with asyncio.timeout(timeout):
        while True:
            first: dict[uuid.UUID, DeliveryOutcome] = {}
            for _, report in sink.delivery_reports:
                if report.outcome is not None and report.delivery_id is not None:
                    first.setdefault(report.delivery_id, report.outcome)
            if delivery_ids <= first.keys():
                return {d: first[d] for d in delivery_ids}
            await asyncio.sleep(0.05)


async def test_fifty_messages_reach_the_smsc_and_come_back_delivered(
    kannel: KannelGateway, provider: KannelProvider, wired: RecordingSink
) -> None:
    wanted = numbers("4701", 50)
    batch = messages(wanted, "Oefening brandalarm")

    results = await provider.send(batch)

    assert {r.delivery_id: r.status for r in results} == {
        m.delivery_id: SubmitStatus.ACCEPTED for m in batch
    }
    await eventually(lambda: len(to(kannel.received(), wanted)) >= 50, 20)
    arrived = to(kannel.received(), wanted)
    assert sorted(sms.receiver for sms in arrived) == wanted
    assert {sms.text for sms in arrived} == {m.text for m in batch}
    outcomes = await final_reports(wired, {m.delivery_id for m in batch})
    assert set(outcomes.values()) == {DeliveryOutcome.DELIVERED}


@pytest.mark.parametrize(
    "text",
    [
        # GSM 03.38 has these accents: two concatenated 7-bit parts.
        "Brand in de Kerkstraat: houd ramen en deuren gesloten, zet de ventilatie uit. "
        "Évacuation à l'école: suivez les instructions. Für Rückfragen: Gemeinde Zürich, "
        "Telefon 112.",
        # ê and ç are not GSM 03.38: UCS-2, 67 characters a part.
        "Fenêtres fermées, ça reste dangereux: restez à l'intérieur jusqu'à nouvel ordre. "
        "Météo: tempête attendue vers 18 h. Merci de prévenir vos voisins âgés et de "
        "rester prudents.",
    ],
    ids=["gsm", "ucs2"],
)
async def test_a_long_text_with_accents_arrives_whole(
    kannel: KannelGateway, provider: KannelProvider, wired: RecordingSink, text: str
) -> None:
    number = f"+32472{abs(hash(text)) % 100000:05d}"
    message = OutgoingMessage(uuid.uuid4(), number, "fr", text)
    assert len(text) > 160

    [result] = await provider.send([message])

    assert result.status is SubmitStatus.ACCEPTED
    await eventually(lambda: bool(to(kannel.received(), [number])), 15)
    arrived = to(kannel.received(), [number])
    assert [(sms.text, sms.parts) for sms in arrived] == [(text, part_count(text))]
    outcomes = await final_reports(wired, {message.delivery_id})
    assert outcomes == {message.delivery_id: DeliveryOutcome.DELIVERED}


async def test_a_members_message_reaches_the_sink_and_kannel_answers_nothing(
    kannel: KannelGateway, wired: RecordingSink
) -> None:
    member = "+32473000001"

    await kannel.send_mo(member, "Ça va, merci: tout est OK hier")

    await wired.wait_for(1, replies=True, timeout=15)
    [(provider_name, reply)] = wired.inbound_replies
    assert (provider_name, reply.sender, reply.text) == (
        PROVIDER,
        member,
        "Ça va, merci: tout est OK hier",
    )
    # smsbox decides on a reply as soon as our answer is in, and logs it when it sends none.
    await eventually(lambda: "No reply sent" in kannel.log_tail("smsbox.log", 200), 10)
    await asyncio.sleep(1.5)  # fakesmsc reads its socket at least once a second
    assert to(kannel.received(), [member]) == []


async def test_kannel_not_listening_is_provider_unavailable(
    kannel: KannelGateway, callbacks: Callbacks, wired: RecordingSink
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms"
    down: Provider = KannelProvider(config(kannel, callbacks, sendsms_url=nobody))
    await down.start(wired)
    try:
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            await down.send(messages(numbers("4740", 3), "Test"))
    finally:
        await down.stop()


async def test_a_wrong_password_is_provider_unavailable_with_the_reason(
    kannel: KannelGateway, callbacks: Callbacks, wired: RecordingSink
) -> None:
    wanted = numbers("4750", 3)
    refused = KannelProvider(config(kannel, callbacks, password="not-the-password"))
    await refused.start(wired)
    try:
        with pytest.raises(ProviderUnavailable, match="username or password"):
            await refused.send(messages(wanted, "Test"))
    finally:
        await refused.stop()
    assert to(kannel.received(), wanted) == []
