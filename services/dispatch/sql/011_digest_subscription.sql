-- The registry's digest_subscribed (member.changed.v1): a member who unsubscribed gets no
-- digest, and every other message as before.
ALTER TABLE recipient ADD COLUMN digest_subscribed boolean NOT NULL DEFAULT true;
