-- Per-gateway throughput limits shared by every dispatch replica: one token bucket per
-- channel, taken from with a single UPDATE per batch.
CREATE TABLE gateway_rate (
    channel          text PRIMARY KEY,
    per_second       double precision NOT NULL CHECK (per_second > 0),
    burst            double precision NOT NULL CHECK (burst > 0),
    tokens           double precision NOT NULL,
    refilled_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
