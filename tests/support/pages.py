"""Every item of a list command's answer, page by page (`--starting-after` the last id seen)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def every_page(list_page: Callable[[list[str]], Any]) -> list[dict[str, Any]]:
    """``list_page(extra_args)`` returns one page (``data``, ``has_more``); all pages' items, in order."""
    found: list[dict[str, Any]] = []
    after: list[str] = []
    while True:
        page = list_page(after)
        found += page["data"]
        if not page["has_more"]:
            return found
        after = ["--starting-after", page["data"][-1]["id"]]
