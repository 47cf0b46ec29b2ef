-- Receipts update 100,000 delivery rows per large alert (status, detail, updated_at). Measured
-- with the benchmark's data (100 UPDATEs of 1,000 rows): 1.6 s of PostgreSQL time, none of
-- them HOT, because 008's partial index named `status` in its predicate, and an UPDATE of a
-- column any index mentions (predicates included) must add entries to every index. With the
-- predicate on hold_until alone and half of each page kept free (a row version is ~150 bytes:
-- at 70 % fill only ~40 % of a page's rows found room for their new version), every receipt
-- update is HOT: 0.6-0.7 s for the same work.

-- The sweeper's `hold_until <= now() AND status = 'queued'` still uses it: the index holds
-- only held deliveries, a small share, and the status is checked on the rows it finds.
DROP INDEX delivery_held_idx;
CREATE INDEX delivery_held_idx ON delivery (hold_until) WHERE hold_until IS NOT NULL;

-- Lookups by fan-out use the unique (source_id, member_id, channel) index from 001; this one
-- only cost every COPY an index insert per row.
DROP INDEX delivery_source_idx;

-- New pages only; rows written before this migration keep their pages as they are.
ALTER TABLE delivery SET (fillfactor = 50);
