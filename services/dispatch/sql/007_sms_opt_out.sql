-- A member who replied STOP gets no SMS until they reply START; the confirmation of either
-- is a fan-out of one of its own kind.
ALTER TABLE recipient ADD COLUMN sms_opted_out boolean NOT NULL DEFAULT false;
ALTER TABLE fanout DROP CONSTRAINT fanout_kind_check;
ALTER TABLE fanout ADD CONSTRAINT fanout_kind_check
    CHECK (kind IN ('alert', 'notice', 'digest', 'confirmation'));
