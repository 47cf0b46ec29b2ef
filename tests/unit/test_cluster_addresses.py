"""Several RabbitMQ nodes and PostgreSQL hosts in one URL; the total-queue checker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aio_pika import RobustConnection
from yarl import URL

from shared.database import read_write
from shared.messaging.nodes import (
    NodeRotatingConnection,
    amqp_nodes,
    cluster_broker,
    rotating_connection_class,
)
from tests.faults.total_queue import compare


@pytest.mark.parametrize(
    ("url", "nodes"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", ["amqp://guest:guest@127.0.0.1:5672/"]),
        (
            "amqp://bin:s%40cret@rabbit-1:5672,rabbit-2:5673,rabbit-3/bin?heartbeat=10",
            [
                "amqp://bin:s%40cret@rabbit-1:5672/bin?heartbeat=10",
                "amqp://bin:s%40cret@rabbit-2:5673/bin?heartbeat=10",
                "amqp://bin:s%40cret@rabbit-3/bin?heartbeat=10",
            ],
        ),
        ("amqps://h1,h2", ["amqps://h1", "amqps://h2"]),
        ("amqp://u:p@[::1]:5672,h2:5673/", ["amqp://u:p@[::1]:5672/", "amqp://u:p@h2:5673/"]),
    ],
)
def test_every_node_of_the_url_gets_a_url_of_its_own(url: str, nodes: list[str]) -> None:
    assert amqp_nodes(url) == nodes


def test_one_node_keeps_aio_pikas_own_connection() -> None:
    assert rotating_connection_class("amqp://h1:5672/") is RobustConnection
    several = rotating_connection_class("amqp://h1:5672,h2:5673/")
    assert issubclass(several, NodeRotatingConnection)
    assert [str(n) for n in several.nodes] == ["amqp://h1:5672/", "amqp://h2:5673/"]


def test_the_hook_the_rotation_overrides_still_exists() -> None:
    """The rotation replaces a private method of aio-pika's robust connection: if an
    upgrade renames it, every node but the first would be silently ignored."""
    assert hasattr(RobustConnection, "_RobustConnection__connect_transport")


def test_the_broker_of_a_cluster_starts_at_the_first_node() -> None:
    broker = cluster_broker("amqp://u:p@h1:5672,h2:5673/")
    kwargs = broker._connection_kwargs
    assert URL(kwargs["url"]).port == 5672
    assert issubclass(kwargs["connection_class"], NodeRotatingConnection)


async def test_each_attempt_tries_the_nodes_in_turn_until_one_answers() -> None:
    # Nothing listens on these ports: one attempt tries both, then fails.
    ports = []
    for _ in range(2):
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        ports.append(server.sockets[0].getsockname()[1])
        server.close()
        await server.wait_closed()
    cls = rotating_connection_class(f"amqp://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}/")
    connection = cls(URL(f"amqp://127.0.0.1:{ports[0]}/"))
    tried: list[int | None] = []
    original = RobustConnection._RobustConnection__connect_transport  # type: ignore[attr-defined]

    async def record(self: RobustConnection) -> None:
        tried.append(self.url.port)
        await original(self)

    RobustConnection._RobustConnection__connect_transport = record  # type: ignore[attr-defined]
    try:
        with pytest.raises(ConnectionError):
            await connection.connect(timeout=2)
    finally:
        RobustConnection._RobustConnection__connect_transport = original  # type: ignore[attr-defined]
        await connection.close()
    assert tried == ports


def test_a_database_url_with_a_standby_asks_for_the_primary() -> None:
    pair = "postgresql://postgres@db-1:5432,db-2:5432/bin"
    assert read_write(pair) == f"{pair}?target_session_attrs=read-write"
    assert read_write(f"{pair}?sslmode=require").endswith("&target_session_attrs=read-write")
    chosen = f"{pair}?target_session_attrs=primary"
    assert read_write(chosen) == chosen
    assert (
        read_write("postgresql://postgres@db-1:5432/bin") == "postgresql://postgres@db-1:5432/bin"
    )


def test_the_checker_tells_lost_from_unexpected() -> None:
    """A lost id and a stray one must not cancel out, as counts alone would."""
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    result = compare({a, b}, {b, c}, duplicates=1)
    assert (result.handed, result.received, result.duplicates) == (2, 2, 1)
    assert result.lost == {a}
    assert result.unexpected == {c}
