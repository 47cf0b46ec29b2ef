-- An event that cannot be published (its exchange missing: a topology not declared, a typo in
-- a routing table) waits for its next attempt instead of holding up every event behind it
-- (shared/messaging/outbox.py); it stays in the outbox, with the error, until it goes out.
ALTER TABLE outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN last_error text;
