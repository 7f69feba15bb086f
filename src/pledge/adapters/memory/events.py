"""The domain event log of the memory store: what committed units of work recorded (ADR 20)."""

from __future__ import annotations

from collections.abc import Iterable

from pledge.domain.events import DomainEvent


class MemoryEventLog:
    """Events in commit order. A unit of work appends to its copy; ``commit`` publishes the copy,
    so a unit that never committed leaves no event behind, as on SQL."""

    def __init__(self, events: Iterable[DomainEvent] = ()) -> None:
        self._events = list(events)

    def __copy__(self) -> MemoryEventLog:
        return MemoryEventLog(self._events)

    def append(self, events: Iterable[DomainEvent]) -> None:
        self._events.extend(events)

    def entries(self, after: int = 0) -> list[DomainEvent]:
        """The events after the first ``after`` (a reader's cursor: how many it has seen)."""
        return self._events[after:]

    def __len__(self) -> int:
        return len(self._events)
