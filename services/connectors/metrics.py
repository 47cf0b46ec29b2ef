"""The connectors' Prometheus metrics, per provider (never per member)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SUBMITTED = Counter(
    "bin_connector_submitted_total", "Messages handed to a provider", ["provider", "channel"]
)
ANSWERS = Counter(
    "bin_connector_answers_total",
    "What providers answered at submission (accepted, delivered, temporary_failure, ...)",
    ["provider", "status"],
)
REPORTS = Counter(
    "bin_connector_reports_total",
    "Final reports from providers (delivered, permanent_failure) and intermediate ones",
    ["provider", "outcome"],
)
THROTTLED = Counter(
    "bin_connector_throttled_total", "Times a provider asked us to slow down", ["provider"]
)
IN_FLIGHT = Gauge(
    "bin_connector_in_flight", "Messages handed to a provider and not yet answered", ["provider"]
)
UNAVAILABLE = Counter(
    "bin_connector_provider_unavailable_total",
    "Times a provider could take nothing and the next one was tried",
    ["provider"],
)
IN_DOUBT = Counter(
    "bin_connector_in_doubt_total",
    "Deliveries sent again because the replica sending them died mid-call (maybe twice)",
    ["channel"],
)
COPIES_ANSWERED = Counter(
    "bin_connector_copies_answered_total",
    "Copies of already-handled deliveries answered from the ledger, not sent",
    ["channel"],
)
REPLIES = Counter(
    "bin_connector_replies_total", "Members' messages back (MO SMS)", ["provider", "matched"]
)
REPORT_LATENCY = Histogram(
    "bin_connector_submit_to_report_seconds",
    "From the provider's acceptance to its final report",
    ["provider"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)

# Voice: per call (one number rung), per provider (a SIP trunk).
VOICE_CALLS = Counter(
    "bin_connector_voice_calls_total",
    "Calls by result: confirmed, answered, busy, no_answer, unreachable, invalid, failed",
    ["provider", "result"],
)
VOICE_CALL_SECONDS = Counter(
    "bin_connector_voice_call_seconds_total", "Seconds calls were up (answered)", ["provider"]
)
VOICE_CHANNEL_SECONDS = Counter(
    "bin_connector_voice_channel_seconds_total",
    "Seconds trunk channels were taken (ringing and talking): divided by channels x time, "
    "the occupancy",
    ["provider"],
)
VOICE_CHANNELS = Gauge(
    "bin_connector_voice_channels", "Trunk channels of this replica", ["provider"]
)
VOICE_BUSY_CHANNELS = Gauge(
    "bin_connector_voice_channels_in_use", "Trunk channels in a call now", ["provider"]
)
