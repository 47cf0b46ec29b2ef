from tests.e2e.replicas import replicas

__all__ = ["replicas"]
