"""Small wording helpers shared by the modules that write messages (one way to say "1 row")."""

from __future__ import annotations

__all__ = ["count"]


def count(n: int, noun: str) -> str:
    """Return ``n`` with ``noun``, singular for one and plural otherwise, thousands separated.

    >>> count(1, "row"), count(0, "download"), count(1200, "bad value")
    ('1 row', '0 downloads', '1,200 bad values')
    """
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
