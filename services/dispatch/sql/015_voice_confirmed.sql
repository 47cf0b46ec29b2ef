-- Voice: the member pressed 1 during the call (a person heard it: true) or the call was
-- answered without it (a person or a voicemail box: false), from the receipt's additive
-- `confirmed`. NULL for other channels and for undelivered calls.
ALTER TABLE delivery ADD COLUMN confirmed boolean;
