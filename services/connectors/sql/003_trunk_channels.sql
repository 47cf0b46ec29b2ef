-- A SIP trunk's channels, shared by every connector replica: a call takes one row (its
-- owner the replica's lease key) and gives it back when it ends. A row whose owner's lease is
-- gone (the replica died mid-call) is free again: PostgreSQL ended that session's lock.
CREATE TABLE trunk_channel (
    provider  text    NOT NULL,
    slot      integer NOT NULL,
    owner     integer,
    taken_at  timestamptz,
    PRIMARY KEY (provider, slot)
);
