-- An outbox row may carry message headers and go to an exchange other than its event's
-- visibility (the default exchange, straight into a queue): the dead-letter copy of a failed
-- delivery, written in the transaction that marks it failed, with its reason and history
-- (services/dispatch/handlers.py), instead of being published after the commit and lost with
-- a replica dying in between.
ALTER TABLE outbox ADD COLUMN headers jsonb;
