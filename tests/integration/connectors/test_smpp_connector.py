"""The connectors service sending SMS over SMPP 3.4 to a real SMSC process (the simulator),
over the real broker and database: counted at the SMSC, receipts as dispatch sees them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from services.connectors import metrics
from tests.integration.connectors.harness import numbers, running_connector
from tests.peers.smsc import SmscSimulator
from tests.ports import free_port

TEXT = "Verdachte wagen in de Abdijstraat. Bel 101 bij waarneming."


@pytest.fixture
def smsc() -> Iterator[SmscSimulator]:
    with SmscSimulator(dlr_delay=0.02) as simulator:
        yield simulator


def smpp(smsc: SmscSimulator | None, name: str = "smsc-a", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "smpp",
        "host": "127.0.0.1",
        "port": smsc.smpp_port if smsc is not None else free_port(),
        "system_id": "bin",
        "password": "secret",
        "binds": 2,
        "window": 20,
        "reconnect_max_seconds": 1.0,
        **extra,
    }


async def test_a_batch_reaches_the_smsc_once_and_every_delivery_is_receipted(
    smsc: SmscSimulator, amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    members = numbers(300)
    ids = [uuid.uuid4() for _ in members]
    async with running_connector(amqp, amqp_url, database_url, [smpp(smsc)]) as connector:
        work = await connector.send([(d, n, TEXT) for d, n in zip(ids, members, strict=True)])
        final = await connector.receipts.wait(ids)
        assert set(final.values()) == {"delivered"}
        stats = await smsc.astats()
        assert stats["submits"] == 300 and stats["destinations"] == 300
        assert stats["duplicates"] == 0

        # The same batch again (dispatch republished it, or the broker redelivered it):
        # answered from the ledger, nothing more reaches the SMSC.
        before = connector.receipts.count()
        await connector.publish(work)
        await connector.receipts.wait_count(before + 300)
        assert (await smsc.astats())["submits"] == 300
        assert all(seen[-1][0] == "delivered" for seen in connector.receipts.outcomes.values())


async def test_refused_and_undeliverable_numbers_are_permanent_failures(
    smsc: SmscSimulator, amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    good, refused, undeliverable = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with running_connector(amqp, amqp_url, database_url, [smpp(smsc)]) as connector:
        await connector.send(
            [
                (good, "+32470000001", TEXT),
                (refused, "+3299000001", TEXT),  # the simulator's reject prefix
                (undeliverable, "+3298000001", TEXT),  # accepted, then DLR UNDELIV
            ]
        )
        final = await connector.receipts.wait([good, refused, undeliverable])
    assert final == {
        good: "delivered",
        refused: "permanent_failure",
        undeliverable: "permanent_failure",
    }
    details = {d: connector.receipts.outcomes[d][-1][1] for d in (refused, undeliverable)}
    assert details[refused] == "ESME_RINVDSTADR"
    assert "UNDELIV" in str(details[undeliverable])


async def test_a_long_french_text_arrives_as_correctly_encoded_parts(
    smsc: SmscSimulator, amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    text = (
        "Alerte BIN Ixelles : cambriolage rue de l'Église, deux suspects en fuite à pied "
        "vers la place Fernand Cocq. Signalez-les au 101, n'intervenez pas vous-même. "
        "Fenêtre arrière forcée, voisins âgés : soyez prudents ce soir."
    )
    assert len(text) > 160
    delivery = uuid.uuid4()
    async with running_connector(amqp, amqp_url, database_url, [smpp(smsc)]) as connector:
        await connector.send([(delivery, "+32470000077", text)])
        assert await connector.receipts.wait([delivery]) == {delivery: "delivered"}
    arrived = await smsc.adestination("32470000077")  # as TON 1 carries it
    assert arrived is not None
    assert arrived["texts"] == [text]
    parts = arrived["part_info"]
    assert arrived["parts"] == len(parts) == 4  # â, ê: UCS-2, at most 67 characters a part
    assert {p["data_coding"] for p in parts} == {8}
    assert all(p["esm_class"] & 0x40 and p["payload_length"] <= 134 for p in parts)


async def test_receipts_that_overtake_their_submit_response_are_matched(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    ids = [uuid.uuid4() for _ in range(100)]
    with SmscSimulator(receipt_before_response=1.0, dlr_delay=0.0) as smsc:
        async with running_connector(amqp, amqp_url, database_url, [smpp(smsc)]) as connector:
            await connector.send(
                [(d, n, TEXT) for d, n in zip(ids, numbers(100, "3246"), strict=True)]
            )
            final = await connector.receipts.wait(ids)
        stats = await smsc.astats()
    assert set(final.values()) == {"delivered"}
    assert stats["dlrs_sent"] >= 100 and stats["submits"] == 100


async def test_throttling_slows_the_connector_down_without_failing_anything(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    ids = [uuid.uuid4() for _ in range(200)]
    throttled_before = metrics.THROTTLED.labels("smsc-a")._value.get()
    with SmscSimulator(rate=100) as smsc:
        async with running_connector(amqp, amqp_url, database_url, [smpp(smsc)]) as connector:
            await connector.send(
                [(d, n, TEXT) for d, n in zip(ids, numbers(200, "3245"), strict=True)]
            )
            final = await connector.receipts.wait(ids, timeout=60)
        stats = await smsc.astats()
    assert set(final.values()) == {"delivered"}
    assert stats["throttled"] > 0 and stats["submits"] == 200 and stats["duplicates"] == 0
    assert metrics.THROTTLED.labels("smsc-a")._value.get() > throttled_before


async def test_the_second_provider_takes_over_while_the_first_is_down(
    smsc: SmscSimulator, amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    ids = [uuid.uuid4() for _ in range(50)]
    providers = [
        smpp(None, "smsc-down", order=0, bind_wait_seconds=0.2),  # nothing listens there
        smpp(smsc, "smsc-b", order=1),
    ]
    async with running_connector(amqp, amqp_url, database_url, providers) as connector:
        await connector.send([(d, n, TEXT) for d, n in zip(ids, numbers(50, "3244"), strict=True)])
        final = await connector.receipts.wait(ids)
    assert set(final.values()) == {"delivered"}
    assert (await smsc.astats())["submits"] == 50
    assert metrics.UNAVAILABLE.labels("smsc-down")._value.get() >= 1


async def test_a_members_stop_reply_comes_back_as_a_reply_to_their_latest_sms(
    smsc: SmscSimulator, amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> None:
    delivery = uuid.uuid4()
    async with running_connector(amqp, amqp_url, database_url, [smpp(smsc)]) as connector:
        await connector.send([(delivery, "+32470000555", TEXT)])
        await connector.receipts.wait([delivery])
        await smsc.asend_mo("+32470000555", "8080", "STOP")
        await smsc.asend_mo("+31612345678", "8080", "wie is dit?")  # never sent to: dropped
        [reply] = await connector.receipts.wait_replies(1)
        await asyncio.sleep(0.5)
        assert len(connector.receipts.replies) == 1
    assert reply["delivery_id"] == str(delivery) and reply["text"] == "STOP"
