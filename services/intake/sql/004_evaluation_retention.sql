-- Members' replies are purged after their retention period; how many there were is kept for
-- the yearly evaluation: the purge adds each alert's count per BIN here first (rows add up).
CREATE TABLE reply_tally (
    alert_id   uuid NOT NULL REFERENCES alert (alert_id),
    -- NULL: a reply from an app to an alert of several BINs that did not name its BIN.
    bin_id     uuid,
    replies    integer NOT NULL,
    folded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reply_tally_alert_idx ON reply_tally (alert_id);

-- Reports hold personal data (facts, descriptions of suspects and vehicles, the house
-- number); after their retention period they keep only what counts need (zone, source,
-- category, municipality, street, times, the decision).
ALTER TABLE report ADD COLUMN details_purged_at timestamptz;
CREATE INDEX alert_issued_idx ON alert (issued_at);
