-- Four-eyes approval (issue 19): an alert reaching more members than its zone allows, or BINs
-- of several municipalities, is stored held; its event leaves only when a second operator of
-- the zone approves. approval_reasons empty: no approval was needed.
ALTER TABLE alert
    ADD COLUMN approval_reasons  text[] NOT NULL DEFAULT '{}',
    -- Distinct members dispatch counted when the alert was asked for (NULL: not counted).
    ADD COLUMN reach             integer,
    ADD COLUMN approved_by       text,
    ADD COLUMN approved_at       timestamptz;
CREATE INDEX alert_awaiting_approval_idx ON alert (police_zone, issued_at)
    WHERE approval_reasons <> '{}' AND approved_at IS NULL AND cancelled_at IS NULL;
