"""What a member ticks on their preferences page, as the change the API's PATCH makes."""

from __future__ import annotations

from collections.abc import Sequence

from services.registry.schemas import MemberUpdate
from shared.events import Channel

ALL_CHANNELS = tuple(channel.value for channel in Channel)


class NoChannel(ValueError):
    """Nothing ticked: in the registry an empty list means "the BIN's plan", i.e. every
    channel, the opposite of what the member meant; the page asks for at least one."""


def ticked(stored: Sequence[str]) -> list[str]:
    """The boxes to show ticked: an empty list (the BIN's plan) is every channel."""
    return list(stored) or list(ALL_CHANNELS)


def preferences_change(language: str, channels: Sequence[str], digest: bool) -> MemberUpdate:
    """Raises :class:`NoChannel`, or pydantic's ValidationError for values the page never
    offers (a hand-made POST)."""
    change = MemberUpdate.model_validate(
        {
            "language": language,
            "channels": list(dict.fromkeys(channels)),
            "digest_subscribed": digest,
        }
    )
    if not change.channels:
        raise NoChannel("no channel ticked")
    if len(change.channels) == len(ALL_CHANNELS):
        # Every channel ticked is what the BIN's plan (the empty list) means already.
        change.channels = []
    return change
