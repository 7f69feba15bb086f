"""Near misses: the one definition of who was *almost* granted, and in which order they are listed.

A campaign tests each purchase against its window (test 0) and each condition of its rule (tests
1…n). A near miss fails exactly one of them. The list shows the closest first: how far outside
the window the purchase was made (0 for a purchase inside it, which then failed one condition),
then purchase time, then purchase id.

The in-memory store applies this definition row by row (the reference). The SQL store reads the
same list through the time index in growing slices and folds its counts from grouped failure
masks; ``tests/integration/test_scan_agreement.py`` holds the two equal, with windows that make
each path of the SQL reader run.
"""

from __future__ import annotations

from collections.abc import Iterable

WINDOW_TEST = 0  # the index of the window among a selection's tests


def only_failure(failed: Iterable[int]) -> int | None:
    """The index of the one failed test, or None when none failed or more than one did."""
    found: int | None = None
    for index in failed:
        if found is not None:
            return None
        found = index
    return found


def outside_us(start_us: int, end_us: int, at_us: int) -> int:
    """How far outside the window ``[start_us, end_us)`` an instant is; 0 inside it."""
    if at_us < start_us:
        return start_us - at_us
    if at_us >= end_us:
        return at_us - end_us + 1
    return 0


def listing_key(start_us: int, end_us: int, at_us: int, purchase_id: str) -> tuple[int, int, str]:
    """The order near misses are listed in: nearest the window first, then by time and id."""
    return outside_us(start_us, end_us, at_us), at_us, purchase_id
