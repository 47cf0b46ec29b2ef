"""A service's database sessions: confined to its schema, and ended by the server within
about a minute when the service's host vanishes without closing them."""

from __future__ import annotations

from shared.database import SESSION_KEEPALIVES, create_pool


async def test_a_pool_session_probes_its_client_and_sees_its_own_schema(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, "dispatch", 1)
    try:
        async with pool.acquire() as conn:
            settings = {name: await conn.fetchval(f"SHOW {name}") for name in SESSION_KEEPALIVES}
            search_path = await conn.fetchval("SHOW search_path")
    finally:
        await pool.close()
    # The server took them: over a Unix socket, or left unset, they read 0.
    assert settings == SESSION_KEEPALIVES
    assert search_path == "dispatch"


async def test_a_connection_comes_back_to_the_pool_without_a_transaction_or_listener(
    database_url: str,
) -> None:
    """The pool's light reset (shared.database) still cleans what a session can leave."""
    pool = await create_pool(database_url, "dispatch", 1)
    heard: list[str] = []
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")  # left open, as a failed handler might
            await conn.add_listener("bin_test_channel", lambda *args: heard.append(args[-1]))
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SHOW search_path") == "dispatch"
            await conn.execute("SELECT pg_notify('bin_test_channel', 'after release')")
            listening = await conn.fetchval("SELECT count(*) FROM pg_listening_channels()")
    finally:
        await pool.close()
    assert listening == 0 and heard == []
