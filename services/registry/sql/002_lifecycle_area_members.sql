-- Lifecycle, area and neighbours of a BIN; eligibility, consents and preferences of members;
-- role appointments; erasure tombstones (no personal data).

ALTER TABLE bin
    ADD COLUMN status text NOT NULL DEFAULT 'proposed' CHECK (status IN (
        'proposed', 'charter_drafted', 'charter_signed', 'submitted', 'approved', 'active',
        'suspended', 'dissolved')),
    ADD COLUMN status_changed_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN one_sms_per_housing_unit boolean NOT NULL DEFAULT false,
    ADD COLUMN fod_reference text,
    ADD COLUMN last_evaluated_on date,
    ADD COLUMN next_evaluation_due date;

CREATE TABLE bin_status_history (
    bin_id      uuid NOT NULL REFERENCES bin (bin_id),
    status      text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_by  text NOT NULL,
    note        text
);
CREATE INDEX bin_status_history_bin_idx ON bin_status_history (bin_id, changed_at);

CREATE TABLE charter_signature (
    bin_id     uuid NOT NULL REFERENCES bin (bin_id),
    signatory  text NOT NULL CHECK (signatory IN (
        'coordinator', 'mandated_officer', 'police_chief', 'prevention_officer', 'mayor')),
    signed_by  text NOT NULL,
    signed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bin_id, signatory)
);

CREATE TABLE bin_street (
    bin_id       uuid NOT NULL REFERENCES bin (bin_id),
    position     integer NOT NULL,
    street       text NOT NULL,
    -- normalise_name(street): what addresses are matched on, and looked up by.
    street_key   text NOT NULL,
    from_number  integer,
    to_number    integer,
    parity       text NOT NULL DEFAULT 'all' CHECK (parity IN ('all', 'even', 'odd')),
    PRIMARY KEY (bin_id, position)
);
CREATE INDEX bin_street_key_idx ON bin_street (street_key);

-- Adjacency is symmetric: both directions are stored.
CREATE TABLE bin_neighbour (
    bin_id       uuid NOT NULL REFERENCES bin (bin_id),
    neighbour_id uuid NOT NULL REFERENCES bin (bin_id),
    PRIMARY KEY (bin_id, neighbour_id),
    CHECK (bin_id <> neighbour_id)
);

ALTER TABLE member
    ADD COLUMN birth_date date,
    ADD COLUMN relation text CHECK (relation IN ('lives', 'works')),
    ADD COLUMN street text,
    ADD COLUMN house_number text,
    ADD COLUMN box text NOT NULL DEFAULT '',
    ADD COLUMN postal_code text NOT NULL DEFAULT '',
    ADD COLUMN municipality text,
    ADD COLUMN housing_unit text,
    -- Set only for the one member of a housing unit whose SMS the municipality pays, in a BIN
    -- with that rule: the unique index then holds the rule under concurrent registrations.
    ADD COLUMN sms_unit_claim text,
    ADD COLUMN channels text[] NOT NULL DEFAULT '{}',
    ADD COLUMN registration_signed_on date,
    ADD COLUMN house_rules_version text,
    ADD COLUMN house_rules_accepted_on date,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX member_sms_unit_idx ON member (bin_id, sms_unit_claim);
CREATE INDEX member_unit_idx ON member (bin_id, housing_unit);

CREATE TABLE member_erasure (
    member_id  uuid PRIMARY KEY,
    bin_id     uuid NOT NULL,
    reason     text NOT NULL CHECK (reason IN ('erasure_requested', 'consent_withdrawn')),
    erased_at  timestamptz NOT NULL DEFAULT now()
);

-- Who holds which role where: the source of the claims the identity provider puts in tokens.
CREATE TABLE role_assignment (
    subject       text NOT NULL,
    role          text NOT NULL,
    police_zone   text NOT NULL DEFAULT '',
    municipality  text NOT NULL DEFAULT '',
    bin_id        uuid,
    assigned_by   text NOT NULL,
    assigned_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX role_assignment_unique_idx ON role_assignment (
    subject, role, police_zone, municipality, coalesce(bin_id, '00000000-0000-0000-0000-000000000000'));
CREATE INDEX role_assignment_bin_idx ON role_assignment (bin_id);
