-- The sweeper looks for stuck deliveries every minute in every replica. Its queries named
-- only `status` and `updated_at`, which no index may hold (010: the receipts' updates must
-- stay HOT), so each sweep read the whole delivery table: a year of deliveries, every
-- minute. Now it reads only deliveries whose life began within its horizon: created then
-- (this index), or released from a hold then (delivery_held_idx). Both columns are written
-- once, at insert, so neither index costs a receipt's update its HOT path; a BRIN summary
-- costs a COPY next to nothing, and deliveries are written in created_at order.
CREATE INDEX delivery_created_brin ON delivery USING brin (created_at);
