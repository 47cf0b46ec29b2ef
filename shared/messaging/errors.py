"""What can go wrong while consuming, as types: the type decides retry or dead letter."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (the message is wrong for this consumer): dead-letter at once."""


class MalformedMessage(PermanentError):
    """The body is not a valid event for this queue: bad JSON, wrong schema, unknown type."""


class MessageTooLarge(PermanentError):
    pass
