-- The member may unsubscribe from the daily digest (their preferences page) and keep every
-- other message; member.changed.v1 carries it to dispatch, which sends digests.
ALTER TABLE member ADD COLUMN digest_subscribed boolean NOT NULL DEFAULT true;
