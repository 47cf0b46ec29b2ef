-- Voice: whether the member pressed 1 during the call (a person heard it) or the call was
-- answered without it (a person or a voicemail box). NULL for other channels. Kept with the
-- outcome so that a copy of a batch is answered exactly as the first time.
ALTER TABLE submission ADD COLUMN confirmed boolean;
