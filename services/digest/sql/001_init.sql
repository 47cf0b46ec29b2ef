-- Publishable police news collected for the next digest: only the published info field.
CREATE TABLE news_item (
    news_id         uuid PRIMARY KEY,
    police_zone     text NOT NULL,
    category        text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    place           text NOT NULL,
    published_info  text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX news_item_zone_idx ON news_item (police_zone, occurred_at);
