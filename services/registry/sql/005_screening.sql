-- Coordinators (and their deputies) are adults and screened by the police before they may
-- act (2019 circular): the screening is recorded with its date and who did it. The birth
-- date is checked, not kept.
CREATE TABLE coordinator_screening (
    subject          text NOT NULL,
    bin_id           uuid NOT NULL REFERENCES bin (bin_id),
    screened_on      date NOT NULL,
    passed           boolean NOT NULL,
    screened_by      text NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (subject, bin_id, recorded_at)
);
