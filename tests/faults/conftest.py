from tests.e2e.test_dispatch_replicas import replicas

__all__ = ["replicas"]
