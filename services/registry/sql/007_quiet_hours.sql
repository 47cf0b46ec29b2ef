-- Member control: quiet hours each day (Brussels time) and a vacation pause.
ALTER TABLE member
    ADD COLUMN quiet_from time,
    ADD COLUMN quiet_until time,
    ADD COLUMN paused_until timestamptz;
