-- The charter's content (the 2019 circular): the partners' contact details, the budget plan
-- (the communication plan is the BIN's own column), and every change made to it after
-- signing, flagged to be reported to the FOD Binnenlandse Zaken until it is.
CREATE TABLE charter (
    bin_id       uuid PRIMARY KEY REFERENCES bin (bin_id),
    partners     jsonb NOT NULL DEFAULT '[]',
    budget_plan  jsonb NOT NULL DEFAULT '[]',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE charter_change (
    change_id      uuid PRIMARY KEY,
    bin_id         uuid NOT NULL REFERENCES bin (bin_id),
    section        text NOT NULL CHECK (section IN ('partners', 'budget_plan', 'communication_plan')),
    before         jsonb NOT NULL,
    after          jsonb NOT NULL,
    changed_by     text NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    to_report      boolean NOT NULL,
    reported_at    timestamptz,
    fod_reference  text
);
CREATE INDEX charter_change_bin_idx ON charter_change (bin_id, changed_at);
