"""What a copy of already-claimed work gets: the connector's idempotency rules."""

from __future__ import annotations

import asyncio

from services.connectors.domain.address_key import address_key, normalise_number
from services.connectors.domain.claims import CopyVerdict, verdict
from services.connectors.priority_gate import PriorityGate

ME, OTHER = 7, 9


def test_final_is_answered_and_temporary_is_sent_again() -> None:
    assert verdict("final", None, ME, False, False) is CopyVerdict.ANSWER
    assert verdict("temporary", None, ME, False, False) is CopyVerdict.SEND


def test_accepted_waits_for_its_report() -> None:
    assert verdict("accepted", None, ME, False, False) is CopyVerdict.WAIT


def test_submitting_by_a_live_replica_waits_and_by_a_dead_one_is_in_doubt() -> None:
    assert verdict("submitting", OTHER, ME, False, True) is CopyVerdict.WAIT
    assert verdict("submitting", OTHER, ME, False, False) is CopyVerdict.IN_DOUBT


def test_our_own_claim_waits_only_while_we_are_sending_it() -> None:
    assert verdict("submitting", ME, ME, True, True) is CopyVerdict.WAIT
    # in flight here under a lease since lost and taken again under another key
    assert verdict("submitting", OTHER, ME, True, False) is CopyVerdict.WAIT
    assert verdict("submitting", ME, ME, False, True) is CopyVerdict.IN_DOUBT


def test_claimed_but_never_handed_over_is_sent_when_its_claimer_is_gone() -> None:
    assert verdict("claimed", OTHER, ME, False, False) is CopyVerdict.SEND
    assert verdict("claimed", ME, ME, False, True) is CopyVerdict.SEND
    assert verdict("claimed", OTHER, ME, False, True) is CopyVerdict.WAIT


def test_one_number_written_three_ways_has_one_key() -> None:
    assert normalise_number("+32 470 12 34 56") == "32470123456"
    keys = {address_key(b"s", n) for n in ("+32470123456", "0032470123456", "32470123456")}
    assert len(keys) == 1
    assert address_key(b"s", "+32470123456") != address_key(b"t", "+32470123456")


async def test_the_gate_lets_urgent_waiters_in_before_bulk_ones() -> None:
    gate = PriorityGate(1)
    order: list[str] = []
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot("bulk"):
            await release.wait()

    async def enter(name: str, priority: str) -> None:
        async with gate.slot(priority):
            order.append(name)

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(enter("digest", "bulk"))]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(enter("alert", "urgent")))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *waiting)
    assert order == ["alert", "digest"]
