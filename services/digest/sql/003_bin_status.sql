-- Only an active BIN gets a digest. Kept apart from digest_bin: a status event may arrive
-- before the BIN's registration event, and each keeps the time of the event that set it.
CREATE TABLE digest_bin_status (
    bin_id     uuid PRIMARY KEY,
    status     text NOT NULL,
    status_at  timestamptz NOT NULL
);
