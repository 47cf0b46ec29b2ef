"""Dispatch: fans alerts, notices and digests out to the channel gateways, in batches."""
