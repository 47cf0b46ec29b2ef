"""Fan-out planning: which text a recipient gets, how deliveries are cut into batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import TypeVar

from shared.events import Language

T = TypeVar("T")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive batches of at most ``size`` items, the last one possibly shorter."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def text_for(
    texts: Mapping[Language, str], language: Language, preference: Sequence[Language] = ()
) -> tuple[Language, str]:
    """The member's language if the alert has it, else the first of ``preference`` it has,
    else the alert's first text."""
    for candidate in (language, *preference):
        if candidate in texts:
            return candidate, texts[candidate]
    first = next(iter(texts))
    return first, texts[first]
