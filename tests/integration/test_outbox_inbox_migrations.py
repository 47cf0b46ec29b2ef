"""The outbox relays exactly what committed, the inbox skips redeliveries, migrations apply once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection

from shared import topology as topo
from shared.database import create_pool
from shared.events import AlertIssued, AlertIssuedData, Visibility
from shared.messaging import inbox
from shared.messaging.outbox import OutboxRelay, enqueue
from shared.messaging.publisher import Publisher
from shared.migrations import MigrationError, apply_migrations
from tests.helpers import drain, eventually
from tests.infrastructure import new_prefix

SPEC = topo.QueueSpec("probe.outbox", ((Visibility.PUBLIC, "alert.issued.v1"),))


def alert(text: str = "Let op") -> AlertIssued:
    return AlertIssued.create(
        source="test",
        data=AlertIssuedData(alert_id=uuid.uuid4(), bin_ids=[uuid.uuid4()], texts={"nl": text}),
    )


@pytest.fixture
async def schema(database_url: str, tmp_path: Path) -> str:
    name = f"probe_{uuid.uuid4().hex[:8]}"
    await apply_migrations(database_url, name, tmp_path)
    return name


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, schema, 4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def publisher(amqp_url: str, amqp: AbstractRobustConnection) -> AsyncIterator[Publisher]:
    publisher = Publisher(amqp_url, topo.Topology(prefix=new_prefix(), queue_type="classic"))
    await publisher.connect()
    await publisher.declare((SPEC,))
    try:
        yield publisher
    finally:
        await topo.delete(await amqp.channel(), publisher.topology, (SPEC,))
        await publisher.close()


async def test_outbox_relays_committed_events_and_never_rolled_back_ones(
    pool: asyncpg.Pool, publisher: Publisher, schema: str, amqp: AbstractRobustConnection
) -> None:
    committed, rolled_back = alert("committed"), alert("rolled back")
    async with pool.acquire() as conn:
        async with conn.transaction():
            await enqueue(conn, publisher.topology, schema, [committed])
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await enqueue(conn, publisher.topology, schema, [rolled_back])
                raise RuntimeError("the state change failed")

    relay = OutboxRelay(pool, publisher, schema, batch_size=10, poll_interval=0.2)
    await relay.start()
    try:
        channel = await amqp.channel()
        queue = publisher.topology.queue_name(SPEC.name)
        received = await eventually(lambda: drain(channel, queue))
        assert [AlertIssued.model_validate_json(m.body) for m in received] == [committed]
        assert received[0].message_id == str(committed.id)
        assert received[0].correlation_id == committed.correlationid
        assert received[0].delivery_mode == 2  # persistent

        # The row goes when the relay's transaction commits, just after the broker's confirm
        # (a consumer may see the message first).
        async def relayed_rows_deleted() -> bool:
            return await relay.pending() == 0

        await eventually(relayed_rows_deleted)
    finally:
        await relay.stop()


async def test_outbox_keeps_events_while_the_broker_is_unreachable(
    pool: asyncpg.Pool, schema: str
) -> None:
    away = Publisher("amqp://guest:guest@127.0.0.1:1/", topo.Topology(prefix=new_prefix()))
    relay = OutboxRelay(pool, away, schema, batch_size=10)
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, away.topology, schema, [alert(), alert()])
    with pytest.raises(RuntimeError, match="not connected"):
        await relay.relay_once()
    assert await relay.pending() == 2


async def test_inbox_claims_an_event_once_per_consumer(pool: asyncpg.Pool) -> None:
    event_id = uuid.uuid4()
    async with pool.acquire() as conn:
        assert await inbox.claim(conn, "dispatch.alerts", event_id) is True
        assert await inbox.claim(conn, "dispatch.alerts", event_id) is False
        assert await inbox.claim(conn, "digest.news", event_id) is True


async def test_inbox_claim_rolls_back_with_a_failed_handler(pool: asyncpg.Pool) -> None:
    event_id = uuid.uuid4()
    async with pool.acquire() as conn:
        with pytest.raises(ConnectionError):
            async with conn.transaction():
                assert await inbox.claim(conn, "dispatch.alerts", event_id)
                raise ConnectionError("handler failed after claiming")
        # The redelivery is handled, not skipped as a duplicate.
        assert await inbox.claim(conn, "dispatch.alerts", event_id) is True


async def test_migrations_apply_once_and_refuse_an_edited_one(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "001_init.sql").write_text("CREATE TABLE thing (id int PRIMARY KEY);")
    schema = f"probe_{uuid.uuid4().hex[:8]}"
    assert await apply_migrations(database_url, schema, tmp_path) == [
        "shared/001_messaging",
        "service/001_init",
    ]
    assert await apply_migrations(database_url, schema, tmp_path) == []
    (tmp_path / "002_more.sql").write_text("ALTER TABLE thing ADD COLUMN label text;")
    assert await apply_migrations(database_url, schema, tmp_path) == ["service/002_more"]
    (tmp_path / "001_init.sql").write_text("CREATE TABLE thing (id bigint PRIMARY KEY);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(database_url, schema, tmp_path)


async def test_a_failing_migration_leaves_nothing_half_applied(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "001_init.sql").write_text(
        "CREATE TABLE half (id int); CREATE TABLE broken (id no_such_type);"
    )
    schema = f"probe_{uuid.uuid4().hex[:8]}"
    with pytest.raises(asyncpg.PostgresError):
        await apply_migrations(database_url, schema, tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass($1)", f"{schema}.half") is None
    finally:
        await conn.close()
