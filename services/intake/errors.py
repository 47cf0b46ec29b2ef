"""Intake's refusals as named errors; :mod:`services.intake.problems` maps them to HTTP."""

from __future__ import annotations


class IntakeError(Exception):
    def __init__(self, detail: str, reasons: list[str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reasons = reasons or []


class TargetsRefused(IntakeError):
    """Unknown or inactive BINs: 422 with one reason per BIN."""


class OutsideZone(IntakeError):
    """A BIN or report of a police zone the caller does not act in: 403."""


class ContentRefused(IntakeError):
    """The privacy guard or the publication rules refuse the content: 422."""


class NotFound(IntakeError):
    pass


class Conflict(IntakeError):
    pass
