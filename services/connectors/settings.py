"""The connectors' settings (``BIN_`` environment variables, like every service).

Providers come as JSON, inline in ``BIN_CONNECTOR_PROVIDERS`` or in the file named by
``BIN_CONNECTOR_PROVIDERS_FILE`` (a mounted secret, say); each names its ``kind``::

    BIN_CONNECTOR_PROVIDERS='[
      {"name": "smsc-a", "kind": "smpp", "host": "smsc.example.net", "system_id": "bin",
       "password_file": "/run/secrets/smsc-a", "binds": 2, "rate_per_second": 100},
      {"name": "kannel", "kind": "kannel", "order": 1, "sendsms_url": "...", ...},
      {"name": "relay", "kind": "smtp", "host": "smtp.example.org", "sender": "...", ...}]'

The kinds and their fields: :class:`SmppConfig`, :class:`KannelConfig`, :class:`SmtpConfig`,
:class:`WebPushConfig`, :class:`SipTrunkConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, TypeAdapter, model_validator

from services.connectors.adapters.kannel import KannelConfig
from services.connectors.adapters.smpp import SmppConfig
from services.connectors.adapters.smtp import SmtpConfig
from services.connectors.adapters.voice import SipTrunkConfig
from services.connectors.adapters.webpush import WebPushConfig
from shared.settings import ServiceSettings

AnyProviderConfig = Annotated[
    SmppConfig | KannelConfig | SmtpConfig | WebPushConfig | SipTrunkConfig,
    Field(discriminator="kind"),
]
_PROVIDERS = TypeAdapter(list[AnyProviderConfig])
# What BIN_CONNECTOR_ADDRESS_SECRET is when not given: refused outside development.
DEVELOPMENT_ADDRESS_SECRET = "development-only-address-secret"  # noqa: S105


class ConnectorSettings(ServiceSettings):
    http_port: int = 8006
    connector_providers: list[AnyProviderConfig] = Field(default_factory=list)
    connector_providers_file: Path | None = None
    # Keys the hash of members' numbers that finds the delivery an SMS reply answers.
    connector_address_secret: SecretStr = SecretStr(DEVELOPMENT_ADDRESS_SECRET)
    # A reply counts as answering the member's latest SMS within this many days.
    connector_reply_window_days: float = Field(default=7.0, gt=0)
    connector_sweep_interval: float = Field(default=2.0, gt=0)
    # A delivery claimed by a replica that died, whose batch never came back, is answered
    # as a temporary failure after this long (dispatch then retries it).
    connector_stranded_after_seconds: float = Field(default=300.0, gt=0)
    # How long the provider's answers may wait for the database before the batch is retried.
    connector_record_for_seconds: float = Field(default=60.0, gt=0)
    connector_retention_days: float = Field(default=30.0, gt=0)
    database_pool_size: int = Field(default=20, ge=1, le=200)

    @model_validator(mode="after")
    def _providers_from_file(self) -> ConnectorSettings:
        if self.connector_providers_file is not None:
            self.connector_providers = [
                *self.connector_providers,
                *_PROVIDERS.validate_json(self.connector_providers_file.read_bytes()),
            ]
        names = [p.name for p in self.connector_providers]
        if len(names) != len(set(names)):
            raise ValueError("provider names must be unique")
        return self
