-- Police feedback after an activation is expected by the next working day (2019 circular):
-- each alert (not its follow-ups) carries that deadline; sending the feedback closes it.
ALTER TABLE alert
    ADD COLUMN feedback_due        date,
    ADD COLUMN feedback_notice_id  uuid,
    ADD COLUMN feedback_at         timestamptz;
CREATE INDEX alert_feedback_open_idx ON alert (feedback_due) WHERE feedback_at IS NULL;
