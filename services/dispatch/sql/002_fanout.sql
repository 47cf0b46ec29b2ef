-- Fan-outs of every kind (alerts, notices, digests) and delivery states for streaming,
-- retries and fallback.
CREATE TABLE fanout (
    source_id      uuid PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('alert', 'notice', 'digest')),
    priority       text NOT NULL CHECK (priority IN ('urgent', 'bulk')),
    bin_ids        uuid[] NOT NULL,
    channels       text[] NOT NULL DEFAULT '{}',
    -- Texts per language (and subjects/HTML for e-mail); what a delivery's work carries.
    content        jsonb NOT NULL,
    status         text NOT NULL DEFAULT 'planning'
                   CHECK (status IN ('planning', 'dispatched', 'cancelled')),
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    dispatched_at  timestamptz
);

INSERT INTO fanout (source_id, kind, priority, bin_ids, content, status, created_at,
                    dispatched_at)
SELECT alert_id, 'alert', 'urgent', bin_ids, '{}'::jsonb, 'dispatched', received_at,
       received_at
FROM alert;

ALTER TABLE delivery DROP CONSTRAINT delivery_alert_id_fkey;
ALTER TABLE delivery RENAME COLUMN alert_id TO source_id;
ALTER TABLE delivery
    ADD CONSTRAINT delivery_source_id_fkey FOREIGN KEY (source_id) REFERENCES fanout (source_id);
DROP TABLE alert;

ALTER TABLE delivery DROP CONSTRAINT delivery_status_check;
UPDATE delivery SET status = 'sent' WHERE status = 'requested';
ALTER TABLE delivery
    ADD CONSTRAINT delivery_status_check CHECK (status IN (
        'queued',             -- row written, work not yet confirmed by the broker
        'sent',               -- handed to the gateway's queue
        'delivered',
        'temporary_failure',  -- waiting for its retry
        'permanent_failure',  -- this channel cannot reach the member; fallback follows
        'failed',             -- no channel left, or retries exhausted: dead-lettered
        'cancelled'           -- the alert was cancelled before the work was handed over
    )),
    ALTER COLUMN status SET DEFAULT 'queued',
    ADD COLUMN attempts integer NOT NULL DEFAULT 1,
    ADD COLUMN sent_at timestamptz,
    ADD COLUMN history jsonb NOT NULL DEFAULT '[]';

CREATE INDEX delivery_queued_idx ON delivery (source_id) WHERE status = 'queued';
