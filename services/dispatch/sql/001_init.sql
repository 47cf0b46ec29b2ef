-- Recipient projection, fed by registry events: an alert goes out while the registry is down.
CREATE TABLE bin_projection (
    bin_id           uuid PRIMARY KEY,
    police_zone      text NOT NULL,
    municipality     text NOT NULL,
    urgent_channels  text[] NOT NULL,
    news_channels    text[] NOT NULL,
    languages        text[] NOT NULL
);

CREATE TABLE recipient (
    member_id       uuid PRIMARY KEY,
    language        text NOT NULL,
    phones          text[] NOT NULL DEFAULT '{}',
    email           text,
    push_token      text,
    subsidised_sms  boolean NOT NULL DEFAULT true
);

CREATE TABLE membership (
    bin_id     uuid NOT NULL,
    member_id  uuid NOT NULL REFERENCES recipient (member_id) ON DELETE CASCADE,
    PRIMARY KEY (bin_id, member_id)
);

CREATE TABLE alert (
    alert_id     uuid PRIMARY KEY,
    bin_ids      uuid[] NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE delivery (
    delivery_id  uuid PRIMARY KEY,
    alert_id     uuid NOT NULL REFERENCES alert (alert_id),
    member_id    uuid NOT NULL,
    bin_id       uuid NOT NULL,
    channel      text NOT NULL,
    language     text NOT NULL,
    status       text NOT NULL DEFAULT 'requested'
                 CHECK (status IN ('requested', 'delivered', 'temporary_failure', 'permanent_failure')),
    detail       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, member_id, channel)
);

CREATE INDEX delivery_alert_idx ON delivery (alert_id, channel, status);
