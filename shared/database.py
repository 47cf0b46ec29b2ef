"""The asyncpg pool of a service, confined to the service's own schema."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

# A service host that vanishes without closing its connections (power cut, network split)
# leaves its sessions, and the locks and transactions they hold (a fan-out slice's lock, for
# one, which another replica waits for), to the kernel's default keepalive: over two hours.
# PostgreSQL probing idle connections itself ends them within about a minute (30 s idle, then
# 3 probes 10 s apart). Unix-socket connections ignore these.
SESSION_KEEPALIVES = {
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python values, so no repository encodes or decodes JSON by hand.
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
    )


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool. asyncpg's default sends
    ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release: a round
    trip per borrow, a tenth of dispatch's time when thousands of alerts arrive at once
    (bench/dispatch_many_alerts.py, py-spy). Pooled connections here take no session state
    (advisory locks are transaction-scoped, settings are ``SET LOCAL`` or connect-time, cursors
    live in transactions); the exceptions get the full reset: a connection still in a
    transaction, and the outbox relay's, which LISTENs."""
    if conn.is_in_transaction() or getattr(conn, "_listeners", None):
        await conn.reset()


def read_write(dsn: str) -> str:
    """``dsn`` with ``target_session_attrs=read-write`` when it names several hosts (a primary
    and its standby) and does not choose: libpq's default, any, would let a pool open
    connections to the standby, where every write fails until it is promoted. With
    read-write, a connection lost when the primary goes is opened again to whichever host is
    the primary by then, so the pool follows a promotion without a restart."""
    hosts = urlsplit(dsn).netloc.rpartition("@")[2]
    if "," not in hosts or "target_session_attrs=" in dsn:
        return dsn
    return f"{dsn}{'&' if '?' in dsn else '?'}target_session_attrs=read-write"


async def create_pool(dsn: str, schema: str, size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        read_write(dsn),
        min_size=1,
        max_size=size,
        # Unqualified names in a service's SQL resolve to its own schema only.
        server_settings={"search_path": schema, "application_name": schema, **SESSION_KEEPALIVES},
        command_timeout=60,
        init=_init_connection,
        reset=_reset_connection,
    )
    assert pool is not None
    return pool


# What repository functions take: a plain connection or one borrowed from the pool.
Connection = asyncpg.Connection | PoolConnectionProxy
