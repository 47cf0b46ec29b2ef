"""Which slice of a long list a page shows, and whether there is one before or after."""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZE = 50


@dataclass(frozen=True)
class Paging:
    number: int  # from 1
    size: int
    total: int

    @classmethod
    def of(cls, number: int, total: int, size: int = PAGE_SIZE) -> Paging:
        last = max(1, -(-total // size))
        return cls(min(max(1, number), last), size, total)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None
