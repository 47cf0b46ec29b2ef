"""What every provider's configuration has, whatever its kind.

Each adapter module defines its own config class on top of :class:`ProviderConfig` with a
``kind`` literal; :mod:`services.connectors.settings` joins them in one discriminated union.
Secrets come inline (``password``) or from a file (``password_file``, for mounted secrets);
both are :class:`~pydantic.SecretStr` so they never appear in a repr or a log line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Unique across the connector: labels metrics, keys the ledger and the rate buckets.
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    channel: str = Field(pattern="^(sms|email|push|voice)$")
    # Lower goes first; the next one takes over while a provider is down.
    order: int = 0
    # Messages per second this provider accepts, across every connector replica together.
    rate_per_second: float | None = Field(default=None, gt=0)
    # Messages handed to this provider at once per replica (SMPP window x binds, SMTP
    # connections): back-pressure before the provider's own limits.
    concurrency: int = Field(default=100, ge=1, le=10_000)
    # How long after acceptance a message with no report counts as delivered: SMSCs that
    # send no DLR, mail servers that never bounce.
    report_timeout_seconds: float = Field(default=600.0, gt=0)


def read_secret(value: SecretStr | None, path: Path | None) -> str | None:
    """An inline secret, or the contents of a secret file (trailing newline dropped)."""
    if value is not None:
        return value.get_secret_value()
    if path is not None:
        return path.read_text().rstrip("\n")
    return None
