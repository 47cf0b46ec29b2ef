-- A member's Web Push subscription ("alerts on this device", their preferences page): the
-- browser's endpoint and keys, contact data like phones and e-mail. member.changed.v1 carries
-- it to dispatch as the push channel's address; erasure deletes it with the member row.
ALTER TABLE member ADD COLUMN push_subscription jsonb;
-- A push service's "410 Gone" names the endpoint: the registry finds its member by it.
CREATE INDEX member_push_endpoint ON member ((push_subscription ->> 'endpoint'))
    WHERE push_subscription IS NOT NULL;
