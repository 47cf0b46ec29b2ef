"""What a delivery already in the ledger means for a new copy of its work: pure, so the
idempotency rules are unit-tested without a database."""

from __future__ import annotations

import enum


class CopyVerdict(enum.Enum):
    ANSWER = "answer"  # final: answer the copy with the first outcome
    SEND = "send"  # refused for now last time: dispatch's retry, send it again
    WAIT = "wait"  # accepted and awaiting its report, or being sent by a live replica
    IN_DOUBT = "in_doubt"  # its sender died while calling the provider: it may have it


def verdict(
    state: str, owner: int | None, me: int, mine_in_flight: bool, owner_alive: bool
) -> CopyVerdict:
    """``owner`` is the lease of the replica that claimed a row still ``claimed`` or
    ``submitting``;
    ``mine_in_flight``: this replica is sending that delivery right now."""
    if state == "final":
        return CopyVerdict.ANSWER
    if state == "temporary":
        return CopyVerdict.SEND
    if state == "accepted":
        return CopyVerdict.WAIT
    # Claimed or submitting: by a sender that is still at it, wait for it (this replica's own
    # sending is known here whatever lease it claimed under: a lease lost with the database
    # connection is taken again under a new key). Otherwise (its replica died, or it is our
    # own lease and not in flight here: an earlier attempt of ours that failed half-way) a
    # claimed delivery was certainly never handed over, a submitting one may have been.
    if mine_in_flight or (owner != me and owner_alive):
        return CopyVerdict.WAIT
    return CopyVerdict.SEND if state == "claimed" else CopyVerdict.IN_DOUBT
