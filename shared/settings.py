"""Settings from environment variables, all prefixed ``BIN_``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs: where the broker and database are, where to listen."""

    model_config = SettingsConfigDict(env_prefix="BIN_", extra="ignore")

    # "development" lets a service start with the development secrets and an insecure
    # console cookie (make run and the tests set it); anything deployed leaves it at
    # "production", where those are refused at start (shared.safeguards).
    environment: str = Field(default="production", pattern="^(development|production)$")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # Every exchange and queue name starts with this; test runs use their own to stay isolated.
    topology_prefix: str = Field(default="bin", pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    prefetch: int = Field(default=200, ge=1, le=2000)
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Seconds in-flight messages get to finish on SIGTERM before the process gives up on them
    # (they are then redelivered, never acked unfinished).
    graceful_timeout: float = Field(default=20.0, gt=0)
    # Delay levels (seconds) for a handler's transient failures, then the dead-letter queue.
    # Changing them needs the retry queues deleted first: RabbitMQ cannot alter a queue's TTL.
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    # "quorum" (durable, replicated, poison-message limit) in production; "classic" for test
    # runs, which create and delete their queues (see shared.topology.Topology.queue_type).
    queue_type: str = Field(default="quorum", pattern="^(quorum|classic)$")
    # False: the exchanges and queues must exist already (declared by the services that own
    # them) and are only checked; for a gateway, whose broker user may declare nothing.
    declare_topology: bool = True
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_poll_interval: float = Field(default=1.0, gt=0)
    # Inbox claims older than this are pruned (shared/messaging/inbox.py): far longer than
    # any copy of an event can take to arrive.
    inbox_retention_hours: float = Field(default=168.0, ge=1)


class HttpApiSettings(ServiceSettings):
    """A service whose HTTP API people and other systems call (intake, registry, dispatch):
    the limits of :mod:`shared.request_limits`, each service with its own defaults."""

    # Per caller (verified principal, else address): sustained requests per second, and the
    # burst allowed, counted across every replica of the service.
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Buckets kept at most, in PostgreSQL (full ones are forgotten first, nobody's reset).
    rate_limit_max_callers: int = Field(default=50_000, ge=1)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # The proxies (ingress, load balancer) whose X-Forwarded-For names the caller's address,
    # comma-separated addresses or networks, "*" for any: behind a proxy not listed every
    # caller without a token would share the proxy's address, and its limit.
    trusted_proxies: str = "127.0.0.1"


def database_schema(service: str) -> str:
    """The PostgreSQL schema a service owns; no service reads another's."""
    return service.replace("-", "_")
