-- The channels a member accepts (the registry's channel preferences); empty: the BIN's plan.
ALTER TABLE recipient ADD COLUMN channels text[] NOT NULL DEFAULT '{}';
