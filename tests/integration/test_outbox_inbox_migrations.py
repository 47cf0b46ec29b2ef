"""The outbox relays exactly what committed, the inbox skips redeliveries, migrations apply once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from shared import topology as topo
from shared.database import create_pool
from shared.events import AlertIssued, AlertIssuedData, Visibility
from shared.messaging import inbox
from shared.messaging.outbox import COPY_THRESHOLD, OutboxRelay, ToQueue, enqueue
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


async def test_a_bulk_of_events_and_a_copy_with_headers_are_relayed(
    pool: asyncpg.Pool, publisher: Publisher, schema: str, amqp: AbstractRobustConnection
) -> None:
    """A bulk (COPY, through the pool's connections and their jsonb codec) and a ToQueue item
    straight into a queue with its headers both go out."""
    bulk = [alert(f"bulk {n}") for n in range(COPY_THRESHOLD)]
    copy = alert("dead letter")
    queue = publisher.topology.queue_name(SPEC.name)
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, publisher.topology, schema, bulk)
        await enqueue(
            conn, publisher.topology, schema, [ToQueue(copy, queue, {"x-reason": "a test"})]
        )
    relay = OutboxRelay(pool, publisher, schema, batch_size=100, poll_interval=0.2)
    await relay.start()
    try:
        channel = await amqp.channel()
        received: list[AbstractIncomingMessage] = []

        async def all_received() -> bool:
            received.extend(await drain(channel, queue))
            return len(received) >= len(bulk) + 1

        await eventually(all_received)
    finally:
        await relay.stop()
    by_id = {m.message_id: m for m in received}
    assert set(by_id) == {str(e.id) for e in [*bulk, copy]}
    assert (by_id[str(copy.id)].headers or {}) == {"x-reason": "a test"}
    assert by_id[str(bulk[0].id)].headers in (None, {})


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
        "shared/002_inbox_received_index",
        "shared/003_outbox_retry",
        "shared/004_outbox_headers",
        "shared/005_request_rate",
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


async def test_an_event_whose_exchange_is_missing_holds_up_no_other(
    pool: asyncpg.Pool, publisher: Publisher, schema: str, amqp: AbstractRobustConnection
) -> None:
    """Head of line: the first row names an exchange that does not exist. The rows after it
    go out; it stays in the outbox, postponed, with the broker's error."""
    stuck, after = alert("stuck"), alert("after")
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, publisher.topology, schema, [stuck, after])
        await conn.execute(
            "UPDATE outbox SET exchange = 'no-such-exchange' WHERE event_id = $1", stuck.id
        )
    relay = OutboxRelay(pool, publisher, schema, batch_size=10)
    assert await relay.relay_once() == 1
    channel = await amqp.channel()
    received = await eventually(lambda: drain(channel, publisher.topology.queue_name(SPEC.name)))
    assert [AlertIssued.model_validate_json(m.body) for m in received] == [after]
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT attempts, next_attempt_at > now() AS later, last_error FROM outbox"
        )
    assert row is not None and row["attempts"] == 1 and row["later"]
    assert "NOT_FOUND" in row["last_error"]
    # Postponed: the next rounds do not try it again before its time.
    assert await relay.relay_once() == 0
    assert await relay.pending() == 1


async def test_old_inbox_claims_are_pruned_in_batches_and_recent_ones_kept(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO inbox (consumer, event_id, received_at) "
            "SELECT 'probe', gen_random_uuid(), now() - interval '8 days' "
            "FROM generate_series(1, 2500)"
        )
        recent = uuid.uuid4()
        assert await inbox.claim(conn, "probe", recent)
    assert await inbox.prune(pool, timedelta(days=7), batch=1000) == 2500
    async with pool.acquire() as conn:
        kept = [r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox")]
        # A copy of the recent event still finds its claim.
        assert not await inbox.claim(conn, "probe", recent)
    assert kept == [recent]
