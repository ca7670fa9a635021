"""Progress bars: whether to show them, and the bar ``Client.wait`` keeps while it polls."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from dfkit.redaction import printable

__all__ = ["WaitBar", "interactive"]


def interactive() -> bool:
    """Return True when stderr is a terminal or the code runs in a Jupyter kernel.

    >>> interactive()  # under doctest, stderr is not a terminal
    False
    """
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # replaced or closed stderr
        pass
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class WaitBar:
    """Return a bar of a download's records done out of ``num_records``, with its status.

    Made at the first poll, starting from the records already done then, so its rate counts
    only what happened while waiting (no meaningless first rate). ``show=False`` draws nothing.
    """

    def __init__(self, label: str, *, show: bool) -> None:
        self.label = label
        self.show = show
        self._bar: Any = None

    def update(self, download: Mapping[str, Any], status: str) -> None:
        """Show the download's ``num_downloaded`` / ``num_records`` and ``status``."""
        if not self.show:
            return
        total = _count(download.get("num_records")) or None
        done = _count(download.get("num_downloaded"))
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                initial=done or 0,
                desc=printable(self.label),
                unit=" records",
                postfix=printable(status),
                leave=True,
            )
        bar = self._bar
        if total is not None and bar.total != total:
            bar.total = total
        if done is not None:
            bar.n = done
        bar.set_postfix_str(printable(status), refresh=False)
        bar.refresh()

    def close(self) -> None:
        """Close the bar (if one was drawn)."""
        if self._bar is not None:
            self._bar.close()
