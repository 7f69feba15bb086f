"""A request rate as people write it (``20/s``, ``120/min``, ``1000/h``), with its burst.

The API's limits per key and per account (ADR 6, 30) and the payout rails' request rate (ADR 32)
are written the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pledge.domain.errors import InputError, quoted

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int

    @classmethod
    def parse(cls, text: str, param: str) -> Rate:
        """``20/s``, ``120/min``, ``1000/h``; the burst is two seconds' worth (at least one request)."""
        match = _RATE.match(text)
        count = float(match.group(1)) if match else 0.0
        if match is None or not 0 < count <= 1_000_000:
            raise InputError(
                f"{param}: write a rate like 20/s, 120/min or 1000/h (at most 1000000 per unit), "
                f"not {quoted(text)}",
                code="invalid_rate",
                param=param,
            )
        per_second = count / _PER[match.group(2)]
        return cls(per_second=per_second, burst=max(1, math.ceil(2 * per_second)))
