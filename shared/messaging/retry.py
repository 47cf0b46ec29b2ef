"""The retry decision for a failed message: pure, so it is unit-tested without a broker."""

from __future__ import annotations

from dataclasses import dataclass

import pydantic

from shared.messaging.errors import MalformedMessage, PermanentError

_MALFORMED = (pydantic.ValidationError, ValueError, UnicodeDecodeError)


@dataclass(frozen=True)
class Retry:
    level: int  # index into the topology's retry delays
    attempt: int  # the attempt number the retried message will carry


@dataclass(frozen=True)
class DeadLetter:
    reason: str


def describe(error: BaseException) -> str:
    """A one-line reason for the dead-letter header: the error's type and a bounded message."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:1000]


def classify(error: BaseException) -> BaseException:
    """Maps decoding and validation errors to :class:`MalformedMessage`."""
    if isinstance(error, PermanentError):
        return error
    if isinstance(error, _MALFORMED):
        malformed = MalformedMessage(describe(error))
        malformed.__cause__ = error
        return malformed
    return error


def decide(error: BaseException, attempt: int, retry_levels: int) -> Retry | DeadLetter:
    """``attempt`` is the attempt that just failed, counted from 1."""
    error = classify(error)
    if isinstance(error, PermanentError):
        return DeadLetter(reason=describe(error))
    if attempt > retry_levels:
        return DeadLetter(reason=f"retries exhausted after {attempt} attempts: {describe(error)}")
    return Retry(level=attempt - 1, attempt=attempt + 1)
