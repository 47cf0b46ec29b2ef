-- A large fan-out shared by replicas (BIN_FANOUT_SLICES > 1): one row per slice of its
-- members, cut by a stable hash of the member id, so a member of two targeted BINs always
-- falls in the same slice and is reached once. The fan-out becomes dispatched when the last
-- slice is done, in the same transaction. A fan-out without rows here was not sliced.
CREATE TABLE fanout_slice (
    source_id  uuid NOT NULL REFERENCES fanout (source_id),
    slice      integer NOT NULL CHECK (slice >= 0),
    slices     integer NOT NULL CHECK (slices > 1 AND slice < slices),
    done_at    timestamptz,
    PRIMARY KEY (source_id, slice)
);
