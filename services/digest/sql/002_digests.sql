-- The BINs a digest goes to (from registry events) and the digests compiled: one row per
-- BIN and day, claimed in the transaction that puts the digest in the outbox, so two
-- replicas or a restart still give exactly one digest per BIN per day.
CREATE TABLE digest_bin (
    bin_id        uuid PRIMARY KEY,
    bin_name      text NOT NULL,
    kind          text NOT NULL,
    municipality  text NOT NULL,
    police_zone   text NOT NULL,
    languages     text[] NOT NULL
);

CREATE TABLE digest_run (
    bin_id       uuid NOT NULL,
    day          date NOT NULL,
    digest_id    uuid NOT NULL,
    items        integer NOT NULL,
    compiled_at  timestamptz NOT NULL DEFAULT now(),
    resent       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (bin_id, day)
);

-- A day is done when every BIN had its digest (or had nothing to send).
CREATE TABLE digest_day (
    day           date PRIMARY KEY,
    completed_at  timestamptz NOT NULL DEFAULT now(),
    digests       integer NOT NULL
);

CREATE INDEX news_item_received_idx ON news_item (police_zone, received_at);
