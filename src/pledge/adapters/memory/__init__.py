"""In-memory adapters: every port without a database, for fast unit tests of the use cases."""

from pledge.adapters.memory.store import IntegrityError, MemoryStore, MemoryUnitOfWork, memory_uow_factory

__all__ = ["IntegrityError", "MemoryStore", "MemoryUnitOfWork", "memory_uow_factory"]
