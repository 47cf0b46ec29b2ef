-- Retention: delivery details are purged after a configured period; what the cost report
-- and the yearly evaluation need of them is folded first into aggregates kept forever.
-- No member ids, addresses or texts in either table.

-- Messages of one month (UTC, the month the fan-out started) per BIN, channel and kind.
CREATE TABLE delivery_month (
    month         date NOT NULL,
    police_zone   text NOT NULL,
    municipality  text NOT NULL,
    bin_id        uuid NOT NULL,
    channel       text NOT NULL,
    kind          text NOT NULL,
    priority      text NOT NULL,
    deliveries    integer NOT NULL,
    delivered     integer NOT NULL,
    failed        integer NOT NULL,
    -- Handed to the gateway, retries included: what providers bill.
    billable      integer NOT NULL,
    PRIMARY KEY (month, bin_id, channel, kind, priority)
);
CREATE INDEX delivery_month_zone_idx ON delivery_month (police_zone, month);

-- One alert in one BIN: members targeted and reached, and the seconds from the alert
-- reaching dispatch to the first and the last delivery receipt.
CREATE TABLE activation_outcome (
    source_id         uuid NOT NULL,
    bin_id            uuid NOT NULL,
    police_zone       text NOT NULL,
    municipality      text NOT NULL,
    started_at        timestamptz NOT NULL,
    targeted          integer NOT NULL,
    delivered         integer NOT NULL,
    failed            integer NOT NULL,
    first_delivery_s  double precision,
    last_delivery_s   double precision,
    PRIMARY KEY (source_id, bin_id)
);
CREATE INDEX activation_outcome_bin_idx ON activation_outcome (bin_id, started_at);
CREATE INDEX activation_outcome_zone_idx ON activation_outcome (police_zone, started_at);

-- A fan-out whose details were folded and purged keeps its row (ids, kind, targets, times:
-- a redelivered alert still finds it done) without its texts.
ALTER TABLE fanout ADD COLUMN details_purged_at timestamptz;
CREATE INDEX fanout_unpurged_idx ON fanout (created_at) WHERE details_purged_at IS NULL;
