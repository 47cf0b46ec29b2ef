-- The member replied STOP to an SMS (dispatch tells us): kept with the member, so every later
-- snapshot of them (member.changed.v1) still says so.
ALTER TABLE member ADD COLUMN sms_opted_out boolean NOT NULL DEFAULT false;
