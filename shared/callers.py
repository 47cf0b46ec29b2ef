"""Who counts as one caller of a service's HTTP API, and the rate each gets: a verified
principal (its subject and police zones), else the address the request came from. A token
that does not verify names nobody, so it is counted with its sender's address: sending junk
tokens makes no bucket of its own and resets nobody's.

The members' preferences links are no principal (anyone holding one may use it), so a link
that does not verify costs its sender's address a token of a far smaller bucket of its own:
a guessed or forged link cannot be tried at speed, while the members whose links are good,
even thousands behind one address (a mail provider's one-click unsubscribes), are not held
up by somebody else's guessing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.auth import Principal

# New callers while the buckets are at their bound share this one (nobody's is taken away).
OVERFLOW = "overflow"


def _key(identity: str) -> str:
    """Bucket keys are hashed: the table holds no subject or address."""
    return hashlib.sha256(identity.encode()).hexdigest()


@dataclass(frozen=True)
class RateLimiter:
    per_second: float
    burst: int
    max_callers: int = 50_000  # buckets kept at most (idle, full ones are forgotten first)

    def caller(self, principal: Principal | None, address: str) -> str:
        """The key of a caller's bucket."""
        if principal is not None:
            return _key(
                f"principal\n{principal.subject}\n{','.join(sorted(principal.police_zones))}"
            )
        return _key(f"address\n{address}")


@dataclass(frozen=True)
class LinkFailureLimit:
    """Links that did not verify, per sender address: ``burst`` at once, then one every
    ``1 / per_second`` seconds."""

    per_second: float = 0.1
    burst: int = 10

    @staticmethod
    def caller(address: str) -> str:
        return _key(f"failed links\n{address}")
