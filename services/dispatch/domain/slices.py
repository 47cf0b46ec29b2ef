"""Slicing a fan-out by member so several replicas share it.

A member's slice is a stable hash of their id (computed in SQL, next to the rows it filters:
``repository.SLICE_FILTER``), never of their BIN: a member of two targeted BINs then falls in
one slice, where the slice's in-memory "seen" set still reaches them once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Slice:
    """Slice ``index`` of ``count`` slices of one fan-out."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 2 or not 0 <= self.index < self.count:
            raise ValueError(f"not a slice: {self.index} of {self.count}")


def pending(slices: Iterable[tuple[Slice, bool]]) -> list[Slice]:
    """The slices not done yet (``(slice, done)`` pairs): what a redelivered fan-out message
    publishes again. A copy of a slice under way waits for it and is then dropped as done."""
    return [part for part, done in slices if not done]
