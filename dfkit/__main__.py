"""``python -m dfkit``: the same as the ``dfkit`` command."""

from __future__ import annotations

import sys

from dfkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
