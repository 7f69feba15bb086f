"""In-memory adapters: every port without a database, for fast unit tests of the use cases."""

from pledge.adapters.memory.state import MemoryStore
from pledge.adapters.memory.store import MemoryUnitOfWork, memory_uow_factory
from pledge.adapters.memory.tables import IntegrityError

__all__ = ["IntegrityError", "MemoryStore", "MemoryUnitOfWork", "memory_uow_factory"]
