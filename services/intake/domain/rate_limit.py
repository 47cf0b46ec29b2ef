"""The request rate every caller of intake gets, and who counts as one caller: a verified
principal (its subject and police zones), else the address the request came from. A token
that does not verify names nobody, so it is counted with its sender's address: sending junk
tokens makes no bucket of its own and resets nobody's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.auth import Principal

# New callers while the buckets are at their bound share this one (nobody's is taken away).
OVERFLOW = "overflow"


@dataclass(frozen=True)
class RateLimiter:
    per_second: float
    burst: int
    max_callers: int = 50_000  # buckets kept at most (idle, full ones are forgotten first)

    def caller(self, principal: Principal | None, address: str) -> str:
        """The key of a caller's bucket. Hashed: the table holds no subject or address."""
        if principal is not None:
            identity = f"principal\n{principal.subject}\n{','.join(sorted(principal.police_zones))}"
        else:
            identity = f"address\n{address}"
        return hashlib.sha256(identity.encode()).hexdigest()
