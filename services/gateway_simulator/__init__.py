"""A stand-in for the external SMS, voice, e-mail and push gateways.

Consumes dispatch's work for every channel and answers with receipts, with configurable
latency and failure rates: what ``make run``, the tests and the benchmarks send to.
"""
