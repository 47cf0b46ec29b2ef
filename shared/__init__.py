"""The BIN platform's shared package: events, topology, settings, logging, metrics, messaging."""
