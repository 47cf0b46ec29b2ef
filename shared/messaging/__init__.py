"""Messaging on RabbitMQ: the broker, reliable consumption, outbox and inbox."""
