-- The inbox is pruned by age (shared/messaging/inbox.py): a BRIN index finds the old claims
-- without a scan of the whole table, and costs a claim next to nothing (claims are written in
-- time order, so a block range summary rarely changes).
CREATE INDEX inbox_received_brin ON inbox USING brin (received_at);
