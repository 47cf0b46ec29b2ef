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
