-- Intake's caller buckets moved to the request_rate table every service with an HTTP API has
-- (shared migration 005). Buckets are only rates: dropping them lets every caller start full.
DROP TABLE caller_rate;
