-- Member control: quiet hours (local Brussels time) and a vacation pause; a delivery that
-- falls in them waits (hold_until) instead of being sent or dropped. Whether urgent alerts
-- go through anyway is the BIN's communication plan's to say.
ALTER TABLE bin_projection ADD COLUMN urgent_overrides_quiet boolean NOT NULL DEFAULT true;
ALTER TABLE recipient
    ADD COLUMN quiet_from time,
    ADD COLUMN quiet_until time,
    ADD COLUMN paused_until timestamptz;
ALTER TABLE delivery ADD COLUMN hold_until timestamptz;
CREATE INDEX delivery_held_idx ON delivery (hold_until) WHERE hold_until IS NOT NULL
    AND status = 'queued';
