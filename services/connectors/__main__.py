"""``python -m services.connectors [serve|migrate]``."""

from services.connectors.main import run

run()
