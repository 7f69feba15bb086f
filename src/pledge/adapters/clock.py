"""The clocks behind the ``Clock`` port (usecases/ports.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SystemClock:
    """Wall-clock time: when something really happened (audit entries, delivery schedules)."""

    def now_us(self) -> int:
        return time.time_ns() // 1_000


@dataclass(frozen=True, slots=True)
class FixedClock:
    """``--now``: the same instant for the whole command."""

    instant_us: int

    def now_us(self) -> int:
        return self.instant_us
