"""The channel connectors: where a delivery becomes a real SMS or e-mail.

Consumes dispatch's work from the ``bin.gateway.<channel>.<priority>`` queues, hands each
delivery to a provider of its channel (Kannel, an SMPP SMSC, an SMTP server) at most once,
and answers with ``delivery.receipted.v1`` as the gateway contract says.
"""
