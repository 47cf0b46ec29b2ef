"""Digest: the weekday daily digest of police news (skeleton: collects publishable news)."""
