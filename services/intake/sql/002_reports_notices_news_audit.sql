-- Intake's own projection of the registry's BINs (status, zone, plan, area, neighbours), so
-- operators are proposed targets and refused inactive BINs while the registry is down.
CREATE TABLE bin (
    bin_id             uuid PRIMARY KEY,
    bin_name           text,
    kind               text,
    municipality       text,
    police_zone        text,
    urgent_channels    text[] NOT NULL DEFAULT '{}',
    news_channels      text[] NOT NULL DEFAULT '{}',
    languages          text[] NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'proposed',
    -- Events may arrive out of order: each part keeps the time of the event that set it.
    status_at          timestamptz NOT NULL DEFAULT '-infinity',
    area_at            timestamptz NOT NULL DEFAULT '-infinity',
    neighbour_ids      uuid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX bin_zone_idx ON bin (police_zone);
CREATE INDEX bin_municipality_idx ON bin (lower(municipality));

CREATE TABLE bin_street (
    bin_id       uuid NOT NULL REFERENCES bin (bin_id) ON DELETE CASCADE,
    street       text NOT NULL,
    street_key   text NOT NULL,
    from_number  integer,
    to_number    integer,
    parity       text NOT NULL DEFAULT 'all'
);
CREATE INDEX bin_street_key_idx ON bin_street (street_key);

CREATE TABLE report (
    report_id     uuid PRIMARY KEY,
    police_zone   text NOT NULL,
    source        text NOT NULL,
    category      text NOT NULL,
    facts         text NOT NULL,
    municipality  text NOT NULL,
    street        text NOT NULL,
    house_number  text,
    occurred_at   timestamptz NOT NULL,
    suspects      text,
    vehicles      text,
    logged_by     text NOT NULL,
    logged_at     timestamptz NOT NULL DEFAULT now(),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'evaluated'))
);
CREATE INDEX report_zone_idx ON report (police_zone, logged_at DESC);

CREATE TABLE evaluation (
    report_id    uuid PRIMARY KEY REFERENCES report (report_id),
    decision     text NOT NULL
                 CHECK (decision IN ('activate', 'notice', 'police_news', 'no_action')),
    reason       text NOT NULL,
    bin_ids      uuid[] NOT NULL DEFAULT '{}',
    outcome_id   uuid,
    decided_by   text NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE alert
    ADD COLUMN police_zone       text,
    ADD COLUMN issued_by         text,
    ADD COLUMN report_id         uuid,
    ADD COLUMN follows_alert_id  uuid REFERENCES alert (alert_id),
    ADD COLUMN privacy_changes   jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN attachments       jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN cancelled_at      timestamptz,
    ADD COLUMN cancelled_reason  text;

CREATE TABLE notice (
    notice_id         uuid PRIMARY KEY,
    police_zone       text NOT NULL,
    scope             text NOT NULL,
    bin_ids           uuid[] NOT NULL,
    subjects          jsonb NOT NULL,
    texts             jsonb NOT NULL,
    channels          text[] NOT NULL DEFAULT '{}',
    follows_alert_id  uuid,
    privacy_changes   jsonb NOT NULL DEFAULT '[]',
    issued_by         text NOT NULL,
    issued_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE police_news (
    news_id         uuid PRIMARY KEY,
    police_zone     text NOT NULL,
    category        text NOT NULL,
    place           text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    published_info  text NOT NULL,
    publishable     boolean NOT NULL,
    report_id       uuid,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE response (
    response_id  uuid PRIMARY KEY,
    alert_id     uuid NOT NULL REFERENCES alert (alert_id),
    member_id    uuid NOT NULL,
    bin_id       uuid,
    channel      text NOT NULL,
    text         text NOT NULL,
    received_at  timestamptz NOT NULL
);
CREATE INDEX response_alert_idx ON response (alert_id, received_at);

-- Append-only: who did what, when. The trigger refuses to change or remove history even for
-- the service's own role; only a database owner dropping the trigger could.
CREATE TABLE audit_log (
    position      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor         text NOT NULL,
    action        text NOT NULL,
    police_zone   text,
    subject_kind  text NOT NULL,
    subject_id    uuid,
    detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_id);
CREATE INDEX audit_log_zone_idx ON audit_log (police_zone, at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
