"""Intake's refusals as named errors; :mod:`services.intake.problems` maps them to HTTP."""

from __future__ import annotations

from services.intake.domain.privacy import Finding, describe


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


class PrivacyUnresolved(ContentRefused):
    """Texts that still hold uncertain findings of the privacy guard: 422 naming each, so the
    operator answers mask or keep (``privacy_decisions``)."""

    def __init__(self, findings: list[tuple[str, Finding]]) -> None:
        """``findings``: each with the request field whose text holds it."""
        super().__init__(
            "the privacy guard is not sure about some of the text; decide mask or keep for each",
            [f"{field}.{describe(f)}" for field, f in findings],
        )
        self.findings = findings


class NotFound(IntakeError):
    pass


class Conflict(IntakeError):
    pass
