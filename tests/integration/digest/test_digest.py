"""A day of police news in, one digest per BIN out, once, whatever the replicas and
restarts; on the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from services.digest.main import DigestSettings, build
from services.digest.scheduler import DigestScheduler
from shared import topology as topo
from shared.events import (
    BinKind,
    BinRegistered,
    BinRegisteredData,
    BinStatus,
    BinStatusChanged,
    BinStatusChangedData,
    Channel,
    CommunicationPlan,
    Language,
    PoliceNewsCategory,
    PoliceNewsPublished,
    PoliceNewsPublishedData,
    Visibility,
)
from shared.events.digest import DigestCompiled
from shared.runtime import ServiceRuntime
from tests.helpers import drain, eventually
from tests.infrastructure import new_prefix

DAY = date(2027, 3, 1)  # a Monday no other test compiles


@pytest.fixture
async def digest_events(
    amqp: AbstractRobustConnection, amqp_url: str, database_url: str
) -> AsyncIterator[tuple[list[ServiceRuntime], AbstractQueue, str]]:
    prefix = new_prefix()
    runtimes = []
    for _ in range(2):  # two replicas
        runtime, app = build(
            DigestSettings(
                amqp_url=amqp_url,
                database_url=database_url,
                topology_prefix=prefix,
                digest_scheduler=False,
            )
        )
        runtime.app = app  # type: ignore[attr-defined]
        runtimes.append(runtime)
    await runtimes[0].migrate()
    for runtime in runtimes:
        await runtime.start()
    channel = await amqp.channel()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(runtimes[0].topology.exchange_name(Visibility.PUBLIC), "digest.compiled.v1")
    try:
        yield runtimes, probe, prefix
    finally:
        for runtime in runtimes:
            await runtime.stop()
        await topo.delete(channel, runtimes[0].topology, topo.ALL_QUEUES)


async def seed(runtime: ServiceRuntime, zone: str) -> list[uuid.UUID]:
    bins = []
    for kind, languages in (
        (BinKind.BIN, [Language.NL, Language.FR]),
        (BinKind.BIN_Z, [Language.DE]),
    ):
        bin_id = uuid.uuid4()
        bins.append(bin_id)
        await runtime.publisher.publish(
            BinRegistered.create(
                source="test",
                data=BinRegisteredData(
                    bin_id=bin_id,
                    bin_name=f"{kind} {zone}",
                    kind=kind,
                    municipality="Leuven",
                    police_zone=zone,
                    communication_plan=CommunicationPlan(
                        urgent_channels=[Channel.SMS],
                        news_channels=[Channel.EMAIL],
                        languages=languages,
                    ),
                ),
            )
        )
        await runtime.publisher.publish(
            BinStatusChanged.create(
                source="test",
                data=BinStatusChangedData(
                    bin_id=bin_id,
                    status=BinStatus.ACTIVE,
                    previous_status=BinStatus.APPROVED,
                    changed_at=datetime.now(UTC),
                ),
            )
        )
    for n, category in enumerate(PoliceNewsCategory):
        await runtime.publisher.publish(
            PoliceNewsPublished.create(
                source="test",
                data=PoliceNewsPublishedData(
                    news_id=uuid.uuid4(),
                    police_zone=zone,
                    category=category,
                    occurred_at=datetime.now(UTC) - timedelta(hours=n + 1),
                    place="Leuven, Tiensestraat",
                    published_info=f"Bericht {n}",
                ),
            )
        )
    return bins


async def test_one_digest_per_bin_and_day_in_its_languages_despite_two_replicas(
    digest_events: tuple[list[ServiceRuntime], AbstractQueue, str], amqp: AbstractRobustConnection
) -> None:
    runtimes, probe, _ = digest_events
    zone = f"Zone-{uuid.uuid4().hex[:6]}"
    bins = await seed(runtimes[0], zone)
    # A BIN still on its way to official (no status event: proposed) gets no digest.
    proposed = uuid.uuid4()
    await runtimes[0].publisher.publish(
        BinRegistered.create(
            source="test",
            data=BinRegisteredData(
                bin_id=proposed,
                bin_name="Nog niet actief",
                kind=BinKind.BIN,
                municipality="Leuven",
                police_zone=zone,
                communication_plan=CommunicationPlan(
                    urgent_channels=[Channel.SMS],
                    news_channels=[Channel.EMAIL],
                    languages=[Language.NL],
                ),
            ),
        )
    )

    async def collected() -> bool:
        async with runtimes[0].pool.acquire() as conn:
            items = await conn.fetchval(
                "SELECT count(*) FROM news_item WHERE police_zone = $1", zone
            )
            known = await conn.fetchval(
                "SELECT count(*) FROM digest_bin JOIN digest_bin_status USING (bin_id)"
                " WHERE bin_id = ANY($1) AND status = 'active'",
                bins,
            )
            waiting = await conn.fetchval(
                "SELECT count(*) FROM digest_bin WHERE bin_id = $1", proposed
            )
        return bool(items == len(PoliceNewsCategory) and known == 2 and waiting == 1)

    await eventually(collected)
    compilers = [r.app.state.compiler for r in runtimes]  # type: ignore[attr-defined]
    # The digest that will carry news published now (not today's, if its time has passed).
    today = compilers[0].calendar.upcoming_day(datetime.now(UTC))
    # Both replicas compile the same day at once, then one again (a restart).
    await asyncio.gather(*(c.compile_day(today) for c in compilers))
    await compilers[0].compile_day(today)

    channel = await amqp.channel()
    received: list[DigestCompiled] = []

    async def digests() -> bool:
        received.extend(
            DigestCompiled.model_validate_json(m.body) for m in await drain(channel, probe.name)
        )
        return len([d for d in received if d.data.bin_id in bins]) >= 2

    await eventually(digests)
    await asyncio.sleep(1)  # room for a duplicate to show up, if there were one
    received.extend(
        DigestCompiled.model_validate_json(m.body) for m in await drain(channel, probe.name)
    )
    assert not [d for d in received if d.data.bin_id == proposed]
    ours = {d.data.bin_id: d for d in received if d.data.bin_id in bins}
    assert len([d for d in received if d.data.bin_id in bins]) == 2
    resident, business = ours[bins[0]].data, ours[bins[1]].data
    assert set(resident.renderings) == {Language.NL, Language.FR}
    assert set(business.renderings) == {Language.DE}
    assert resident.items == len(PoliceNewsCategory)
    # The BIN-Z digest leads with business burglaries and shop thefts.
    first_line = business.renderings[Language.DE].text.splitlines()[2]
    assert first_line.startswith(("- Einbruch in ein Gebäude", "- Diebstahl"))


async def test_the_scheduler_catches_up_on_start(
    digest_events: tuple[list[ServiceRuntime], AbstractQueue, str],
) -> None:
    runtimes, _, _ = digest_events
    compiler = runtimes[0].app.state.compiler  # type: ignore[attr-defined]
    # The service comes up on Monday 10:00 Brussels time: 07:00 passed while it was down.
    monday_ten = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    scheduler = DigestScheduler(compiler, clock=lambda: monday_ten)
    assert await scheduler.run_due() is True
    async with runtimes[0].pool.acquire() as conn:
        assert await conn.fetchval("SELECT digests FROM digest_day WHERE day = $1", DAY) is not None
    # Started again the same morning: nothing to catch up.
    assert await scheduler.run_due() is False
