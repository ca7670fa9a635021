"""Byte ranges of one result file that tasks can read on their own, and where they may start.

A large file is read by several tasks, one per range ``[start, end)`` of its bytes, only where
a range can start at a record's first byte with certainty; otherwise the file is one range:

- **JSON lines** (uncompressed): anywhere. A range holds the lines that *start* in it, so a
  record is never lost or read twice wherever the cut falls.
- **CSV** (uncompressed UTF-8): a quoted value may hold line breaks (Datafiniti's review texts
  do), so a line break starts a record only outside quotes. :func:`csv_ranges` finds those
  with one sequential scan that counts quotes (numpy, block by block): a line break after an
  even number of quotes is outside them *provided every quote is where RFC 4180 puts one*: an
  opening quote at the start of a field (after ``,``, a line break or the file's start) and a
  closing one before ``,``, a line break, the end, or the other quote of a doubled ``""``. The
  scan checks that of every quote; then its count agrees with the CSV reader's (Arrow's, with
  the same quoting rules) at every byte. A single quote elsewhere (``5" screen`` in an unquoted
  field, a ``\\"`` escape) makes the count meaningless, and the file stays one range: slower,
  never wrong.
- Compressed files and other encodings: one range.
"""

from __future__ import annotations

from typing import IO

import numpy as np

from dfkit.resultfiles import BOM

__all__ = ["SCAN_BYTES", "csv_ranges", "json_ranges"]

#: Bytes read per step of the CSV scan.
SCAN_BYTES = 8 << 20

_QUOTE, _COMMA, _LF, _CR = ord('"'), ord(","), ord("\n"), ord("\r")
#: The bytes that may stand before an opening quote, or after a closing one (with the quote).
_NEIGHBOURS = np.array([_QUOTE, _COMMA, _LF, _CR], dtype=np.uint8)


def _whole(size: int) -> list[tuple[int, int]]:
    return [(0, max(size, 1))]


def json_ranges(size: int, every: int) -> list[tuple[int, int]]:
    """Return ``[start, end)`` ranges of about ``every`` bytes covering ``size`` bytes.

    >>> json_ranges(250, 100)
    [(0, 100), (100, 200), (200, 250)]
    """
    starts = list(range(0, size, every)) or [0]
    return list(zip(starts, [*starts[1:], max(size, 1)], strict=True))


def csv_ranges(f: IO[bytes], size: int, every: int) -> list[tuple[int, int]]:
    """Return ``[start, end)`` ranges of a CSV file, each starting at a record (see above).

    Each range but the last is at least ``every`` bytes; a file whose quotes cannot be trusted
    (or that is no larger than ``every``) is one range. ``f`` is read from its start.

    >>> import io
    >>> body = b'id,text\\n1,"a\\nb"\\n2,c\\n3,d\\n'
    >>> csv_ranges(io.BytesIO(body), len(body), 10)  # not at byte 13: inside the quotes
    [(0, 16), (16, 24)]
    >>> bad = b'id,size\\n1,5" screen\\n2,"x\\ny"\\n3,z\\n'
    >>> csv_ranges(io.BytesIO(bad), len(bad), 10)
    [(0, 32)]
    """
    if size <= every:
        return _whole(size)
    f.seek(0)
    starts = [0]
    target = every
    quotes = 0  # quotes before this block
    before = _LF  # the byte before this block (the file's start counts as a line break)
    base = 0
    pending_close = False  # the previous block ended on a closing quote: check what follows
    while True:
        block = f.read(SCAN_BYTES)
        if not block:
            break
        if base == 0 and block.startswith(BOM):
            block, base = block[3:], 3
        a = np.frombuffer(block, dtype=np.uint8)
        if pending_close and a.size and not np.isin(a[0], _NEIGHBOURS):
            return _whole(size)
        q = np.flatnonzero(a == _QUOTE)
        if q.size:
            opening = (quotes + np.arange(q.size)) % 2 == 0
            prev = np.where(q > 0, a[np.maximum(q - 1, 0)], before)
            if not np.isin(prev[opening], _NEIGHBOURS).all():
                return _whole(size)
            closing = q[~opening]
            inner = closing[closing < a.size - 1]
            if not np.isin(a[inner + 1], _NEIGHBOURS).all():
                return _whole(size)
            pending_close = bool(closing.size) and int(closing[-1]) == a.size - 1
        else:
            pending_close = False
        if base + a.size >= target:
            lf = np.flatnonzero(a == _LF)
            outside = lf[(quotes + np.searchsorted(q, lf)) % 2 == 0] + base + 1
            while True:
                i = int(np.searchsorted(outside, target))
                if i == len(outside) or outside[i] >= size:
                    break
                starts.append(int(outside[i]))
                target = int(outside[i]) + every
        quotes += int(q.size)
        before = int(a[-1]) if a.size else before
        base += a.size
    # A closing quote at the very end is fine; an odd count means an unclosed quote: the file
    # is one range, and the reader reports the quote that never closes (and the line it opens).
    if quotes % 2:
        return _whole(size)
    ends = [*starts[1:], size]
    return list(zip(starts, ends, strict=True))
