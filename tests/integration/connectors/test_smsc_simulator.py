"""The SMSC simulator (tests/peers/smsc_simulator.py) does what the connector tests rely on,
checked with a plain smpp34 client: it counts what arrives, reassembles and decodes
concatenated parts, answers with the statuses and receipts its options promise, sends MO,
caps binds and drops the link."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec
import httpx
import pytest
import smpp34

from tests.peers.smsc import SmscSimulator

ESME_ROK = 0x00
ESME_RINVDSTADR = 0x0B
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F


@pytest.fixture
def smsc() -> Iterator[SmscSimulator]:
    with SmscSimulator(dlr_delay=0.01) as simulator:
        yield simulator


class Esme:
    """A bound smpp34 session and what it has received."""

    def __init__(self, client: smpp34.Client, session: smpp34.Smsc) -> None:
        self.client = client
        self.session = session
        self.received: asyncio.Queue[smpp34.DeliverSmEvent] = asyncio.Queue()
        self.order: list[str] = []  # "receipt" as each arrives; tests add their own events
        self.disconnected = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            event = await self.session.next()
            if isinstance(event, smpp34.Disconnected):
                self.disconnected.set()
                return
            self.order.append("receipt")
            self.received.put_nowait(event)

    async def submit(
        self,
        destination: str,
        text: bytes = b"hello",
        *,
        esm_class: int = 0,
        data_coding: int = 0,
        registered_delivery: int = 0,
    ) -> int:
        response = await self.session.submit_sm(
            destination,
            text,
            source_addr="8080",
            dest_addr_ton=1,
            dest_addr_npi=1,
            esm_class=esm_class,
            data_coding=data_coding,
            registered_delivery=registered_delivery,
        )
        return response.command_status

    async def next_event(self, timeout: float = 3.0) -> smpp34.DeliverSmEvent:
        async with asyncio.timeout(timeout):
            return await self.received.get()

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        if not self.disconnected.is_set():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.session.unbind()


@contextlib.asynccontextmanager
async def bound(
    smsc: SmscSimulator, system_id: str = "bin", bind_type: str = "TRX"
) -> AsyncIterator[Esme]:
    client = smpp34.Client("127.0.0.1", smsc.smpp_port, system_id, "secret", bind_type=bind_type)
    esme = Esme(client, await client.connect())
    try:
        yield esme
    finally:
        await esme.close()


def tlv(event: smpp34.DeliverSmEvent, tag: int) -> smpp34.Tlv:
    [found] = [t for t in event.tlvs if t.tag == tag]
    return found


def concatenated(payload: bytes, size: int, ref: int, *, wide: bool = False) -> list[bytes]:
    chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
    if wide:  # IEI 0x08, a 16-bit reference
        return [
            bytes((6, 0x08, 4, ref >> 8, ref & 0xFF, len(chunks), n)) + chunk
            for n, chunk in enumerate(chunks, 1)
        ]
    return [bytes((5, 0x00, 3, ref, len(chunks), n)) + c for n, c in enumerate(chunks, 1)]


async def test_counts_submits_per_destination_and_session_and_counts_duplicates(
    smsc: SmscSimulator,
) -> None:
    async with bound(smsc, "one") as one, bound(smsc, "two") as two:
        statuses = [await one.submit(f"3247000000{n}") for n in range(6)]
        statuses += [await two.submit(f"3247000001{n}") for n in range(4)]
        statuses.append(await two.submit("32470000003"))  # a second message for one member
        stats = await smsc.astats()
    assert set(statuses) == {ESME_ROK}
    assert stats["submits"] == stats["received"] == stats["messages"] == 11
    assert stats["destinations"] == 10
    assert stats["duplicates"] == 1
    assert stats["binds"] == 2
    per_system = {s["system_id"]: s["submits"] for s in stats["per_session"].values()}
    assert per_system == {"one": 6, "two": 5}
    assert "per_destination" not in stats
    twice = await smsc.adestination("32470000003")
    assert twice is not None and twice["messages"] == 2 and twice["parts"] == 2


async def test_concatenated_parts_are_reassembled_and_decoded_in_every_coding(
    smsc: SmscSimulator,
) -> None:
    gsm_text = "Verdachte wagen gezien aan de Abdijstraat {rood}, 2 personen. " * 5  # escapes
    gsm = gsm_text.encode("gsm03.38")
    ucs_text = "Alerte à Ixelles : fenêtre forcée, soyez prudents 😀 " * 3
    ucs = ucs_text.encode("utf-16-be")
    async with bound(smsc) as esme:
        gsm_parts = concatenated(gsm, 153, ref=7)
        ucs_parts = concatenated(ucs, 134, ref=0x1234, wide=True)
        # Out of order, as parts may arrive over several binds.
        for part in reversed(gsm_parts):
            assert await esme.submit("32470000001", part, esm_class=0x40) == ESME_ROK
        for part in ucs_parts:
            assert await esme.submit("32470000002", part, esm_class=0x40, data_coding=8) == 0
        await esme.submit("32470000003", "Café ½".encode("latin-1"), data_coding=3)
        await esme.submit("32470000004", concatenated(gsm, 153, ref=9)[0], esm_class=0x40)
        # The whole text in message_payload, and two parts numbered by the SAR TLVs.
        payload = [smpp34.Tlv(TLV_MESSAGE_PAYLOAD, gsm)]
        await esme.session.submit_sm("32470000005", b"", source_addr="8080", tlvs=payload)
        for n, half in enumerate((gsm[:150], gsm[150:]), 1):
            sar = [
                smpp34.Tlv(TLV_SAR_MSG_REF_NUM, (300).to_bytes(2, "big")),
                smpp34.Tlv(TLV_SAR_TOTAL_SEGMENTS, b"\x02"),
                smpp34.Tlv(TLV_SAR_SEGMENT_SEQNUM, bytes((n,))),
            ]
            await esme.session.submit_sm("32470000006", half, source_addr="8080", tlvs=sar)
        stats = await smsc.astats(detail=True)
    destinations = stats["per_destination"]
    assert destinations["32470000001"]["texts"] == [gsm_text]
    assert destinations["32470000002"]["texts"] == [ucs_text]
    assert destinations["32470000003"]["texts"] == ["Café ½"]
    assert destinations["32470000004"]["messages"] == 0  # one part of several: not complete
    assert destinations["32470000005"]["texts"] == [gsm_text]
    assert destinations["32470000006"]["texts"] == [gsm_text]
    assert stats["incomplete"] == 1
    assert stats["messages"] == 5
    assert stats["submits"] == len(gsm_parts) + len(ucs_parts) + 2 + 1 + 2
    gsm_info = destinations["32470000001"]["part_info"]
    assert len(gsm_info) == len(gsm_parts) == 3
    assert all(p["udh_length"] == 6 and p["payload_length"] <= 153 for p in gsm_info)
    assert {(p["data_coding"], p["esm_class"]) for p in gsm_info} == {(0, 0x40)}
    ucs_info = destinations["32470000002"]["part_info"]
    assert all(p["udh_length"] == 7 and p["payload_length"] <= 134 for p in ucs_info)
    assert {p["data_coding"] for p in ucs_info} == {8}


async def test_receipts_name_the_part_and_tell_delivered_from_undeliverable(
    smsc: SmscSimulator,
) -> None:
    async with bound(smsc) as esme:
        delivered = await esme.session.submit_sm(
            "32470000001", b"hi", source_addr="8080", registered_delivery=1
        )
        undeliverable = await esme.session.submit_sm(
            "+3298000001", b"hi", source_addr="8080", registered_delivery=1
        )
        await esme.session.submit_sm("32470000002", b"no receipt asked", source_addr="8080")
        first, second = await esme.next_event(), await esme.next_event()
        await asyncio.sleep(0.2)  # time enough for a receipt that should not come
        assert esme.received.empty()
    receipts = {tlv(e, TLV_RECEIPTED_MESSAGE_ID).as_string(): e for e in (first, second)}
    assert set(receipts) == {delivered.message_id, undeliverable.message_id}
    ok, failed = receipts[delivered.message_id], receipts[undeliverable.message_id]
    assert ok.esm_class == failed.esm_class == 0x04
    assert (ok.source_addr, ok.destination_addr) == ("32470000001", "8080")
    assert failed.source_addr == "+3298000001"
    assert tlv(ok, TLV_MESSAGE_STATE).as_int() == 2
    assert tlv(failed, TLV_MESSAGE_STATE).as_int() == 5
    assert ok.short_message.startswith(f"id:{delivered.message_id} sub:001 dlvrd:001".encode())
    assert b"stat:DELIVRD err:000" in ok.short_message
    assert b"stat:UNDELIV err:001" in failed.short_message
    assert (await smsc.astats())["dlrs_sent"] == 2


async def test_refused_destinations_throttling_and_a_full_queue(smsc: SmscSimulator) -> None:
    async with bound(smsc) as esme:
        assert await esme.submit("+3299000001", registered_delivery=1) == ESME_RINVDSTADR
        assert await esme.submit("3299000002") == ESME_RINVDSTADR

        await smsc.aset_options(queue_full_every=3)
        statuses = [await esme.submit(f"3247000010{n}") for n in range(6)]
        assert statuses == [0, 0, ESME_RMSGQFUL, 0, 0, ESME_RMSGQFUL]

        # 50/s allows a burst of 5: 40 at once are mostly throttled, and the session lives on.
        await smsc.aset_options(queue_full_every=None, rate=50)
        burst = await asyncio.gather(*(esme.submit(f"324700002{n:02}") for n in range(40)))
        assert set(burst) == {ESME_ROK, ESME_RTHROTTLED}
        assert 5 <= burst.count(ESME_ROK) <= 15
        await smsc.aset_options(rate=None)
        assert await esme.submit("32470000300") == ESME_ROK
        stats = await smsc.astats()
        assert esme.received.empty()  # no receipt for a refused submit
    assert stats["rejected"] == 4 and stats["invalid_destination"] == 2
    assert stats["queue_full"] == 2
    assert stats["throttled"] == burst.count(ESME_RTHROTTLED)
    assert stats["submits"] == 4 + burst.count(ESME_ROK) + 1
    assert stats["received"] == 2 + 6 + 40 + 1


async def test_receipts_can_overtake_their_submit_response() -> None:
    with SmscSimulator(receipt_before_response=1.0) as smsc:
        async with bound(smsc) as esme:
            ids = []
            for n in range(20):
                response = await esme.session.submit_sm(
                    f"3247000{n:04}", b"x", registered_delivery=1
                )
                esme.order.append("response")
                receipt = await esme.next_event()
                assert tlv(receipt, TLV_RECEIPTED_MESSAGE_ID).as_string() == response.message_id
                ids.append(response.message_id)
            stats = await smsc.astats()
    # Each receipt was in the client's hands before the response to its submit.
    assert esme.order == ["receipt", "response"] * 20
    assert stats["receipts_before_response"] == stats["dlrs_sent"] == 20
    assert len(set(ids)) == 20


async def test_receipts_wait_for_a_receiver_when_only_a_transmitter_is_bound(
    smsc: SmscSimulator,
) -> None:
    async with bound(smsc, "tx", bind_type="TX") as transmitter:
        response = await transmitter.session.submit_sm(
            "32470000001", b"x", source_addr="8080", registered_delivery=1
        )
        await smsc.wait_for(lambda s: s["dlr_retries"] == 1)
        assert (await smsc.astats())["dlrs_pending"] == 1
        async with bound(smsc, "rx", bind_type="RX") as receiver:
            receipt = await receiver.next_event()
    assert tlv(receipt, TLV_RECEIPTED_MESSAGE_ID).as_string() == response.message_id
    assert transmitter.received.empty()
    stats = await smsc.wait_for(lambda s: s["dlrs_sent"] == 1)
    assert stats["dlrs_pending"] == 0


async def test_mo_messages_reach_a_bound_receiver(smsc: SmscSimulator) -> None:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await smsc.asend_mo("+32470000001", "8080", "STOP")
    assert refused.value.response.status_code == 409
    async with bound(smsc) as esme:
        sent = await smsc.asend_mo("+32470000001", "8080", "STOP")
        stop = await esme.next_event()
        await smsc.asend_mo("+32470000002", "8080", "Zoë 😀")
        wide = await esme.next_event()
        long = "Ja, ik kom morgen kijken naar de straat. " * 5
        assert (await smsc.asend_mo("+32470000003", "8080", long))["parts"] == 2
        halves = [await esme.next_event(), await esme.next_event()]
    assert sent["parts"] == 1 and sent["data_coding"] == 0
    assert (stop.source_addr, stop.destination_addr, stop.esm_class) == ("+32470000001", "8080", 0)
    assert (stop.data_coding, stop.short_message) == (0, b"STOP")
    assert wide.data_coding == 8 and wide.short_message.decode("utf-16-be") == "Zoë 😀"
    assert {h.esm_class for h in halves} == {0x40}
    halves.sort(key=lambda h: h.short_message[5])
    assert b"".join(h.short_message[6:] for h in halves).decode("gsm03.38") == long
    assert (await smsc.astats())["mo_sent"] == 3


async def test_binds_over_the_cap_are_refused() -> None:
    with SmscSimulator(max_binds=1) as smsc:
        async with bound(smsc, "first"):
            second = smpp34.Client(
                "127.0.0.1", smsc.smpp_port, "second", "x", bind_type="TRX",
                connect_timeout_ms=500,
            )  # fmt: skip
            # smpp34 does not report a refused bind: connect() runs into its timeout.
            with pytest.raises(smpp34.SmppError):
                await second.connect()
            stats = await smsc.astats()
            assert stats["binds_refused"] == 1 and stats["binds"] == 1
        await smsc.wait_for(lambda s: s["binds"] == 0 and s["connections"] == 0)
        async with bound(smsc, "third") as third:
            assert await third.submit("32470000001") == ESME_ROK


async def test_a_drop_cuts_every_session_and_closes_the_port_for_a_while() -> None:
    with SmscSimulator(drop_seconds=0.5) as smsc:
        async with bound(smsc, "one") as one, bound(smsc, "two") as two:
            assert (await smsc.adrop_connections())["dropped"] == 2
            async with asyncio.timeout(2):
                await one.disconnected.wait()
                await two.disconnected.wait()
            with pytest.raises(smpp34.SmppError):
                await one.submit("32470000001")
            stats = await smsc.wait_for(lambda s: s["binds"] == 0)
            assert stats["drops"] == 1 and not stats["listening"]
            refused = smpp34.Client("127.0.0.1", smsc.smpp_port, "three", "x", bind_type="TRX")
            with pytest.raises(smpp34.SmppError, match="refused"):
                await refused.connect()
        await smsc.wait_for(lambda s: s["listening"], timeout=3)
        async with bound(smsc, "again") as again:
            assert await again.submit("32470000001") == ESME_ROK


async def test_reset_zeroes_the_counters_and_options_are_checked(smsc: SmscSimulator) -> None:
    async with bound(smsc) as esme:
        await esme.submit("32470000001")
        await smsc.areset()
        stats = await smsc.astats()
        assert (stats["submits"], stats["messages"], stats["destinations"]) == (0, 0, 0)
        assert stats["binds"] == 1
        with pytest.raises(httpx.HTTPStatusError) as bad:
            await smsc.aset_options(receipt_before_response=2)
        assert bad.value.response.status_code == 422
        with pytest.raises(httpx.HTTPStatusError):
            await smsc.aset_options(no_such_option=1)
        assert (await smsc.aset_options(reject_prefix=""))["reject_prefix"] == ""
        assert await esme.submit("3299000001") == ESME_ROK
        assert (await smsc.aset_options(reject_prefix=None))["reject_prefix"] == "3299"


def test_stop_leaves_no_process_behind() -> None:
    smsc = SmscSimulator().start()
    assert smsc.running and smsc.stats()["binds"] == 0
    smsc.stop()
    assert smsc.pid is not None and smsc.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(smsc.pid, 0)
