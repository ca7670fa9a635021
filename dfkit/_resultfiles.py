"""Result files on disk: finding them, reading them in batches, and typing their columns.

Both ``read_results`` and ``results_to_parquet`` go through here, so they give the same columns
with the same types. Every value is first read as text (CSV fields, JSON scalars); nested JSON
values (lists, objects) are kept as they are. A column is then converted only when *every* value
in *every* file survives the conversion unchanged (:class:`ColumnState` decides), so leading zeros
(postal codes) and digit strings too long for an exact number (GTINs) stay strings.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dfkit.errors import ResultFileError

__all__ = [
    "DOWNLOAD_ID",
    "SOURCE_FILE",
    "ColumnState",
    "FileFormat",
    "RawBatch",
    "SchemaBuilder",
    "discover",
    "download_id_of",
    "file_format",
    "iter_batches",
]

FileFormat = Literal["csv", "json"]
PathsOrDir = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]

#: Columns added to every row: the download id (from the file name) and the file's name.
DOWNLOAD_ID = "download_id"
SOURCE_FILE = "source_file"

_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".txt": "json",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
#: ``<id>_<n>.<ext>``, the name ``fetch_results`` (and Datafiniti) gives result files.
_NAME = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9_-]*)_(?P<n>[0-9]+)\.")
#: A run of digits too long for orjson to keep exact (it turns such integers into floats).
_LONG_DIGITS = re.compile(rb"[0-9]{17}")

# The texts each type accepts. A value of a converted column must read back unchanged, so:
# integers have no sign "+", no leading zero and at most 15 digits (exact as float64 too, so
# int + float can widen); decimals are what Python's repr() writes; booleans are JSON's.
_INT = r"^(0|-?[1-9][0-9]{0,14})$"
_FLOAT = (
    r"^(0|-?[1-9][0-9]*)$"
    r"|^-?(0|[1-9][0-9]*)\.([0-9]*[1-9]|0)$"
    r"|^-?[1-9](\.[0-9]*[1-9])?e[-+][0-9]{2,3}$"
    r"|^-?(0|[1-9][0-9]*)\.[0-9]*[1-9]e[-+][0-9]{2,3}$"
)
_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_TS_TYPE = pa.timestamp("us", tz="UTC")
_KINDS: tuple[tuple[str, pa.DataType], ...] = (
    ("bool", pa.bool_()),
    ("int", pa.int64()),
    ("float", pa.float64()),
    ("timestamp", _TS_TYPE),
)
_SAMPLE = 64


def file_format(path: str | os.PathLike[str]) -> FileFormat | None:
    """Return ``"csv"`` or ``"json"`` from the file's extension (``.gz`` allowed), else None.

    >>> file_format("847070_0.csv.gz"), file_format("847070_1.txt"), file_format("notes.md")
    ('csv', 'json', None)
    """
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _EXTENSIONS.get(os.path.splitext(name)[1])


def download_id_of(name: str) -> str | None:
    """Return the download id in a result file name ``<id>_<n>.<ext>``, or None.

    >>> download_id_of("847070_2.csv"), download_id_of("data.csv")
    ('847070', None)
    """
    m = _NAME.match(name)
    return m.group("id") if m else None


def _natural_key(p: Path) -> list[tuple[int, int, str]]:
    # 847070_10.csv sorts after 847070_2.csv.
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"([0-9]+)", p.name)]


def discover(paths_or_dir: PathsOrDir, *, format: FileFormat | None = None) -> list[Path]:
    """Return the result files named by a directory, a path, or a list of them, in order.

    In a directory, files with a result extension (csv, txt, json, jsonl, optionally .gz) are
    taken in natural order; hidden files (such as unfinished downloads) are not. A file named
    explicitly must exist and, unless ``format`` is given, have a result extension.
    """
    items: list[str | os.PathLike[str]] = (
        [paths_or_dir] if isinstance(paths_or_dir, (str, os.PathLike)) else list(paths_or_dir)
    )
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = [
                c
                for c in p.iterdir()
                if c.is_file() and not c.name.startswith(".") and file_format(c) is not None
            ]
            files.extend(sorted(found, key=_natural_key))
        elif p.is_file():
            if format is None and file_format(p) is None:
                raise ResultFileError(
                    f"{p.name}: cannot tell the format from the extension; expected .csv, .txt, "
                    ".json or .jsonl (optionally .gz), or pass format='csv' or 'json'",
                    path=str(p),
                )
            files.append(p)
        else:
            raise FileNotFoundError(f"no such result file or directory: {p}")
    return files


@contextlib.contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as g:
            yield g  # type: ignore[misc]
    else:
        with open(path, "rb") as f:
            yield f


@dataclass
class RawBatch:
    """Rows of one file: text columns as Arrow strings, nested (or mixed) ones as Python lists."""

    path: Path
    columns: dict[str, pa.Array | list[Any]]
    num_rows: int
    nbytes: int = 0


def iter_batches(
    path: Path,
    fmt: FileFormat | None = None,
    *,
    block_size: int = 16 << 20,
    skip: set[str] | None = None,
) -> Iterator[RawBatch]:
    """Yield ``path``'s rows in batches of about ``block_size`` bytes of input.

    ``skip`` (CSV) names columns already known to stay strings: they are still parsed (and
    checked) but not converted, and come back as all-null placeholders the schema pass ignores.
    """
    fmt = fmt or file_format(path)
    if fmt == "csv":
        yield from _csv_batches(path, block_size, skip or set())
    elif fmt == "json":
        yield from _json_batches(path, block_size)
    else:
        raise ResultFileError(f"{path.name}: unknown result format {fmt!r}", path=str(path))


# --- CSV --------------------------------------------------------------------------------------


def _text_lines(path: Path) -> Iterator[str]:
    with _open_binary(path) as f:
        for i, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8-sig" if i == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise ResultFileError(
                    f"{path.name}: line {i}: not valid UTF-8 ({e.reason} at byte {e.start})",
                    path=str(path),
                    line=i,
                ) from None
            yield text


def _csv_header(path: Path) -> list[str]:
    reader = csv.reader(_text_lines(path))
    header = next(reader, None)
    if header is None:
        return []
    seen: set[str] = set()
    for name in header:
        if name == "":
            raise ResultFileError(f"{path.name}: line 1: empty column name", path=str(path), line=1)
        if name in seen:
            raise ResultFileError(
                f"{path.name}: line 1: column {name!r} appears twice", path=str(path), line=1
            )
        seen.add(name)
    return header


def _csv_error(path: Path, ncols: int, exc: Exception) -> ResultFileError:
    """Find the line Arrow stumbled on (Arrow does not say) by rescanning with Python's csv."""
    reader = csv.reader(_text_lines(path))
    for row in reader:
        if reader.line_num == 1 or not row:
            continue
        if len(row) != ncols:
            line = reader.line_num
            return ResultFileError(
                f"{path.name}: line {line}: expected {ncols} fields as in the header, "
                f"found {len(row)}",
                path=str(path),
                line=line,
            )
    return ResultFileError(f"{path.name}: cannot be read as CSV: {exc}", path=str(path))


def _csv_batches(path: Path, block_size: int, skip: set[str]) -> Iterator[RawBatch]:
    header = _csv_header(path)
    if not header:
        return
    wanted = [n for n in header if n not in skip]
    if not wanted:
        # Nothing to convert, but the file must still parse: keep one cheap column.
        wanted = header[:1]
    try:
        # Arrow reads (and may reject) the first block here already.
        reader = _open_csv(path, block_size, wanted)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise _csv_error(path, len(header), e) from None
    yielded = False
    with contextlib.closing(reader):
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as e:
                raise _csv_error(path, len(header), e) from None
            cols: dict[str, pa.Array | list[Any]] = {}
            n = batch.num_rows
            for name in header:
                i = batch.schema.get_field_index(name) if name in wanted else -1
                cols[name] = batch.column(i) if i >= 0 else pa.nulls(n, pa.string())
            yielded = True
            yield RawBatch(path, cols, n, batch.nbytes)
    if not yielded:
        # A header without rows still names the file's columns.
        yield RawBatch(path, {n: pa.array([], pa.string()) for n in header}, 0)


def _open_csv(path: Path, block_size: int, wanted: list[str]) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in wanted},
            include_columns=wanted,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


# --- newline-delimited JSON -------------------------------------------------------------------


def _scalar_text(v: Any) -> Any:
    """JSON scalars as text (the way CSV gives them); lists and objects unchanged."""
    if v is None or isinstance(v, (str, list, dict)):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _parse_json_line(path: Path, lineno: int, line: bytes) -> dict[str, Any]:
    try:
        # orjson turns integers longer than 64 bits into floats; json keeps them exact.
        obj = json.loads(line) if _LONG_DIGITS.search(line) else orjson.loads(line)
    except ValueError as e:
        raise ResultFileError(
            f"{path.name}: line {lineno}: not valid JSON ({e})", path=str(path), line=lineno
        ) from None
    if not isinstance(obj, dict):
        raise ResultFileError(
            f"{path.name}: line {lineno}: expected a JSON object (one record per line), "
            f"found {type(obj).__name__}",
            path=str(path),
            line=lineno,
        )
    return obj


def _json_batch(path: Path, rows: list[dict[str, Any]], nbytes: int) -> RawBatch:
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    cols: dict[str, pa.Array | list[Any]] = {}
    for k in keys:
        values = [_scalar_text(r.get(k)) for r in rows]
        if any(isinstance(v, (list, dict)) for v in values):
            cols[k] = values
        else:
            cols[k] = pa.array(values, type=pa.string())
    return RawBatch(path, cols, len(rows), nbytes)


def _json_batches(path: Path, block_size: int) -> Iterator[RawBatch]:
    rows: list[dict[str, Any]] = []
    size = 0
    with _open_binary(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line:
                continue
            rows.append(_parse_json_line(path, lineno, line))
            size += len(raw)
            if size >= block_size:
                yield _json_batch(path, rows, size)
                rows, size = [], 0
    if rows:
        yield _json_batch(path, rows, size)


# --- typing columns ---------------------------------------------------------------------------


def _all_match(values: pa.Array, pattern: str) -> bool:
    return bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())


def _floats_exact(values: pa.Array) -> bool:
    if not _all_match(values, _FLOAT):
        return False
    digits = pc.utf8_ltrim(
        pc.replace_substring_regex(values, pattern=r"[eE].*$|[-.]", replacement=""), "0"
    )
    long = pc.filter(values, pc.greater(pc.utf8_length(digits), 15))
    if len(long) == 0:
        return True
    # More than 15 significant digits: exact only if Python's repr gives the same text back.
    return all(("." in s or "e" in s) and repr(float(s)) == s for s in long.to_pylist())


def _timestamps_valid(values: pa.Array) -> bool:
    if not _all_match(values, _TIMESTAMP):
        return False
    try:
        pc.cast(values, _TS_TYPE)
    except pa.ArrowInvalid:
        return False
    return True


def _accepts(kind: str, values: pa.Array) -> bool:
    if kind == "bool":
        return bool(pc.all(pc.is_in(values, pa.array(["true", "false"]))).as_py())
    if kind == "int":
        return _all_match(values, _INT)
    if kind == "float":
        return _floats_exact(values)
    return _timestamps_valid(values)


@dataclass
class ColumnState:
    """What one column's values so far allow it to become."""

    #: Kinds every text value so far fits (bool, int, float, timestamp); empty: stays string.
    candidates: set[str] = field(default_factory=lambda: {k for k, _ in _KINDS})
    #: Some value was a JSON list or object.
    nested: bool = False
    #: Some value was a non-null scalar.
    scalar: bool = False
    #: Arrow type unifying the nested values seen (None: not yet, or not unifiable).
    nested_type: pa.DataType | None = None
    nested_ok: bool = True

    def update_text(self, values: pa.Array) -> None:
        if values.null_count == len(values):
            return
        self.scalar = True
        if not self.candidates:
            return
        values = values.drop_null()
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        # A small sample rules out most kinds cheaply before the full check.
        for sample in (values[:_SAMPLE], values):
            for kind in list(self.candidates):
                if not _accepts(kind, sample):
                    self.candidates.discard(kind)
            if not self.candidates:
                return

    def update_objects(self, values: list[Any], *, arrow: bool) -> None:
        self.nested = True
        if any(v is not None and not isinstance(v, (list, dict)) for v in values):
            self.scalar = True
        if not arrow or not self.nested_ok or self.scalar:
            return
        try:
            t = pa.array(values).type
            if self.nested_type is not None:
                t = (
                    pa.unify_schemas(
                        [pa.schema([("x", self.nested_type)]), pa.schema([("x", t)])],
                        promote_options="permissive",
                    )
                    .field("x")
                    .type
                )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            self.nested_ok = False
            return
        self.nested_type = t

    @property
    def is_object(self) -> bool:
        """True when pandas should hold the values as Python objects (lists, dicts, mixed)."""
        return self.nested

    def arrow_type(self) -> pa.DataType:
        """The column's type: nested values' unified type, else the first kind all values fit."""
        if self.nested:
            if self.scalar or not self.nested_ok or self.nested_type is None:
                return pa.string()
            if pa.types.is_null(self.nested_type):
                return pa.string()
            return self.nested_type
        if self.scalar:
            for kind, t in _KINDS:
                if kind in self.candidates:
                    return t
        return pa.string()


class SchemaBuilder:
    """Collects column names (in first-seen order) and their :class:`ColumnState` over batches."""

    def __init__(self, *, arrow_nested: bool = True) -> None:
        self.columns: dict[str, ColumnState] = {}
        self.rows = 0
        self.nbytes = 0
        self._arrow_nested = arrow_nested

    def add_names(self, names: Iterable[str]) -> None:
        for n in names:
            self.columns.setdefault(n, ColumnState())

    def update(self, batch: RawBatch) -> None:
        for name, values in batch.columns.items():
            state = self.columns.setdefault(name, ColumnState())
            if isinstance(values, list):
                state.update_objects(values, arrow=self._arrow_nested)
            else:
                state.update_text(values)
        self.rows += batch.num_rows
        self.nbytes += batch.nbytes

    def settled(self) -> set[str]:
        """Columns known to stay plain strings whatever text comes next."""
        return {
            n for n, s in self.columns.items() if s.scalar and not s.nested and not s.candidates
        }

    def check_names(self, path: Path, names: Iterable[str]) -> None:
        for reserved in (DOWNLOAD_ID, SOURCE_FILE):
            if reserved in names:
                raise ResultFileError(
                    f"{path.name}: has a column {reserved!r}, which dfkit adds itself",
                    path=str(path),
                )

    def arrow_schema(self) -> pa.Schema:
        fields = [pa.field(n, s.arrow_type()) for n, s in self.columns.items()]
        fields += [pa.field(DOWNLOAD_ID, pa.string()), pa.field(SOURCE_FILE, pa.string())]
        return pa.schema(fields)


def _json_text(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return orjson.dumps(v).decode() if _fits_orjson(v) else json.dumps(v)
    return v


def _fits_orjson(v: Any) -> bool:
    try:
        orjson.dumps(v)
    except TypeError:
        return False
    return True


def convert_text(values: pa.Array, to: pa.DataType) -> pa.Array:
    """Convert text values to the type their column was given (every value is known to fit)."""
    if to == pa.string():
        return values
    if values.null_count == len(values):
        # A nested column missing (or null) throughout this batch.
        return pa.nulls(len(values), to)
    if to == pa.bool_():
        return pc.equal(values, "true")
    return pc.cast(values, to)


def convert_objects(values: list[Any], to: pa.DataType) -> pa.Array:
    """Nested values as ``to``, or as JSON text when the column became a string."""
    if to == pa.string():
        return pa.array([_json_text(v) for v in values], type=pa.string())
    return pa.array(values, type=to)


def file_columns(batch: RawBatch, schema: pa.Schema) -> list[pa.Array]:
    """Return the batch's columns in ``schema`` order and types, with the two added columns."""
    n = batch.num_rows
    out: list[pa.Array] = []
    for f in schema:
        if f.name == DOWNLOAD_ID:
            out.append(pa.repeat(pa.scalar(download_id_of(batch.path.name), pa.string()), n))
        elif f.name == SOURCE_FILE:
            out.append(pa.repeat(pa.scalar(batch.path.name, pa.string()), n))
        else:
            values = batch.columns.get(f.name)
            if values is None:
                out.append(pa.nulls(n, f.type))
            elif isinstance(values, list):
                out.append(convert_objects(values, f.type))
            else:
                out.append(convert_text(values, f.type))
    return out


def text_chunk(values: pa.Array | list[Any]) -> list[Any]:
    """Values as a Python list (text stays text), for object columns."""
    return values if isinstance(values, list) else values.to_pylist()
