"""``downloads_frame``: the downloads list as a typed DataFrame, one row per download or per file.

Reading is one typed decode. JSON bytes and files are decoded by msgspec straight into small
structs whose fields are the API's source fields, as :mod:`dfkit.schema` names them: no dict
is made per download, and a field no column reads is skipped. The structs are transposed into
one sequence per field in one C pass, and each column converted with one vectorised
pandas/Arrow call; as the typed decode gives JSON scalars only, Arrow's conversion checks a
column's types as it goes (a list of dicts, already parsed, gets a whole-column type test
first). A large input is decoded and converted a chunk of records at a time
(``CHUNK_RECORDS``), and the chunks' columns joined: only one chunk's Python objects exist at
once, which keeps peak memory near the frame's own size and each pass in the CPU's caches.

The typed decode lets through every value some rule may accept (any JSON scalar); the
converters decide. When it refuses a chunk (a value that is an object or array where a scalar
belongs, a record that is not an object), that chunk is decoded again ``RETRY_RECORDS`` at a
time, and each piece refused again is parsed (untyped, integers exact) into plain Python
objects; the same converters run on those, inspecting each value of a column whose fast check
fails and collecting every problem with its record index in the whole input. So a bad value
costs a second parse of the records around it, a good input never does, and every bad value
is reported, in the same order and words however the input is chunked. An input that is not
JSON, or not a list of downloads, is parsed whole to say so.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import msgspec
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dfkit._words import count
from dfkit.errors import (
    ArgumentError,
    DfkitWarning,
    InputIsDirectoryError,
    InputNotFoundError,
    SchemaError,
)
from dfkit.schema import (
    COLUMNS,
    STATUSES,
    STRING,
    TIMESTAMP,
    Column,
    Per,
    category_dtype,
    column,
    columns,
    dtype,
)
from dfkit.vocabulary import STATUS_ALIASES

if TYPE_CHECKING:
    from dfkit.client import Client

__all__ = ["DownloadsFrames", "downloads_frame", "downloads_frames"]

_INT64_MAX = 2**63 - 1
_INT_STRING = re.compile(r"[+-]?\d+")
_NO_RESULT = (None,)
_NO_RESULTS: list[Any] = []  # shared, never changed
#: Bad values listed in a SchemaError's message (all of them are in ``.problems``).
MAX_LISTED = 20

#: The source fields of the id and of the result links, as the schema names them.
_ID, _ALT_ID = column("id").source
_RESULTS = column("url").source[0]

#: The source field(s) of a column's values: one name for all, or one per record.
Fields = str | Sequence[str]
#: Values of one source field for every record; None when no record has the field at all.
Getter = Callable[[str], "list[Any] | None"]


class _Problems:
    """Collects bad values as (record index, field, value, reason)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int | None, str, Any, str]] = []
        self.skip: set[int] = set()  # records that are not dicts: their fields are not checked
        #: The index of the first record of the chunk being read (its indexes are relative).
        self.offset = 0

    def add(self, index: int | None, field: str, value: Any, reason: str) -> None:
        if index is None:
            self.rows.append((index, field, value, reason))
        elif index + self.offset not in self.skip:
            self.rows.append((index + self.offset, field, value, reason))

    def raise_if_any(self) -> None:
        """Raise a SchemaError whose first line is the first bad value, then the list of them."""
        if not self.rows:
            return
        # By record, then in column order: the order a user reads the input in.
        self.rows.sort(key=lambda row: -1 if row[0] is None else row[0])
        lines = [_describe(*row) for row in self.rows[:MAX_LISTED]]
        first = lines[0]
        if len(self.rows) > 1:
            first += f" (and {count(len(self.rows) - 1, 'more bad value')})"
            if len(self.rows) > MAX_LISTED:
                lines.append(f"... and {len(self.rows) - MAX_LISTED:,} more (see .problems)")
            first += ":\n  " + "\n  ".join(lines)
        problems = pd.DataFrame(
            {
                "index": pd.array([r[0] for r in self.rows], dtype="Int64"),
                "field": pd.array([r[1] for r in self.rows], dtype=dtype("id")),
                "value": pd.Series([r[2] for r in self.rows], dtype="object"),
                "reason": pd.array([r[3] for r in self.rows], dtype=dtype("id")),
            }
        )
        raise SchemaError(first, problems)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(index: int | None, field: str, value: Any, reason: str) -> str:
    """``records[3].num_records: expected an integer, got 'abc'``: where, what, the value."""
    if index is None:  # the input as a whole: ``value`` describes what was found
        return f"data: {reason}, got {value}"
    where = f"records[{index}]"
    if field:
        where += f".{field}" if not field.startswith("[") else field
    return f"{where}: {reason}, got {_short(value)}"


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", bool: "boolean", str: "string"}.get(
        type(value), type(value).__name__
    )


# ---------------------------------------------------------------------------- input


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made.

    Decoding and building allocate containers that never form cycles; with the collector on,
    every few thousand allocations trigger a scan of all of them, which costs more than the
    decode itself on large inputs. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: What the typed decode lets through for a scalar field: every JSON scalar, so that lenient
#: values (``"42"``, ``42.0``, integer ids) decode fast; the column converters decide.
_SCALAR = str | int | float | None | msgspec.UnsetType


def _attr(key: str) -> str:
    """The struct attribute for source field ``key`` (``_id`` is not a usable attribute)."""
    return key if key.isidentifier() and not key.startswith("_") else f"f{key}"


#: Every source field some column reads, in schema order.
_SOURCES: tuple[str, ...] = tuple(dict.fromkeys(key for c in COLUMNS for key in c.source))
#: The source fields whose absence differs from null: an optional column exists only when some
#: record carries one of its fields. The others decode to None when absent.
_PRESENCE: frozenset[str] = frozenset(key for c in COLUMNS if c.optional for key in c.source)


@cache
def _download() -> type[msgspec.Struct]:
    """Return the struct of one download: the source fields some column reads, typed loosely.

    Each result is left undecoded (``msgspec.Raw``: a view of the input, no copy): a frame of
    one row per download needs only how many there are, and the links are cut from the
    input's bytes in one go by :func:`_raw_urls`.
    """
    fields = [
        (_attr(key), list[msgspec.Raw] | None if key == _RESULTS else _SCALAR,
         msgspec.UNSET if key in _PRESENCE else None)
        for key in _SOURCES
    ]  # fmt: skip
    rename = {_attr(key): key for key in _SOURCES if _attr(key) != key}
    return msgspec.defstruct("Download", fields, rename=rename, gc=False)


@cache
def _decoder() -> msgspec.json.Decoder[Any]:
    """Return the typed decoder of a downloads list (bare or under ``records``)."""
    download = _download()
    wrapper = msgspec.defstruct("Records", [("records", list[download])])  # type: ignore[valid-type]
    return msgspec.json.Decoder(list[download] | wrapper)  # type: ignore[valid-type]


@cache
def _record_decoder() -> msgspec.json.Decoder[Any]:
    """Return the typed decoder of one download."""
    return msgspec.json.Decoder(_download())


@cache
def _splitter() -> msgspec.json.Decoder[Any]:
    """Return the decoder that finds each record of a downloads list, leaving it undecoded."""
    wrapper = msgspec.defstruct("RawRecords", [("records", list[msgspec.Raw])])
    return msgspec.json.Decoder(list[msgspec.Raw] | wrapper)


def _struct_getter(structs: list[Any]) -> Getter:
    # One transposition in C (a tuple per struct, then one per field) costs less than one
    # attribute pass per field.
    fields = list(zip(*map(msgspec.structs.astuple, structs), strict=True))
    position = {key: k for k, key in enumerate(_SOURCES)}

    def get(key: str) -> list[Any] | None:
        values = list(fields[position[key]]) if fields else []
        if key not in _PRESENCE:
            return values
        unset = values.count(msgspec.UNSET)
        if unset == len(values):
            return None
        if unset:
            values = [None if v is msgspec.UNSET else v for v in values]
        return values

    return get


def _dict_getter(records: list[dict[str, Any]]) -> Getter:
    def get(key: str) -> list[Any] | None:
        values = [r.get(key) for r in records]
        if values.count(None) == len(values) and not any(key in r for r in records):
            return None
        return values

    return get


def _parse_json(raw: bytes | bytearray | memoryview, where: str) -> Any:
    """Return JSON ``raw`` as Python objects, integers of any size exact (as the typed decode).

    msgspec, not orjson, which turns an integer beyond 64 bits into a float: a valid id would
    become a bad value whenever another record sends the input through this pass.
    """
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        error = str(exc)
    try:  # orjson's message says the line and column
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        error = str(exc)
    raise SchemaError(f"cannot parse {where} as JSON: {error}")


def _check_utf8(raw: bytes | bytearray | memoryview, problems: _Problems) -> None:
    """Raise a SchemaError naming each string of JSON ``raw`` that is not valid UTF-8."""
    data = raw if isinstance(raw, bytes) else bytes(raw)
    if data.isascii():
        return
    try:
        data.decode()
    except UnicodeDecodeError as exc:
        found = _bad_utf8(data.decode(errors="surrogateescape"), problems)
        if not found:  # outside the records, or not JSON text either: the byte offset
            problems.add(
                None, "", repr(data[exc.start : exc.end]), f"invalid UTF-8 at byte {exc.start:,}"
            )
        problems.raise_if_any()


def _bad_utf8(text: str, problems: _Problems) -> bool:
    """Add a problem for each record string of ``text`` holding undecodable bytes; any found?"""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if not isinstance(data, list):
        return False
    found = False

    def walk(i: int, field: str, value: Any) -> None:
        nonlocal found
        if isinstance(value, str) and not _encodes(value):
            problems.add(i, field, value.encode(errors="surrogateescape"), "invalid UTF-8")
            found = True
        elif isinstance(value, list):
            for k, v in enumerate(value):
                walk(i, f"{field}[{k}]", v)
        elif isinstance(value, dict):
            for key, v in value.items():
                if not _encodes(key):
                    raw_key = key.encode(errors="surrogateescape")
                    key = repr(raw_key)
                    problems.add(i, f"{field}.{key}" if field else key, raw_key, "invalid UTF-8")
                    found = True
                walk(i, f"{field}.{key}" if field else key, v)

    for i, record in enumerate(data):
        walk(i, "", record)
    return found


def _encodes(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate standing for an undecodable byte)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_INVALID_UNICODE = "invalid Unicode"


def _valid_unicode(data: Any, problems: _Problems) -> Any:
    """Return parsed ``data`` with each string that is not valid Unicode made None, reported.

    Only a list already parsed can hold one (``json.loads`` keeps a lone ``\\ud800``; the
    JSON decoders refuse it). ``data`` itself is not changed.
    """

    def clean(i: int, field: str, value: Any) -> Any:
        if isinstance(value, str):
            if _encodes(value):
                return value
            problems.add(i, field, value, _INVALID_UNICODE)
            return None
        if isinstance(value, list):
            return [clean(i, f"{field}[{k}]", v) for k, v in enumerate(value)]
        if isinstance(value, dict):
            out = {}
            for key, v in value.items():
                where = f"{field}.{key}" if field else key
                if isinstance(key, str) and not _encodes(key):
                    problems.add(i, where, key, _INVALID_UNICODE)
                out[key] = clean(i, where, v)
            return out
        return value

    if isinstance(data, dict) and isinstance(data.get("records"), list):
        return {**data, "records": _valid_unicode(data["records"], problems)}
    if not isinstance(data, list):
        return data
    return [clean(i, "", r) for i, r in enumerate(data)]


def _unicode_first(rows: list[tuple[int | None, str, Any, str]]) -> list[Any]:
    """Return ``rows`` less what a string made None by :func:`_valid_unicode` caused again."""
    bad: dict[int | None, list[str]] = {}
    for r in rows:
        if r[3] == _INVALID_UNICODE:
            bad.setdefault(r[0], []).append(r[1])

    def caused(index: int | None, field: str) -> bool:  # the field or one holding it
        return any(f == field or f.startswith((f"{field}.", f"{field}[")) for f in bad[index])

    return [r for r in rows if r[3] == _INVALID_UNICODE or r[0] not in bad or not caused(*r[:2])]


#: Inputs larger than this are decoded a chunk of records at a time.
CHUNK_BYTES = 16 * 2**20
#: Records per chunk: the Python objects of one chunk are freed once its columns are built,
#: so a large input's peak memory is its columns plus one chunk, not one object per value.
CHUNK_RECORDS = 10_000
#: Records per piece when a chunk the typed decode refuses is decoded again: only the pieces
#: refused again go through the problem-collecting pass.
RETRY_RECORDS = 1_000


def _typed(piece: bytes | bytearray | memoryview) -> tuple[Getter, int, bool] | None:
    """Return the getter, record count and ``True`` (see _decode); None if the decode refuses."""
    try:
        top = _decoder().decode(piece)
    # msgspec before 0.19 raises UnicodeDecodeError for invalid UTF-8 in a string
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    structs: list[Any] = top if isinstance(top, list) else top.records
    return _struct_getter(structs), len(structs), True


def _split(raw: bytes | bytearray | memoryview) -> list[msgspec.Raw] | None:
    """Return each record of a downloads list, undecoded; None if ``raw`` is not one."""
    try:
        top = _splitter().decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return cast(list[msgspec.Raw], top if isinstance(top, list) else top.records)


def _decode(
    raw: bytes | bytearray | memoryview, where: str, problems: _Problems
) -> Iterator[tuple[Getter, int, bool]]:
    """Yield the field getter and record count of each chunk of JSON ``raw``, in order.

    With each, whether every value is a JSON scalar (str, int, float or None: the typed
    decode's), or anything a parse gives.

    A small input is one chunk; a larger one is split at its records (each found, not
    decoded, by one quick pass) into chunks of CHUNK_RECORDS, each decoded record by record.
    A chunk the typed decode refuses is decoded again RETRY_RECORDS at a time, and only the
    pieces refused again are parsed into Python objects for the problem-collecting pass: a
    bad value costs time only around it. The caller adds each chunk's record count to
    ``problems.offset`` before asking for the next one.
    """
    # The typed decode checks the UTF-8 of the strings it decodes, not of the results it keeps
    # undecoded (msgspec.Raw) nor of the fields it skips: check the whole input once.
    _check_utf8(raw, problems)
    if len(raw) <= CHUNK_BYTES:
        whole = _typed(raw)
        if whole is not None:
            yield whole
            return
    records = _split(raw)
    if records is None:  # not a list of downloads, or not JSON: the parse says which
        yield *_records(_parse_json(raw, where), problems), False
        return
    small = len(raw) <= CHUNK_BYTES  # and refused
    if small and len(records) <= RETRY_RECORDS:  # one piece, refused
        yield *_records(_parse_piece(records, raw, where), problems), False
        return
    yield from _chunks(records, RETRY_RECORDS if small else CHUNK_RECORDS, raw, where, problems)


def _chunks(
    records: list[msgspec.Raw],
    size: int,
    raw: bytes | bytearray | memoryview,
    where: str,
    problems: _Problems,
) -> Iterator[tuple[Getter, int, bool]]:
    """Yield the getter and count of ``records`` decoded ``size`` at a time (see _decode)."""
    for start in range(0, max(len(records), 1), size):
        chunk = records[start : start + size]
        try:  # record by record: no copy of the chunk's bytes to decode it as one array
            structs = list(map(_record_decoder().decode, chunk))
        # msgspec before 0.19 raises UnicodeDecodeError for invalid UTF-8 in a string
        except (msgspec.DecodeError, UnicodeDecodeError):
            if len(chunk) > RETRY_RECORDS:
                yield from _chunks(chunk, RETRY_RECORDS, raw, where, problems)
            else:
                yield *_records(_parse_piece(chunk, raw, where), problems), False
        else:
            yield _struct_getter(structs), len(structs), True


def _parse_piece(
    records: list[msgspec.Raw], raw: bytes | bytearray | memoryview, where: str
) -> list[Any]:
    """Return ``records`` (of JSON ``raw``) parsed, or raise the error a parse of ``raw`` does.

    The split checked the syntax, not every number: ``1e400`` is out of range. In a field no
    column reads it is skipped, as the typed decode skips it, so that the record's dict holds
    the fields that decode read; anywhere else the error names its place in the whole input,
    as a parse of the whole does. Either way the outcome is the same however it is chunked.
    """
    try:
        return cast(list[Any], _parse_json(b"[" + b",".join(records) + b"]", where))
    except SchemaError as exc:
        error = exc
    parsed = []
    for record in records:
        try:
            parsed.append(msgspec.json.decode(record))
        except msgspec.DecodeError:
            try:
                struct = _record_decoder().decode(record)
            except msgspec.DecodeError:
                raise _number_error(raw, record, where) or error from None
            values = zip(_SOURCES, msgspec.structs.astuple(struct), strict=True)
            found = {key: v for key, v in values if v is not msgspec.UNSET}
            if isinstance(found.get(_RESULTS), list):
                found[_RESULTS] = list(map(_result, found[_RESULTS]))
            parsed.append(found)
    return parsed


def _number_error(
    raw: bytes | bytearray | memoryview, record: msgspec.Raw, where: str
) -> SchemaError | None:
    """Return the parse error of ``record``, a record of ``raw`` (whose syntax the split
    checked) that a number out of range in a field some column reads makes unparsable, with
    its line, column and character in the whole of ``raw``; None if that place is not known.

    A parse of the whole input would name the first number out of range in it, which may be
    one in a field no column reads, accepted.
    """
    text = bytes(record)
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        whole = np.frombuffer(raw, dtype=np.uint8)
        start = np.frombuffer(record, dtype=np.uint8).ctypes.data - whole.ctypes.data
        if not 0 <= start <= len(whole) - len(record):  # not a view of ``raw``
            return None
        at = start + len(text.decode()[: exc.pos].encode())  # valid UTF-8: checked before

        def chars(begin: int, end: int) -> int:  # UTF-8 continuation bytes start no character
            return end - begin - int(np.count_nonzero((whole[begin:end] & 0xC0) == 0x80))

        newlines = np.flatnonzero(whole[:at] == ord("\n"))
        line_start = int(newlines[-1]) + 1 if len(newlines) else 0
        return SchemaError(
            f"cannot parse {where} as JSON: {exc.msg}: line {len(newlines) + 1} column "
            f"{chars(line_start, at) + 1} (char {chars(0, at)})"
        )
    return None


def _records(data: Any, problems: _Problems) -> tuple[Getter, int]:
    """Return the field getter and record count of parsed ``data`` (a list or a wrapper)."""
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if not isinstance(data, list):
        if isinstance(data, dict):
            found = f"an object with keys {sorted(data)[:8]}"
            if "records" in data:
                found = f"an object whose 'records' is {_type_name(data['records'])}"
        else:
            found = _type_name(data)
        problems.add(
            None, "", found, "expected a list of downloads or an object with a 'records' list"
        )
        problems.raise_if_any()
    records = cast(list[Any], data)
    if not _types(records) <= {dict}:
        for i, r in enumerate(records):
            if type(r) is not dict:
                problems.add(i, "", r, "expected a download object")
                problems.skip.add(i + problems.offset)
        records = [r if type(r) is dict else {} for r in records]
    return _dict_getter(records), len(records)


def _raw_input(data: Any) -> tuple[bytes | bytearray | memoryview, str] | None:
    """Return the JSON bytes of ``data`` and where they come from; None for parsed data."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return data, "the bytes given"
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if isinstance(data, str) and data.lstrip()[:1] in ("[", "{") and not os.path.exists(path):
            raise SchemaError(
                f"data is a string that looks like JSON text, not a file name: {_short(data)}; "
                "pass JSON text as bytes (text.encode()) or parsed (json.loads(text))"
            )
        try:
            with open(path, "rb") as fh:  # the very file named: no glob, no pattern
                return fh.read(), path
        except FileNotFoundError:
            raise InputNotFoundError(path) from None
        except IsADirectoryError:
            raise InputIsDirectoryError(path) from None
    return None


# ---------------------------------------------------------------------------- fields


def _coalesce(
    get: Getter, primary: str, fallback: str, n: int, *, optional: bool
) -> tuple[list[Any], Fields] | None:
    """Values of ``primary``, with ``fallback`` where primary is missing or null.

    Returns the values and the field each came from (for error messages); None when
    ``optional`` and no record carries either key.
    """
    first, second = get(primary), get(fallback)
    if first is None and second is None:
        return None if optional else ([None] * n, primary)
    if second is None:
        return cast(list[Any], first), primary
    if first is None:
        return second, fallback
    nulls = first.count(None)
    if nulls == 0:
        return first, primary
    if nulls == n:
        return second, fallback
    merged = [a if a is not None else b for a, b in zip(first, second, strict=True)]
    return merged, [primary if a is not None else fallback for a in first]


def _at(fields: Fields, i: int) -> str:
    return fields if isinstance(fields, str) else fields[i]


def _types(values: list[Any]) -> set[type]:
    return set(map(type, values))


# ---------------------------------------------------------------------------- converters


def _ids(
    get: Getter, n: int, problems: _Problems, scalars: bool
) -> pd.api.extensions.ExtensionArray:
    values = get(_ID) or [None] * n
    if scalars:  # Arrow refuses a number; a null or an empty id means the fallback
        with contextlib.suppress(pa.ArrowTypeError):
            ids = pa.array(values, type=pa.large_string())
            if not ids.null_count and not pc.any(pc.equal(ids, "")).as_py():
                return pd.arrays.ArrowStringArray(ids)
    if _types(values) - {str} or "" in values:
        alts = get(_ALT_ID) or [None] * n
        pairs = enumerate(zip(values, alts, strict=True))
        values = [_id(v, alt, i, problems) for i, (v, alt) in pairs]
    return _strings(values)


def _id(value: Any, alt: Any, i: int, problems: _Problems) -> str | None:
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    if value is None or value == "":
        if type(alt) is str and alt:
            return alt
        if type(alt) is int:
            return str(alt)
        if alt is None or alt == "":
            problems.add(i, _ID, value, f"expected an id (or an {_ALT_ID})")
        else:
            problems.add(i, _ALT_ID, alt, "expected a string or integer id")
        return None
    problems.add(i, _ID, value, "expected a string or integer id")
    return None


def _long(values: list[Any]) -> bool:
    """Whether the strings in ``values`` look long (URL-like: 64 characters or more)."""
    sample = [v for v in values[:100] if v is not None]
    return bool(sample) and sum(map(len, sample)) >= 64 * len(sample)


def _large_strings(
    sizes: np.ndarray[Any, np.dtype[np.int64]],
    data: Any,
    valid: np.ndarray[Any, np.dtype[np.bool_]] | None = None,
) -> pa.LargeStringArray:
    """Return strings of ``sizes`` bytes each, one after another in ``data`` (a buffer), as an
    Arrow array around ``data`` itself (no copy); missing where ``valid`` is False (size 0)."""
    n = len(sizes)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    nulls, bitmap = 0, None
    if valid is not None and (nulls := n - int(np.count_nonzero(valid))):
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, nulls
    )


def _strings(values: list[Any]) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` (str or None) as an Arrow-backed pandas string array.

    Long ASCII columns (signed URLs from parsed input) are joined and encoded in one go and
    handed to Arrow as ready-made buffers: ``pa.array`` over a list grows its buffers step by
    step, which on millions of long URLs costs several times more than the whole copy. Short
    strings (ids, queries) and short columns go straight to ``pa.array``, which is quicker.
    """
    n = len(values)
    if n < 20_000 or not _long(values):
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    nulls = values.count(None)
    filled = [v if v is not None else "" for v in values] if nulls else values
    text = "".join(filled)
    if not text.isascii():
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    sizes = np.fromiter(map(len, filled), dtype=np.int64, count=n)
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=n) if nulls else None
    return pd.arrays.ArrowStringArray(_large_strings(sizes, text.encode("ascii"), valid))


def _text(
    values: list[Any], fields: Fields, problems: _Problems, *, ints_ok: bool, scalars: bool
) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` as strings (integers too if ``ints_ok``); anything else is a problem."""
    if scalars:  # Arrow refuses anything but str and None (and bytes, which JSON has not)
        with contextlib.suppress(pa.ArrowTypeError):
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    allowed = {str, type(None), int} if ints_ok else {str, type(None)}
    kinds = _types(values)
    if kinds <= allowed:
        return _strings(
            [str(v) if type(v) is int else v for v in values] if int in kinds else values
        )
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is None or type(v) is str:
            out.append(v)
        elif ints_ok and type(v) is int:
            out.append(str(v))
        else:
            kind = "a string or integer" if ints_ok else "a string"
            problems.add(i, _at(fields, i), v, f"expected {kind}")
            out.append(None)
    return _strings(out)


def _label(raw: str, aliases: Mapping[str, str] | None) -> str | None:
    """The category a raw label means: trimmed, lower-cased, aliases applied; '' is missing."""
    norm = raw.strip().lower()
    if not norm:
        return None
    return aliases.get(norm, norm) if aliases else norm


#: Category codes: as wide as the number of categories needs (int16 up to 32,767 of them).
_Codes = np.ndarray[Any, np.dtype[np.signedinteger[Any]]]


def _code_type(n: int) -> type[np.signedinteger[Any]]:
    """The narrowest code type (int16 at least) that numbers ``n`` categories and -1."""
    return np.int16 if n <= np.iinfo(np.int16).max else np.int32


def _category_codes(
    labels: Sequence[str | None], name: str
) -> tuple[pd.CategoricalDtype, _Codes, list[str]]:
    """Return the dtype for ``labels`` (unknown ones appended), each label's code, the unknowns."""
    known = column(name).known_categories
    unknown = sorted({lab for lab in labels if lab is not None and lab not in known})
    cat_dtype = category_dtype(name, unknown) if unknown else dtype(name)
    position = {c: k for k, c in enumerate([*known, *unknown])}
    codes = np.array(
        [-1 if lab is None else position[lab] for lab in labels],
        dtype=_code_type(len(position)),
    )
    return cat_dtype, codes, unknown


def _categorical(
    codes: _Codes, cat_dtype: pd.CategoricalDtype, unknown: list[str]
) -> tuple[pd.Categorical, dict[str, int]]:
    counts: dict[str, int] = {}
    if unknown:
        tally = np.bincount(codes[codes >= 0], minlength=len(cat_dtype.categories))
        first = len(cat_dtype.categories) - len(unknown)
        counts = {lab: int(tally[first + k]) for k, lab in enumerate(unknown)}
    return pd.Categorical.from_codes(codes, dtype=cat_dtype, validate=False), counts


def _categories(
    values: list[Any],
    name: str,
    fields: Fields,
    problems: _Problems,
    aliases: Mapping[str, str] | None = None,
) -> tuple[pd.Categorical, dict[str, int]]:
    """Normalise labels (trim, lower-case, aliases) and code them; unknown ones appended.

    Returns the categorical and the number of downloads for each unknown label.
    """
    try:  # all strings (or missing): Arrow finds the distinct labels and codes them
        encoded = pa.array(values, type=pa.dictionary(pa.int32(), pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    else:
        distinct = encoded.dictionary.to_pylist()
        cat_dtype, label_codes, unknown = _category_codes(
            [_label(raw, aliases) for raw in distinct], name
        )
        lookup = np.append(label_codes, label_codes.dtype.type(-1))  # missing: index -1 -> -1
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return _categorical(lookup[indices], cat_dtype, unknown)
    try:
        uniques = list(set(values))
    except TypeError:  # a list or object among the labels: replace the unhashable ones
        values = [
            v if isinstance(v, (str, int, float, type(None))) else _Unhashable(v) for v in values
        ]
        uniques = list(set(values))
    bad = {raw for raw in uniques if raw is not None and type(raw) is not str}
    if bad:
        for i, v in enumerate(values):
            if v in bad:
                shown = v.value if isinstance(v, _Unhashable) else v
                problems.add(i, _at(fields, i), shown, "expected a string")
    labels = [_label(raw, aliases) if type(raw) is str else None for raw in uniques]
    cat_dtype, label_codes, unknown = _category_codes(labels, name)
    code = dict(zip(uniques, label_codes.tolist(), strict=True))
    codes = np.fromiter(map(code.__getitem__, values), dtype=label_codes.dtype, count=len(values))
    return _categorical(codes, cat_dtype, unknown)


class _Unhashable:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _int_value(v: Any) -> int:
    """Return ``v`` as a non-negative int64, or raise ValueError with the reason."""
    if type(v) is bool:
        raise ValueError("expected an integer")
    if type(v) is int:
        n = v
    elif type(v) is float:
        if not math.isfinite(v) or not v.is_integer():
            raise ValueError("expected a whole number")
        n = int(v)
    elif type(v) is str:
        text = v.strip()
        if not _INT_STRING.fullmatch(text):
            raise ValueError("expected an integer")
        n = int(text)
    else:
        raise ValueError("expected an integer")
    if n < 0:
        raise ValueError("expected a non-negative integer")
    if n > _INT64_MAX:
        raise ValueError("expected an integer below 2**63 (64-bit)")
    return n


def _integers(values: list[Any], fields: Fields, problems: _Problems) -> pd.arrays.IntegerArray:
    n = len(values)
    kinds = _types(values)
    if kinds <= {int}:
        try:
            data = np.fromiter(values, dtype=np.int64, count=n)
        except OverflowError:
            pass
        else:
            if not (data < 0).any():
                return pd.arrays.IntegerArray(data, np.zeros(n, dtype=bool))
    data = np.zeros(n, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            data[i] = _int_value(v)
        except ValueError as exc:
            problems.add(i, _at(fields, i), v, str(exc))
        else:
            mask[i] = False
    return pd.arrays.IntegerArray(data, mask)


def _floats(
    values: list[Any], fields: Fields, problems: _Problems, scalars: bool
) -> pd.arrays.FloatingArray:
    n = len(values)
    if scalars:  # Arrow refuses a string and an integer a float cannot hold exactly
        try:
            numbers = pa.array(values, type=pa.float64())
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        else:
            data = numbers.fill_null(0.0).to_numpy()
            if np.isfinite(data).all():
                mask = numbers.is_null().to_numpy(zero_copy_only=False)
                return pd.arrays.FloatingArray(data.copy(), mask)
    data = np.zeros(n, dtype=np.float64)
    mask = np.ones(n, dtype=bool)
    if _types(values) <= {int, float}:
        try:
            data = np.array(values, dtype=np.float64)
        except OverflowError:  # an int beyond float range: reported by the loop below
            data = np.array([np.nan])
        if np.isfinite(data).all():
            return pd.arrays.FloatingArray(data, np.zeros(n, dtype=bool))
        data, mask = np.zeros(n, dtype=np.float64), np.ones(n, dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            if type(v) is bool or not isinstance(v, (int, float, str)):
                raise ValueError
            number = float(v)
        except OverflowError:
            problems.add(i, _at(fields, i), v, "expected a number within float range")
            continue
        except ValueError:
            problems.add(i, _at(fields, i), v, "expected a number")
            continue
        if not math.isfinite(number):
            problems.add(i, _at(fields, i), v, "expected a finite number")
            continue
        data[i], mask[i] = number, False
    return pd.arrays.FloatingArray(data, mask)


#: An ISO-8601 time followed by a zone: ``Z``, ``+02:00``, ``-0500`` or ``+02``.
_ZONED = r"[T ]\d{2}(:\d{2}){0,2}([.,]\d+)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"


def _parse_timestamps(
    strings: pa.Array | pa.ChunkedArray,
) -> tuple[pd.arrays.DatetimeArray, np.ndarray[Any, np.dtype[np.bool_]]]:
    """Return ISO-8601 ``strings`` as UTC microseconds, and where a string did not parse.

    The API's own ``...Z`` form goes through Arrow's fast, strict parser (older Arrow releases
    misread other offsets). The rest goes through pandas, which also reads the legacy
    ``2017-11-16 17:46:06.0`` and date-only forms, in two groups: values with an offset, and
    values without one, which are taken as UTC (pandas 2.2, given both in one call, reads the
    zone-less ones in the zone of an earlier value).
    """
    n = len(strings)
    if pc.all(pc.ends_with(strings, "Z")).as_py():
        try:
            parsed = strings.cast(pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            ticks = parsed.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()
            return _utc(ticks), np.zeros(n, dtype=bool)
    valid = strings.is_valid().to_numpy(zero_copy_only=False)
    raw = strings.to_numpy(zero_copy_only=False)
    zoned = (
        pc.match_substring_regex(strings, _ZONED).fill_null(False).to_numpy(zero_copy_only=False)
    )
    ticks = _pandas_ticks(raw, zoned, valid)
    missed = np.flatnonzero(valid & (ticks == _NO_TICK))
    if len(missed):
        ticks[missed] = _far_ticks(raw[missed], zoned[missed])
    result = _utc(ticks)
    return result, np.asarray(result.isna()) & valid


#: A missing timestamp's microseconds (NaT).
_NO_TICK = np.iinfo(np.int64).min
#: The Gregorian calendar repeats every 400 years: 146,097 days, in microseconds.
_CYCLE_US = 146_097 * 86_400 * 10**6
_YEAR = re.compile(r"\d{4}")


def _pandas_ticks(
    raw: np.ndarray[Any, Any],
    zoned: np.ndarray[Any, np.dtype[np.bool_]],
    valid: np.ndarray[Any, np.dtype[np.bool_]],
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Return the UTC microseconds pandas reads in ``raw`` (``_NO_TICK`` where it reads none)."""
    ticks = np.full(len(raw), _NO_TICK, dtype=np.int64)
    for group in (zoned, valid & ~zoned):
        if group.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                coerced = pd.to_datetime(raw[group], format="ISO8601", utc=True, errors="coerce")
            ticks[group] = pd.DatetimeIndex(coerced).as_unit("us").asi8
    return ticks


def _far_ticks(
    raw: np.ndarray[Any, Any], zoned: np.ndarray[Any, np.dtype[np.bool_]]
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Return the UTC microseconds of strings pandas did not read, whatever their year.

    pandas 2.2 parses in nanoseconds, so years before 1677 or after 2262 miss. Each string is
    read again by pandas with its year moved by whole 400-year cycles into 1800-2199, and the
    cycles added back: the same rules (separators, zones) for every year, and a string that is
    no timestamp stays ``_NO_TICK``.
    """
    years = np.array([int(s[:4]) if _YEAR.match(s) else 0 for s in raw], dtype=np.int64)
    cycles = (years - 1800) // 400
    moved = np.array(
        [f"{y - 400 * c:04d}{s[4:]}" for s, y, c in zip(raw, years, cycles, strict=True)],
        dtype=object,
    )
    ticks = _pandas_ticks(moved, zoned, years >= 1)
    found = ticks != _NO_TICK
    ticks[found] += cycles[found] * _CYCLE_US
    return ticks


def _utc(ticks: np.ndarray[Any, np.dtype[np.int64]]) -> pd.arrays.DatetimeArray:
    """UTC timestamps from microseconds since the epoch (int64 minimum: missing)."""
    index = pd.DatetimeIndex(ticks.view("M8[us]"), copy=False).tz_localize("UTC")
    return cast(pd.arrays.DatetimeArray, index.array)


def _timestamps(
    values: list[Any], fields: Fields, problems: _Problems, scalars: bool
) -> pd.arrays.DatetimeArray:
    strings = None
    if scalars:  # Arrow refuses anything but str and None (and bytes, which JSON has not)
        with contextlib.suppress(pa.ArrowTypeError):
            strings = pa.array(values, type=pa.string())
    if strings is None and not _types(values) <= {str, type(None)}:
        cleaned = []
        for i, v in enumerate(values):
            if v is None or type(v) is str:
                cleaned.append(v)
            else:
                problems.add(i, _at(fields, i), v, "expected an ISO-8601 string")
                cleaned.append(None)
        values = cleaned
    if strings is None:
        strings = pa.array(values, type=pa.string())
    parsed, failed = _parse_timestamps(strings)
    for k in np.flatnonzero(failed).tolist():
        problems.add(k, _at(fields, k), values[k], "expected an ISO-8601 timestamp")
    return parsed


def _result_lists(
    get: Getter, n: int, problems: _Problems, scalars: bool
) -> tuple[list[Any], np.ndarray[Any, np.dtype[np.int64]]]:
    """Return each download's results as a list (missing/null/bad -> []) and their lengths."""
    lists = get(_RESULTS) or [None] * n
    if scalars:  # the typed decode's results are lists or None, and None has no length
        with contextlib.suppress(TypeError):
            return lists, np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    kinds = _types(lists)
    if kinds == {list, type(None)}:  # absent or null results: no files yet
        lists = [v if v is not None else _NO_RESULTS for v in lists]
    elif not kinds <= {list}:
        fixed: list[Any] = []
        for i, v in enumerate(lists):
            if type(v) is list:
                fixed.append(v)
            else:
                if v is not None:
                    problems.add(i, _RESULTS, v, "expected a list")
                fixed.append([])
        lists = fixed
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    return lists, lengths


def _urls(
    lists: list[Any], lengths: np.ndarray[Any, np.dtype[np.int64]], problems: _Problems
) -> pd.api.extensions.ExtensionArray:
    """Flatten the results into one URL per row; a download without results gives one None."""
    raws = list(chain.from_iterable(lists))
    # Results are all undecoded (typed decode) or all Python objects (parsed input).
    undecoded = bool(raws) and type(raws[0]) is msgspec.Raw
    if undecoded:
        fast = _raw_urls(raws, lengths)
        if fast is not None:
            return fast
    flat = [u for lst in lists for u in (lst or _NO_RESULT)]
    if undecoded:
        flat = list(map(_result, flat))
    kinds = _types(flat)
    empty = int((lengths == 0).sum())
    if not kinds <= {str, type(None)} or flat.count(None) != empty or "" in flat:
        rows = np.maximum(lengths, 1)
        starts = np.cumsum(rows) - rows
        owner = np.repeat(np.arange(len(lists)), rows)
        for k, u in enumerate(flat):
            if type(u) is str and u:
                continue
            if u is None and lengths[owner[k]] == 0:
                continue
            i = int(owner[k])
            where = f"{_RESULTS}[{k - starts[i]}]"
            if isinstance(u, dict) and type(u.get("url")) is str and u["url"]:
                flat[k] = u["url"]
                continue
            problems.add(i, where, u, "expected a URL string or an object with a 'url' string")
            flat[k] = None
    return _strings(flat)


@cache
def _link_decoder() -> msgspec.json.Decoder[Any]:
    """Return the typed decoder of a result object: its ``url``, the other fields skipped."""
    return msgspec.json.Decoder(msgspec.defstruct("Link", [("url", str)]))


def _result(raw: Any) -> Any:
    """Return an undecoded result decoded; ``{"url": ...}`` alone if only another of its
    fields is out of range; its bytes (a bad value) if it holds no JSON value.

    The typed decode checks a result's syntax, not its numbers (``1e400`` is out of range).
    As in a download, such a number counts only where it is read: an object whose ``url`` is
    a string gives that, whatever its other fields hold.
    """
    if type(raw) is not msgspec.Raw:
        return raw
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        pass
    try:
        url = _link_decoder().decode(raw).url
    except msgspec.DecodeError:
        return bytes(raw)
    return {"url": url} if url else bytes(raw)  # no link: a bad value, shown as written


#: Bytes compared at a time by :func:`_count_byte`: a block and its comparison stay in cache.
_BLOCK = 1 << 16


def _count_byte(view: np.ndarray[Any, np.dtype[np.uint8]], byte: bytes) -> int:
    """Return how many times ``byte`` occurs in ``view``.

    ``bytes.count`` of one byte is a plain loop; numpy compares many bytes at once, but over
    the whole view it would make a fresh array as large, whose pages cost more than the count.
    """
    hits = np.empty(min(len(view), _BLOCK), dtype=bool)
    found = 0
    for start in range(0, len(view), _BLOCK):
        block = view[start : start + _BLOCK]
        np.equal(block, ord(byte), out=hits[: len(block)])
        found += int(np.count_nonzero(hits[: len(block)]))
    return found


#: How each link of a shape is written, when written plainly: the bytes around the URL.
_LINK_FORMS = ((b'"', b'"'), (b'{"url":"', b'"}'))


def _raw_urls(
    raws: list[msgspec.Raw], lengths: np.ndarray[Any, np.dtype[np.int64]]
) -> pd.api.extensions.ExtensionArray | None:
    """Return the links as a string array cut straight from the input's bytes, or None.

    ``raws`` holds every result undecoded (``msgspec.Raw``), in order, and ``lengths`` how many
    each download has (a download without results gets a missing link). When every result is
    written the same plain way (``"https://..."`` in the real shape, ``{"url":"https://..."}``
    in the page's), in ASCII and without escapes, each URL is its result's bytes less those
    delimiters: one join and one Arrow slice, no Python string per link. Anything else
    (escapes, spaces, other keys, a value that is no link) gives None, and the caller decodes
    each result and checks it.
    """
    data = b"".join(raws)
    if not data.isascii() or data.find(b"\\") >= 0:
        return None
    sizes = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    ends = np.cumsum(sizes)
    starts = ends - sizes
    view = np.frombuffer(data, dtype=np.uint8)
    for head, tail in _LINK_FORMS:
        if (
            data.startswith(head)
            and (sizes > len(head) + len(tail)).all()
            # No quote but the delimiters': an object with only "url". (A result that starts
            # with a quote is a string, and without escapes it holds no quote.)
            and (head == b'"' or _count_byte(view, b'"') == (head + tail).count(b'"') * len(raws))
            and all((view[starts + k] == byte).all() for k, byte in enumerate(head))
            and all((view[ends - len(tail) + k] == byte).all() for k, byte in enumerate(tail))
        ):
            break
    else:
        return None
    has_link = np.repeat(lengths > 0, np.maximum(lengths, 1))
    row_sizes = np.zeros(len(has_link), dtype=np.int64)
    row_sizes[has_link] = sizes
    written = _large_strings(row_sizes, data, has_link)
    urls = pc.utf8_slice_codeunits(written, start=len(head), stop=-len(tail))
    return pd.arrays.ArrowStringArray(urls)


# ---------------------------------------------------------------------------- the frame


class _Built(NamedTuple):
    """The per-download columns of an input, with each download's result count and links."""

    cols: dict[str, Any]
    lengths: np.ndarray[Any, np.dtype[np.int64]]
    #: One link per result file and one None per download without results; None if not read.
    urls: pd.api.extensions.ExtensionArray | None
    #: How many downloads have each unknown status.
    unknown: dict[str, int]


def _convert(
    c: Column,
    values: list[Any],
    fields: Fields,
    problems: _Problems,
    unknown: dict[str, int],
    scalars: bool,
) -> Any:
    """Return column ``c`` from its source values, as its schema dtype says (see _columns)."""
    if c.is_category:
        aliases = STATUS_ALIASES if c.name == "status" else None
        categorical, counts = _categories(values, c.name, fields, problems, aliases)
        if c.name == "status":
            unknown.update(counts)
        return categorical
    if c.dtype == TIMESTAMP:
        return _timestamps(values, fields, problems, scalars)
    if isinstance(c.dtype, pd.Int64Dtype):
        return _integers(values, fields, problems)
    if isinstance(c.dtype, pd.Float64Dtype):
        return _floats(values, fields, problems, scalars)
    return _text(values, fields, problems, ints_ok=c.integers_as_text, scalars=scalars)


def _columns(
    get: Getter, n: int, problems: _Problems, links: bool, *, scalars: bool = False
) -> _Built:
    """Build every per-download column of ``n`` records (links too if ``links``).

    ``scalars``: every value is a JSON scalar (str, int, float or None), as the typed decode
    gives; Arrow's conversions then check a column's types as they convert it.
    """
    cols: dict[str, Any] = {"id": _ids(get, n, problems, scalars)}
    unknown: dict[str, int] = {}
    lists, lengths = _result_lists(get, n, problems, scalars)
    for c in COLUMNS:
        if not c.source or c.name in cols or c.source[0] == _RESULTS:
            continue
        if len(c.source) == 2:
            found = _coalesce(get, *c.source, n, optional=c.optional)
        else:
            values = get(c.source[0])
            found = None if values is None and c.optional else (values or [None] * n, c.name)
        if found is not None:
            cols[c.name] = _convert(c, *found, problems, unknown, scalars)
    urls = _urls(lists, lengths, problems) if links else None
    return _Built(cols, lengths, urls, unknown)


def _joined(parts: list[_Built], urls: pd.api.extensions.ExtensionArray | None) -> _Built:
    """Return the columns of consecutive chunks as one, with the links of all of them.

    A column some chunk lacks is null there.
    """
    if len(parts) == 1:
        return parts[0]._replace(urls=urls)
    names = dict.fromkeys(name for part in parts for name in part.cols)
    cols = {name: _concat(name, [p.cols.get(name) for p in parts], parts) for name in names}
    tally: dict[str, int] = {}
    for part in parts:
        for label, n in part.unknown.items():
            tally[label] = tally.get(label, 0) + n
    unknown = dict(sorted(tally.items()))  # in label order, as one chunk's are
    lengths = np.concatenate([p.lengths for p in parts])
    return _Built(cols, lengths, urls, unknown)


def _concat(name: str, arrays: list[Any], parts: list[_Built]) -> Any:
    """Return column ``name``'s chunks as one array, nulls where a chunk lacks the column."""
    c = column(name)
    filled = [
        _nulls(c, len(p.lengths)) if a is None else a for a, p in zip(arrays, parts, strict=True)
    ]
    if c.dtype == STRING:
        return _joined_strings(filled)
    if c.is_category:  # the unknown categories of every chunk, appended in order
        extra = {str(label) for a in filled for label in a.categories}
        cat_dtype = category_dtype(name, extra)
        codes = [pd.Categorical(a, dtype=cat_dtype).codes for a in filled]
        return pd.Categorical.from_codes(np.concatenate(codes), dtype=cat_dtype, validate=False)
    return _concat_arrays(filled)


def _joined_strings(arrays: list[Any]) -> pd.api.extensions.ExtensionArray:
    """Return Arrow string arrays as one array in one piece (a copy, in Arrow's memory pool,
    whose freed pages the next call reuses: quicker than :class:`_StringsJoined` for the
    per-download columns, a small part of the bytes).

    pandas hands a chunked column to Arrow's kernels, and Arrow's ``take`` (behind sorting,
    ``loc``, filtering and the per-result repeat) joins the chunks on every call: one copy
    here is cheaper than one per operation.
    """
    pieces = [chunk for a in arrays for chunk in a.__arrow_array__().chunks]
    joined = pa.chunked_array(pieces, type=pa.large_string()).combine_chunks()
    return pd.arrays.ArrowStringArray(joined)


class _StringsJoined:
    """Arrow string arrays appended one after another into one array, without a final copy.

    The links are most of a per-result frame's bytes: joining every chunk's links at the end
    (:func:`_joined_strings`) would hold them twice at once. Instead each chunk's links are
    copied, as soon as they are built, into one buffer reserved at ``capacity`` bytes (an
    upper bound, such as the size of the JSON they come from: pages never written cost no
    memory) and the chunk's own array is dropped; :meth:`array` wraps the buffer as it is.
    One array appended alone is kept as it is: a small input pays for no buffer.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = max(capacity, 1)
        self._first: Any = None  # the first array, until a second one comes
        self._data: np.ndarray[Any, np.dtype[np.uint8]] | None = None
        self._used = 0
        self._sizes: list[np.ndarray[Any, np.dtype[np.int64]]] = []  # bytes of each string
        self._valid: list[np.ndarray[Any, np.dtype[np.bool_]]] = []
        self._nulls = 0

    def append(self, strings: Any) -> None:
        """Add ``strings`` (an Arrow-backed string array) at the end."""
        if self._data is None:
            if self._first is None:
                self._first = strings
                return
            self._data = np.empty(self._capacity, dtype=np.uint8)
            first, self._first = self._first, None
            self._copy(first)
        self._copy(strings)

    def _copy(self, strings: Any) -> None:
        assert self._data is not None
        for chunk in strings.__arrow_array__().chunks:
            if chunk.type != pa.large_string():
                chunk = chunk.cast(pa.large_string())
            n = len(chunk)
            if not n:
                continue
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
            offsets = offsets[chunk.offset : chunk.offset + n + 1]
            start, stop = int(offsets[0]), int(offsets[-1])
            if self._used + stop - start > len(self._data):
                self._grow(self._used + stop - start)
            if stop > start:
                data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
                self._data[self._used : self._used + stop - start] = data[start:stop]
            self._used += stop - start
            self._sizes.append(np.diff(offsets))
            self._valid.append(chunk.is_valid().to_numpy(zero_copy_only=False))
            self._nulls += chunk.null_count

    def _grow(self, needed: int) -> None:
        assert self._data is not None
        data = np.empty(max(needed, 2 * len(self._data)), dtype=np.uint8)
        data[: self._used] = self._data[: self._used]
        self._data = data

    def array(self) -> pd.api.extensions.ExtensionArray:
        """Return everything appended as one string array in one piece: offsets from 0 when
        several arrays were appended; one array appended alone is returned as it is."""
        if self._data is None:
            if self._first is None:
                return _strings([])
            if self._first.__arrow_array__().num_chunks == 1:
                return cast(pd.api.extensions.ExtensionArray, self._first)
            self.append(_strings([]))  # into the buffer, joined
        assert self._data is not None
        # Give back the reserved bytes never written: a shrinking realloc copies nothing, and
        # no view of the buffer exists yet.
        self._data.resize(max(self._used, 1), refcheck=False)
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, dtype=np.int64)
        valid = np.concatenate(self._valid) if self._nulls else None
        strings = _large_strings(sizes, self._data, valid)
        # The buffer is the array's now: never resized again.
        self._first, self._data = pd.arrays.ArrowStringArray(strings), None
        return cast(pd.api.extensions.ExtensionArray, self._first)


def _nulls(c: Column, n: int) -> Any:
    """Return ``n`` missing values of column ``c``'s dtype (and array type)."""
    return _strings([None] * n) if c.dtype == STRING else pd.array([None] * n, dtype=c.dtype)


def _concat_arrays(arrays: list[Any]) -> Any:
    """Return pandas arrays of one dtype as one (Arrow strings: chunks, not copied)."""
    series = [pd.Series(a, copy=False) for a in arrays]
    return pd.concat(series, ignore_index=True).array


def _build(data: Any, links: bool) -> _Built:
    """Read ``data`` and build every per-download column from it (links too if ``links``)."""
    problems = _Problems()
    source = _raw_input(data)
    if source is None:
        try:
            parts = [_columns(*_records(data, problems), problems, links)]
        except UnicodeEncodeError:  # a lone surrogate in a string: Arrow cannot encode it
            problems = _Problems()  # every problem is found again, around the bad strings
            cleaned = _valid_unicode(data, problems)
            parts = [_columns(*_records(cleaned, problems), problems, links)]
            problems.rows = _unicode_first(problems.rows)
        problems.raise_if_any()
        return _joined(parts, parts[0].urls)
    # Each link is a string of the input, never longer decoded than written in it.
    urls = _StringsJoined(len(source[0])) if links else None
    parts = []
    for get, n, scalars in _decode(*source, problems):
        part = _columns(get, n, problems, links, scalars=scalars)
        if urls is not None and part.urls is not None:
            urls.append(part.urls)
            part = part._replace(urls=None)
        parts.append(part)
        problems.offset += n
    problems.raise_if_any()
    return _joined(parts, urls.array() if urls is not None else None)


def _status_notes(unknown: dict[str, int]) -> list[str]:
    return [
        f"unknown status {label!r} on {count(n, 'download')}; kept as "
        f"an extra category after {', '.join(STATUSES)}"
        for label, n in unknown.items()
    ]


def _assemble(per: Per, built: _Built, *, consume: bool = False) -> pd.DataFrame:
    """Return the frame of ``per`` from the per-download columns; per result, repeat them.

    ``consume``: per result, take each per-download column out of ``built`` once repeated, so
    that a column's two versions are alive together only one column at a time.
    """
    cols, lengths = built.cols, built.lengths
    if per == "download":
        cols = {**cols, "num_results": lengths}
    else:
        n = len(lengths)
        rows = np.maximum(lengths, 1)
        if n and (rows != 1).any():
            take = np.repeat(np.arange(n), rows)
            source = cols if consume else dict(cols)
            cols = {k: source.pop(k).take(take) for k in list(source)}
            del take
        total = int(rows.sum())
        position = np.arange(total, dtype=np.int64)
        position -= np.repeat(np.cumsum(rows) - rows, rows)
        cols = {
            **cols,
            "result_index": pd.arrays.IntegerArray(position, np.repeat(lengths == 0, rows)),
            "url": built.urls,
        }
    present = [name for name in cols if column(name).optional]
    order = [c.name for c in columns(per, optional=present)]
    index = pd.RangeIndex(len(built.lengths) if per == "download" else len(cols["url"]))
    frame: pd.DataFrame = pd.DataFrame(
        {name: cols[name] for name in order}, index=index, copy=False
    )
    return frame


def _check_per(per: Any) -> None:
    if per not in ("result", "download"):
        raise ArgumentError(f"per must be 'result' or 'download', not {per!r}")


def _input(data: Any, client: Client | None) -> tuple[Any, str]:
    """Return the input to read and where it comes from; no ``data``: the live list, fetched.

    The one place where shaping reaches for the network: with no ``data``, ``GET /downloads``
    with ``client`` (default: a ``Client()`` configured from the environment), its body kept
    as bytes for the typed decode.
    """
    if data is not None:
        if client is not None:
            raise ArgumentError("data, client: pass either data or client=, not both")
        if isinstance(data, (str, os.PathLike)):
            return data, f"file {os.fsdecode(data)}"
        return data, "downloads given"
    if client is not None:
        return client.downloads_json(), f"live API ({client.base_url})"
    from dfkit.client import Client

    with Client() as own:
        return own.downloads_json(), f"live API ({own.base_url})"


def _warn(notes: list[str]) -> None:
    for note in notes:
        warnings.warn(note, DfkitWarning, stacklevel=3)


def downloads_frame(
    data: Any = None, *, per: Per = "download", client: Client | None = None
) -> pd.DataFrame:
    """Return the downloads as a DataFrame: one row per download, or per result file.

    ``data`` is a list of download objects, an object wrapping them under ``"records"``, JSON
    ``bytes`` holding either, or the path of a JSON file holding either (a ``str`` or
    ``os.PathLike``, read as that very file: ``[``, ``*`` or ``?`` in its name are no
    pattern). A ``str`` that names no file but starts with ``[`` or ``{`` is refused with a
    ``SchemaError`` saying how to pass JSON text (as bytes), since a string is a path here.
    With no ``data``, the live list is fetched with ``client`` (default: a ``Client()``
    configured from the environment) and its body decoded as it came.

    ``per="download"`` (the default) gives one row per download, so sums such as
    ``df.num_records.sum()`` count each download once; ``per="result"`` gives the file-level
    table: one row per result file with its ``url``, the download's columns repeated on each
    of its files' rows (a download without files keeps one row).

    Columns follow :mod:`dfkit.schema`. Every bad value is reported in one ``SchemaError``
    whose first line is the first of them and whose ``.problems`` lists all.

    >>> df = downloads_frame([
    ...     {"id": 1, "status": "running", "num_records": "42",
    ...      "date_started": "2025-03-17T20:03:55.926Z", "results": ["https://a/1.csv", "https://a/2.csv"]},
    ...     {"id": "b", "status": "queued", "num_records": 7, "created_at": "2025-03-18 09:00:00"},
    ... ])
    >>> df[["id", "status", "num_records", "num_results"]]
      id       status  num_records  num_results
    0  1  in_progress           42            2
    1  b       queued            7            0
    >>> downloads_frame(b'[{"id": 1, "results": [{"url": "https://a/1.csv"}]}]', per="result")[
    ...     ["id", "result_index", "url"]]
      id  result_index              url
    0  1             0  https://a/1.csv
    """
    _check_per(per)
    data, _ = _input(data, client)
    with _gc_paused():
        built = _build(data, links=per == "result")
        frame = _assemble(per, built, consume=True)
    _warn(_status_notes(built.unknown))
    return frame


class DownloadsFrames(NamedTuple):
    """Both frames of one input, built from one decode, and where the input came from."""

    per_download: pd.DataFrame
    per_result: pd.DataFrame
    #: ``"file PATH"``, ``"live API (URL)"`` or ``"downloads given"``.
    source: str


def downloads_frames(data: Any = None, *, client: Client | None = None) -> DownloadsFrames:
    """Return the frame per download and the frame per result file of ``data``, decoded once.

    ``data`` and ``client`` are :func:`downloads_frame`'s. Quicker than two calls when both
    frames are wanted (the report does): the input is read and decoded once.

    >>> frames = downloads_frames([{"id": "a", "results": ["u1", "u2"]}, {"id": "b"}])
    >>> len(frames.per_download), len(frames.per_result), frames.source
    (2, 3, 'downloads given')
    """
    data, source = _input(data, client)
    with _gc_paused():
        built = _build(data, links=True)
        frames = DownloadsFrames(_assemble("download", built), _assemble("result", built), source)
    _warn(_status_notes(built.unknown))
    return frames
