"""The BIN platform's services, each its own process: ``python -m services.<name>``."""
