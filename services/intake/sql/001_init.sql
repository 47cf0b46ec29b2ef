CREATE TABLE alert (
    alert_id        uuid PRIMARY KEY,
    bin_ids         uuid[] NOT NULL,
    texts           jsonb NOT NULL,
    channels        text[] NOT NULL DEFAULT '{}',
    expires_at      timestamptz,
    correlation_id  text NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now()
);
