-- A member suspended under the house rules receives nothing until this moment.
ALTER TABLE recipient ADD COLUMN suspended_until timestamptz;
