-- Voice: the member pressed 1 during the call (a person heard it: true) or the call was
-- answered without it (a person or a voicemail box: false), from the receipt's additive
-- `confirmed`. NULL for other channels and for undelivered calls.
ALTER TABLE delivery ADD COLUMN confirmed boolean;
-- The yearly evaluation keeps the confirmed calls after the details are purged.
ALTER TABLE delivery_month ADD COLUMN confirmed integer NOT NULL DEFAULT 0;
