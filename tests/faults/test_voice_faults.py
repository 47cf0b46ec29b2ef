"""The voice connector SIGKILLed mid-fan-out of an urgent voice alert, and started again:
dispatch and the connectors as processes on the real broker and database, the connector's
baresip agents calling SIPp, which answers every call and logs every INVITE it receives.

Afterwards every member's delivery is delivered and SIPp received a call for every member
(none lost). A member called twice is one whose call was under way when the connector died
(its agents die with it): the ledger counts those hand-overs as in doubt, and they are at
most the calls the connector makes at once (its agents). A copy of a batch redelivered after
the kill never rings anybody again: those deliveries are answered from the ledger.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.replicas import Replicas
from tests.faults.test_connector_faults import migrate_connectors, resends
from tests.faults.total_queue import delivery_counts
from tests.helpers import eventually
from tests.peers.voice import SippCallee
from tests.ports import free_port_run

MEMBERS = 40
AGENTS = 6


def trunk(callee: SippCallee, folder: Path) -> str:
    return json.dumps(
        [
            {
                "name": "trunk",
                "kind": "sip",
                "domain": "127.0.0.1:9",
                "caller_id": "+3216123456",
                "channels": AGENTS,
                "ring_seconds": 10,
                "listen_seconds": 1,
                "first_port": free_port_run(3 * AGENTS),
                "rtp_first_port": free_port_run(20 * AGENTS),
                "work_folder": str(folder),
                "number_routes": {"+32": callee.host_port},
            }
        ]
    )


async def seed_voice(database_url: str, members: int) -> tuple[list[uuid.UUID], list[str]]:
    """A BIN whose urgent plan is voice, and its members with one number each."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
    try:
        bins = [uuid.uuid4()]
        await conn.execute(
            "INSERT INTO bin_projection VALUES ($1, 'Leuven', 'Leuven', '{voice}', '{email}', "
            "'{nl}')",
            bins[0],
        )
        ids = [uuid.uuid4() for _ in range(members)]
        numbers = [f"+3247{n:07d}" for n in range(members)]
        await conn.copy_records_to_table(
            "recipient",
            records=[(m, "nl", [numbers[n]], None, None, False) for n, m in enumerate(ids)],
            columns=("member_id", "language", "phones", "email", "push_token", "subsidised_sms"),
        )
        await conn.copy_records_to_table(
            "membership", records=[(bins[0], m) for m in ids], columns=("bin_id", "member_id")
        )
        return bins, numbers
    finally:
        await conn.close()


@pytest.mark.timeout(400)
async def test_voice_fan_out_survives_the_connector_killed_with_no_member_lost(
    replicas: Replicas, database_url: str, tmp_path: Path
) -> None:
    migrate_connectors(database_url)
    async with SippCallee(tmp_path, "answer_after", pause_ms=300) as callee:
        env = {"BIN_CONNECTOR_PROVIDERS": trunk(callee, tmp_path / "voice"), "BIN_PREFETCH": "4"}
        replicas.start("dispatch", "services.dispatch", BIN_BATCH_SIZE="5")
        replicas.start("connectors", "services.connectors", **env)
        await replicas.ready("dispatch")
        await replicas.ready("connectors")
        bins, numbers = await seed_voice(database_url, MEMBERS)
        alert_id = await replicas.issue_alert(bins)

        async def some_called() -> int | None:
            called = sum(callee.invited_numbers().values())
            return called if called >= AGENTS + 2 else None

        fault_at = await eventually(some_called, timeout=120, interval=0.2)
        replicas.processes["connectors"].kill()
        replicas.processes["connectors"].wait(10)
        assert fault_at < MEMBERS, "the fan-out finished before the fault"
        replicas.start("connectors", "services.connectors", **env)
        await replicas.ready("connectors")

        async def all_delivered() -> dict[str, int] | None:
            counts = await delivery_counts(database_url, alert_id)
            return counts if counts == {"delivered": MEMBERS, "members": MEMBERS} else None

        counts = await eventually(all_delivered, timeout=240, interval=1)
        called = callee.invited_numbers()
        sent_again = await resends(database_url, alert_id)

    twice = sum(n - 1 for n in called.values())
    print(
        f"\nconnector killed after {fault_at} of {MEMBERS} calls: {counts['members']} members "
        f"delivered; SIPp received {sum(called.values())} calls for {len(called)} numbers, "
        f"{twice} members called again; the ledger counts {sent_again} hand-overs in doubt"
    )
    assert set(called) == set(numbers)  # none lost
    assert twice <= sent_again <= AGENTS
