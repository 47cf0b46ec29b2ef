-- The connectors' ledger: every delivery handed to a provider, recorded BEFORE the provider
-- is called, so a copy of the same delivery (a redelivered batch, another replica, a
-- restart) is answered from here and never submitted again.

CREATE TABLE submission (
    delivery_id     uuid PRIMARY KEY,
    channel         text        NOT NULL,
    priority        text        NOT NULL,
    source_id       uuid        NOT NULL,
    -- claimed:    taken by replica `owner`, not yet handed to a provider
    -- submitting: the provider is being called (by replica `owner`)
    -- accepted:   the provider took it; its report (DLR, bounce) or the report timeout ends it
    -- temporary:  refused for now; dispatch's retry of the same id claims it again
    -- final:      outcome known; every copy is answered with it
    state           text        NOT NULL CHECK (state IN ('claimed', 'submitting', 'accepted', 'temporary', 'final')),
    owner           integer,
    provider        text,
    -- Reports needed before it counts as delivered (an SMS of several parts has one each).
    parts           integer     NOT NULL DEFAULT 1,
    outcome         text,
    detail          text,
    -- Times handed to a provider (a retry after a temporary failure counts again), and of
    -- those, how many ended in doubt: the provider may have it, and it is sent again.
    submits         integer     NOT NULL DEFAULT 0,
    in_doubt        integer     NOT NULL DEFAULT 0,
    -- A keyed hash of the member's number (never the number): finds the delivery a member's
    -- SMS reply answers.
    address_key     bytea,
    claimed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    accepted_at     timestamptz,
    finished_at     timestamptz
);
CREATE INDEX submission_accepted ON submission (provider, accepted_at) WHERE state = 'accepted';
CREATE INDEX submission_unfinished ON submission (claimed_at) WHERE state IN ('claimed', 'submitting');
CREATE INDEX submission_address ON submission (address_key, claimed_at) WHERE address_key IS NOT NULL;

-- The provider's id for what it accepted (one per SMS part), to match its reports.
CREATE TABLE provider_message (
    provider     text NOT NULL,
    message_id   text NOT NULL,
    delivery_id  uuid NOT NULL,
    -- This part's report, once in: a message is delivered when every part is.
    outcome      text,
    detail       text,
    PRIMARY KEY (provider, message_id)
);
CREATE INDEX provider_message_delivery ON provider_message (delivery_id);

-- A report that came before the id it names was recorded (an SMSC may send the receipt
-- before its submit_sm_resp): kept, and matched once the id is known.
CREATE TABLE early_report (
    provider     text        NOT NULL,
    message_id   text        NOT NULL,
    outcome      text,
    detail       text,
    reported_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (provider, message_id)
);

-- Per-provider throughput across every connector replica (shared.rate_limit).
CREATE TABLE provider_rate (
    provider     text PRIMARY KEY,
    per_second   double precision NOT NULL CHECK (per_second > 0),
    burst        double precision NOT NULL CHECK (burst > 0),
    tokens       double precision NOT NULL,
    refilled_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
