CREATE TABLE bin (
    bin_id              uuid PRIMARY KEY,
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('bin', 'bin_z')),
    municipality        text NOT NULL,
    police_zone         text NOT NULL,
    communication_plan  jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE member (
    member_id       uuid PRIMARY KEY,
    bin_id          uuid NOT NULL REFERENCES bin (bin_id),
    full_name       text NOT NULL,
    phones          text[] NOT NULL DEFAULT '{}',
    email           text,
    language        text NOT NULL CHECK (language IN ('nl', 'fr', 'de')),
    subsidised_sms  boolean NOT NULL DEFAULT true,
    joined_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX member_bin_idx ON member (bin_id);
