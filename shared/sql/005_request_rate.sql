-- Request rates per caller of a service's HTTP API (a verified principal, else an address;
-- shared/request_limits.py), shared by every replica: one token bucket per caller, keyed by
-- a hash (no subject or address is stored), made on first use; full buckets are forgotten
-- when the table reaches its bound. Intake's own caller_rate (its migration 005) came first.
CREATE TABLE request_rate (
    caller           text PRIMARY KEY,
    per_second       double precision NOT NULL CHECK (per_second > 0),
    burst            double precision NOT NULL CHECK (burst > 0),
    tokens           double precision NOT NULL,
    refilled_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
