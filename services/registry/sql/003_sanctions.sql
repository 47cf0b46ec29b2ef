-- House-rule sanctions: reprimand → suspension (until) → removal (appealable for 3 weeks).
ALTER TABLE member
    ADD COLUMN standing text NOT NULL DEFAULT 'member'
        CHECK (standing IN ('member', 'removed')),
    ADD COLUMN suspended_until timestamptz;

CREATE TABLE member_sanction (
    sanction_id      uuid PRIMARY KEY,
    member_id        uuid NOT NULL REFERENCES member (member_id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('reprimand', 'suspension', 'removal')),
    reason           text NOT NULL,
    until            timestamptz,
    decided_by       text NOT NULL,
    decided_at       timestamptz NOT NULL DEFAULT now(),
    appeal_deadline  timestamptz,
    appealed_at      timestamptz,
    appeal_reason    text
);
CREATE INDEX member_sanction_member_idx ON member_sanction (member_id, decided_at);
