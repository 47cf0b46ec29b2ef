"""The registry's domain errors; :mod:`services.registry.problems` maps each to an HTTP status."""

from __future__ import annotations


class RegistryError(Exception):
    """A request the registry's rules refuse; the message says why, for the caller."""


class IllegalTransition(RegistryError):
    pass


class NotEligible(RegistryError):
    """A member who may not join this BIN; ``reasons`` lists every rule broken."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class SignatureRefused(RegistryError):
    pass
