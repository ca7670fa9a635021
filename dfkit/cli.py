"""The ``dfkit`` command: a thin layer over the Python API, one command per function.

===============================================  ===========================================
command                                          Python
===============================================  ===========================================
``dfkit report [SOURCE] [--sample] [--out DIR]``  ``dfkit.report.write_report``
``dfkit fetch [--out FILE]``                      ``dfkit.Client().downloads()``
``dfkit export SOURCE --out PATH``                ``dfkit.parquet.to_parquet(downloads_frame())``
``dfkit wait ID [--timeout S]``                   ``dfkit.Client().wait``
``dfkit results fetch SOURCE --dest DIR``         ``dfkit.fetch_results``
``dfkit results to-parquet DIR --out PATH``       ``dfkit.results_to_parquet``
``... to-parquet DIR --out PATH --engine dask``  ``results_to_parquet(..., engine="dask")``
===============================================  ===========================================

The API token comes from ``DATAFINITI_API_TOKEN`` (and the base URL from
``DATAFINITI_API_URL``), never from the command line, and is never printed. A failure prints
one line, ``dfkit: error: ...``, on stderr and exits with status 1; ``--verbose`` adds the
traceback. Usage errors exit with status 2, as argparse does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dfkit._words import count
from dfkit.client import BASE_URL_ENV, TOKEN_ENV
from dfkit.redaction import is_secret_option
from dfkit.vocabulary import DATA_TYPES

if TYPE_CHECKING:
    import pandas as pd

    from dfkit.analysis import Freq
    from dfkit.client import Client

__all__ = ["build_parser", "main"]

PROG = "dfkit"

_EPILOG = (
    f"environment: {TOKEN_ENV} (the API token, never printed), "
    f"{BASE_URL_ENV} (another API base URL, e.g. a local dfkit.testing.FakeDatafiniti)"
)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks (they hold examples)."""


def _say(*lines: str, file: TextIO | None = None) -> None:
    from dfkit.redaction import printable

    out = sys.stdout if file is None else file
    for line in lines:
        print(printable(line), file=out)  # values from the API may hold ANSI escapes


def _note(message: str) -> None:
    """Tell the user something about how the command runs (stderr: stdout may be data)."""
    _say(message, file=sys.stderr)


# ---------------------------------------------------------------------------- sources


def _read_json(source: str) -> Any:
    """Return the parsed JSON of a file, or of stdin for ``-``."""
    import orjson

    from dfkit.errors import SchemaError

    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    where = "stdin" if source == "-" else source
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"{where}: not valid JSON ({exc})") from None


def _token_set() -> bool:
    return bool(os.environ.get(TOKEN_ENV, "").strip())


def _client() -> Client:
    from dfkit.client import Client
    from dfkit.errors import AuthenticationError

    if not _token_set():
        raise AuthenticationError(
            f"no API token: set {TOKEN_ENV} (copy the token from the Datafiniti web portal)"
        )
    return Client()


def _freq(value: str) -> Freq:
    from dfkit.analysis import parse_freq
    from dfkit.errors import ArgumentError

    try:
        return parse_freq(value)
    except ArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("freq: ")) from None


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be 0 or more")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be 1 or more")
    return number


#: Storage option keys whose values are secrets: never printed (masked in every message).
_OPTION_KEY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
#: The secret values given with --storage-option in this run, masked by ``_redact``.
_SECRETS: set[str] = set()


def _storage_pair(value: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--storage-option``: the value as JSON when it parses, else text.

    An error never shows the value (it may be a secret).
    """
    key, eq, raw = value.partition("=")
    key = key.strip()
    if not eq or not _OPTION_KEY.fullmatch(key):
        raise argparse.ArgumentTypeError(
            "expected KEY=VALUE with KEY a name or dotted names, e.g. "
            "client_kwargs.endpoint_url=http://127.0.0.1:9000 (the value is not shown)"
        )
    if is_secret_option(key):  # a secret stays text: a numeric key is not a number
        _SECRETS.update(v for v in (raw,) if len(v) >= 4)
        return key, raw
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw
    return key, parsed


def _data_type(text: str) -> str:
    """``--data-type``'s value as a data type: any spelling the API takes (``products``)."""
    from dfkit.catalog import data_type_of

    try:
        return data_type_of(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _storage_options(pairs: list[tuple[str, Any]] | None) -> dict[str, Any] | None:
    """The ``--storage-option`` pairs as fsspec's ``storage_options`` (dotted keys nest)."""
    if not pairs:
        return None
    options: dict[str, Any] = {}
    for key, value in pairs:
        *parents, last = key.split(".")
        node = options
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"--storage-option {key}: {part} is already set to a value")
            node = child
        if isinstance(node.get(last), dict):
            raise ValueError(
                f"--storage-option {key}: {key}.{next(iter(node[last]))} is already set; "
                f"give {key}'s keys one by one"
            )
        node[last] = value
    return options


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a number of seconds above 0")
    return number


# ---------------------------------------------------------------------------- commands


def _table(rows: Sequence[Sequence[str]], *, header: Sequence[str] | None = None) -> list[str]:
    """Return text lines of a table: the first column left-aligned, the others right."""
    all_rows = [list(header)] if header else []
    all_rows += [list(r) for r in rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(all_rows[0]))]
    lines = []
    for row in all_rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _cmd_report(args: argparse.Namespace) -> int:
    from dfkit.plots import status_label
    from dfkit.report import build_report
    from dfkit.sample import sample_path

    data: Any
    if args.source is not None:
        data, source = Path(args.source), f"file {args.source}"
    elif args.sample or not _token_set():
        data, source = Path(sample_path()), "bundled sample"
        if not args.sample:
            source += f" ({TOKEN_ENV} is not set; set it to report on your own downloads)"
    else:
        data = None
        source = "live API"
    if data is None:
        with _client() as client:
            _note(f"Fetching the downloads list from {client.base_url} ...")
            report = build_report(data, freq=args.freq, client=client)
    else:
        report = build_report(data, freq=args.freq, source=source)
    page = report.write(args.out)
    folder = page.parent
    _say(f"Source: {report.source}")
    _say("")
    _say(*_table(report.summary_rows()))
    _say("")
    status_rows = [
        (
            status_label(str(status)),
            f"{int(row['downloads']):,}",
            f"{row['share']:.1%}",
            f"{int(row['records']):,}",
        )
        for status, row in report.statuses.iterrows()
    ]
    _say(*_table(status_rows, header=("Status", "Downloads", "Share", "Records")))
    _say("")
    _say(f"Wrote {folder}{os.sep}")
    files = report.files()
    width = max(map(len, files))
    for name, what in files.items():
        size = (folder / name).stat().st_size
        _say(f"  {name:<{width}}  {size / 1024:6,.0f} KB  {what}")
    _say(f"Open {page} in a browser" + ("." if args.open else ", or run again with --open."))
    if args.open:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    import orjson

    from dfkit._atomic import atomic_file

    with _client() as client:
        downloads = client.downloads()
    data = orjson.dumps(downloads, option=orjson.OPT_INDENT_2) + b"\n"
    if args.out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    with atomic_file(args.out) as tmp:
        tmp.write_bytes(data)
    _say(f"Saved {count(len(downloads), 'download')} to {args.out}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from dfkit.frame import downloads_frame
    from dfkit.parquet import to_parquet
    from dfkit.schema import ROW_LABELS

    # The file itself (or stdin's bytes) goes to downloads_frame: one typed decode, no
    # Python objects per download in between.
    source = sys.stdin.buffer.read() if args.source == "-" else Path(args.source)
    df = downloads_frame(source, per=args.per)
    path = to_parquet(df, args.out, partition_by=args.partition_by)
    kind = f"a dataset partitioned by {args.partition_by}" if args.partition_by else "one file"
    shape = f"{ROW_LABELS[args.per]}, {count(len(df.columns), 'column')}"
    _say(f"Wrote {count(len(df), 'row')} ({shape}) to {path} ({kind})")
    return 0


#: ``dfkit wait``'s timeout when ``--timeout`` is not given, in seconds.
WAIT_TIMEOUT = 6 * 3600


def _cmd_wait(args: argparse.Namespace) -> int:
    with _client() as client:
        done = client.wait(args.id, timeout=args.timeout, poll_interval=args.poll_interval)
    n_files = len(done.get("results") or [])
    records = done.get("num_downloaded", done.get("num_records"))
    done_records = count(records, "record") if isinstance(records, int) else "records"
    _say(
        f"Download {done.get('id', args.id)} completed: {done_records} in "
        f"{count(n_files, 'result file')}"
    )
    return 0


def _downloads_from(data: Any) -> list[Mapping[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        from dfkit.errors import SchemaError

        raise SchemaError(
            "expected a JSON array of download objects, an object with a 'records' array, "
            "or one download object"
        )
    return data


def _cmd_results_fetch(args: argparse.Namespace) -> int:
    from dfkit.fetch import fetch_results

    downloads = _downloads_from(_read_json(args.source))
    if args.id:
        wanted = set(args.id)
        downloads = [d for d in downloads if str(d.get("id", d.get("_id"))) in wanted]
        found = {str(d.get("id", d.get("_id"))) for d in downloads}
        if wanted - found:
            from dfkit.errors import DfkitError

            raise DfkitError(f"no download with id {', '.join(sorted(wanted - found))} in SOURCE")
    client = _client() if _token_set() else None
    try:
        manifest = fetch_results(
            downloads,
            args.dest,
            workers=args.workers,
            overwrite=args.overwrite,
            client=client,
            progress=None if args.progress else False,
            **({} if args.max_file_bytes is None else {"max_file_bytes": args.max_file_bytes}),
            file_deadline=args.file_deadline,
            storage_options=_storage_options(args.storage_options),
        )
    finally:
        if client is not None:
            client.close()
    _say(*_manifest_lines(manifest, args.dest))
    return 0


def _manifest_lines(manifest: pd.DataFrame, dest: str) -> list[str]:
    status = manifest["status"].astype(str)
    skipped = (status == "skipped").to_numpy(dtype=bool)
    files = manifest[~skipped]
    counts = files["status"].value_counts()
    size = int(files["bytes"].fillna(0).sum())
    words = {"downloaded": "downloaded", "present": "already present", "failed": "failed"}
    parts = ", ".join(f"{int(counts.get(s, 0))} {w}" for s, w in words.items())
    lines = [
        f"{count(len(files), 'result file')} of "
        f"{count(files['id'].nunique(), 'completed download')} in {dest}: {parts} "
        f"({size / 1e6:,.1f} MB)"
    ]
    if skipped.any():
        n = manifest.loc[skipped, "id"].nunique()
        lines.append(
            f"{count(n, 'download')} with nothing to fetch (not completed, or no result files)"
        )
    return lines


def _rows_and_columns(
    path: str | os.PathLike[str],
    storage_options: Mapping[str, Any] | None,
    partition_by: str | None,
) -> tuple[int, int]:
    """Return the rows and columns of the Parquet file or dataset written at ``path``.

    A dataset in an object store is counted from its files' footers, read one by one in this
    thread. A dataset scan over an fsspec file system calls back into Python from pyarrow's own
    threads: a CLI run that counted that way once aborted (SIGABRT) at exit after a successful
    write.
    """
    import pyarrow.parquet as pq

    from dfkit.storage import filesystem_of, store_errors

    fs, where = filesystem_of(path, storage_options)
    if fs is None:
        import pyarrow.dataset as pads

        dataset = pads.dataset(where, format="parquet", partitioning="hive")
        return dataset.count_rows(), len(dataset.schema.names)
    rows, names = 0, list[str]()
    with store_errors(os.fspath(path), "counting the rows written", reading=True):
        for name in sorted(fs.find(where)):
            if name.endswith(".parquet"):
                with fs.open(name, "rb") as f:
                    meta = pq.read_metadata(f)
                rows += meta.num_rows
                names = names or meta.schema.to_arrow_schema().names
    in_folders = partition_by is not None and partition_by not in names
    return rows, len(names) + in_folders


def _cmd_results_to_parquet(args: argparse.Namespace) -> int:
    from dfkit.results import results_to_parquet

    if args.scheduler and args.engine != "dask":
        raise ValueError("--scheduler ADDRESS runs on Dask: add --engine dask")
    show = sys.stderr.isatty() if args.progress is None else args.progress
    options: dict[str, Any] = {
        "encoding": args.encoding,
        "per": args.per,
        "data_type": args.data_type,
    }
    storage_options = _storage_options(args.storage_options)
    if storage_options is not None:
        options["storage_options"] = storage_options
    if args.engine == "dask":
        options["engine"] = "dask"
    else:
        options["progress"] = show
    with _dask_scheduler(args.scheduler):
        path = results_to_parquet(args.dir, args.out, partition_by=args.partition_by, **options)
    rows, columns = _rows_and_columns(path, storage_options, args.partition_by)
    kind = f"a dataset partitioned by {args.partition_by}" if args.partition_by else "one file"
    if args.engine == "dask" and not args.partition_by:
        kind = "a dataset of one part per result file"
    _say(f"Wrote {count(rows, 'row')} ({count(columns, 'column')}) to {path} ({kind})")
    return 0


@contextlib.contextmanager
def _dask_scheduler(address: str | None) -> Iterator[None]:
    """Run the block on the Dask scheduler at ``address`` (else the one already active)."""
    if not address:
        yield
        return
    from dfkit.results_dask import require_dask

    require_dask()
    import distributed

    with distributed.Client(address, set_as_default=True):
        yield


# ---------------------------------------------------------------------------- the parser


def build_parser() -> argparse.ArgumentParser:
    """Return the ``dfkit`` argument parser (every command and option, with help)."""
    from dfkit import __version__

    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on error, show the traceback and details",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "dfkit: your Datafiniti downloads as pandas DataFrames, Parquet files and a report."
        ),
        epilog=_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="on error, show the traceback and details"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, help="run dfkit COMMAND --help for more"
    )

    def add(
        group: Any, name: str, help: str, description: str, func: Any
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name,
            help=help,
            description=description,
            epilog=_EPILOG,
            parents=[verbose],
            formatter_class=_Formatter,
        )
        sub.set_defaults(func=func)
        return sub

    report = add(
        commands,
        "report",
        "write the downloads report: Parquet, charts and one HTML page",
        "Write the downloads report into DIR: downloads.parquet (one row per download),\n"
        "results.parquet (one row per result file; downloads without files keep one row),\n"
        "a PNG per chart and report.html (one self-contained page, images embedded), then\n"
        "print the headline figures. DIR is replaced whole (the previous report stays until\n"
        "the new one is complete); a DIR holding other files is refused.\n\n"
        f"The downloads come from SOURCE (a JSON file), else the live API when {TOKEN_ENV}\n"
        "is set, else the bundled sample; the output says which.\n\n"
        "examples:\n"
        "  dfkit report --sample\n"
        "  dfkit report downloads.json --out weekly/ --freq W --open",
        _cmd_report,
    )
    source = report.add_mutually_exclusive_group()
    source.add_argument("source", nargs="?", metavar="SOURCE", help="JSON file of downloads")
    source.add_argument("--sample", action="store_true", help="use the bundled sample downloads")
    report.add_argument(
        "--out", default="report", metavar="DIR", help="directory to write (default: report)"
    )
    report.add_argument(
        "--freq",
        default=None,
        type=_freq,
        metavar="FREQ",
        help="period of the charts and table over time: D, W, MS, QS or YS "
        "(default: chosen from the span, days for a few weeks, weeks for a few months, "
        "months beyond)",
    )
    report.add_argument("--open", action="store_true", help="open report.html in a browser")

    fetch = add(
        commands,
        "fetch",
        "save the raw downloads list from the API as JSON",
        f"Save the account's downloads list (GET /downloads) as JSON; needs {TOKEN_ENV}.\n"
        "The file is written atomically: it appears complete or not at all.\n\n"
        "examples:\n"
        "  dfkit fetch --out downloads.json\n"
        "  dfkit fetch --out - | jq length",
        _cmd_fetch,
    )
    fetch.add_argument(
        "--out",
        default="downloads.json",
        metavar="FILE",
        help="file to write, - for stdout (default: downloads.json)",
    )

    export = add(
        commands,
        "export",
        "convert a JSON file of downloads to Parquet",
        "Convert a JSON file of downloads to a warehouse-ready Parquet file, or a hive-style\n"
        "dataset directory with --partition-by (written atomically).\n\n"
        "examples:\n"
        "  dfkit export downloads.json --out downloads.parquet\n"
        "  dfkit export downloads.json --out results.parquet --per result\n"
        "  dfkit export downloads.json --out by_status/ --partition-by status",
        _cmd_export,
    )
    export.add_argument("source", metavar="SOURCE", help="JSON file of downloads, - for stdin")
    export.add_argument("--out", required=True, metavar="PATH", help="Parquet file or directory")
    export.add_argument(
        "--per",
        choices=("result", "download"),
        default="download",
        help="one row per download (default), or per result file (the download's columns "
        "repeat on each of its files' rows)",
    )
    export.add_argument(
        "--partition-by",
        metavar="COL",
        help="write a dataset partitioned by this column (e.g. status, created_month)",
    )

    wait = add(
        commands,
        "wait",
        "wait for a download to complete",
        f"Poll one download (GET /downloads/ID, free of charge) until it completes; needs\n"
        f"{TOKEN_ENV}. Shows a progress bar in a terminal. Exits with status 1 if the\n"
        "download is cancelled, ends with another status (failed, ...), or the timeout\n"
        f"passes (default: {WAIT_TIMEOUT // 3600} hours).\n\n"
        "example:\n"
        "  dfkit wait 847070 --timeout 3600",
        _cmd_wait,
    )
    wait.add_argument("id", metavar="ID", help="download id")
    wait.add_argument(
        "--timeout",
        type=_non_negative_float,
        default=WAIT_TIMEOUT,
        metavar="S",
        help=f"give up after S seconds (default: {WAIT_TIMEOUT:,}, i.e. "
        f"{WAIT_TIMEOUT // 3600} hours)",
    )
    wait.add_argument(
        "--poll-interval",
        type=_non_negative_float,
        default=5.0,
        metavar="S",
        help="seconds between polls (default: 5)",
    )

    results = add(
        commands,
        "results",
        "fetch result files and convert them to Parquet",
        "Work with result files, the data behind the downloads.\n\n"
        "examples:\n"
        "  dfkit results fetch downloads.json --dest data/\n"
        "  dfkit results to-parquet data/ --out records.parquet",
        None,
    )
    results_commands = results.add_subparsers(
        dest="results_command",
        metavar="COMMAND",
        required=True,
        help="run dfkit results COMMAND --help for more",
    )
    rfetch = add(
        results_commands,
        "fetch",
        "download the result files of completed downloads",
        "Download the result files of the completed downloads in SOURCE into DIR, in\n"
        "parallel, as DIR/<id>_<n>.csv or .txt. A file already there is not fetched again,\n"
        "so rerunning resumes an interrupted run. Links are fetched without credentials;\n"
        f"when {TOKEN_ENV} is set, an expired link is renewed from the API.\n\n"
        "example:\n"
        "  dfkit fetch --out downloads.json && dfkit results fetch downloads.json --dest data/",
        _cmd_results_fetch,
    )
    rfetch.add_argument(
        "source", metavar="SOURCE", help="JSON file of downloads (or one download), - for stdin"
    )
    rfetch.add_argument(
        "--dest",
        required=True,
        metavar="DIR",
        help="directory to write into, or an s3:// (gs://, abfs://) URL (needs fsspec and s3fs)",
    )
    _add_storage_option(rfetch)
    rfetch.add_argument(
        "--id", action="append", metavar="ID", help="only this download (repeatable)"
    )
    rfetch.add_argument(
        "--workers",
        type=_positive_int,
        default=4,
        metavar="N",
        help="files fetched at a time (default: 4)",
    )
    rfetch.add_argument(
        "--overwrite", action="store_true", help="fetch files again even if already there"
    )
    rfetch.add_argument(
        "--max-file-bytes",
        type=_positive_int,
        default=None,
        metavar="N",
        help="fail a file that grows past N bytes on disk (default: 1 GiB, against gzip bombs)",
    )
    rfetch.add_argument(
        "--file-deadline",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="fail a file not fetched within SECONDS, retries included (default: its time at "
        "100 KB/s, at least 10 minutes)",
    )
    rfetch.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bar (it shows only in a terminal anyway)",
    )
    rparquet = add(
        results_commands,
        "to-parquet",
        "convert result files to one Parquet file or dataset",
        "Stream every result file in DIR (CSV or JSON lines) into one Parquet file, or a\n"
        "hive-style dataset with --partition-by, in constant memory. Every field has the\n"
        "type Datafiniti's field catalog gives it (postal codes text, dates UTC timestamps,\n"
        "ratings floats), the same in every file. A directory without result files is an\n"
        "error.\n\n"
        "example:\n"
        "  dfkit results to-parquet data/ --out records/ --partition-by download_id",
        _cmd_results_to_parquet,
    )
    rparquet.add_argument("dir", metavar="DIR", help="directory of result files")
    rparquet.add_argument(
        "--out", required=True, metavar="PATH", help="Parquet file or dataset dir"
    )
    rparquet.add_argument(
        "--partition-by", metavar="COL", help="partition column, e.g. download_id"
    )
    rparquet.add_argument(
        "--per",
        metavar="LIST",
        help="one row per element of a nested list (reviews, prices, ...) instead of per record",
    )
    rparquet.add_argument(
        "--encoding", default="utf-8", help="text encoding of the files (default utf-8)"
    )
    rparquet.add_argument(
        "--data-type",
        type=_data_type,
        metavar="{" + ",".join(DATA_TYPES) + "}",
        help="a column for every catalogued field of this data type, held by a record or not"
        " (the same columns from every download of it)",
    )
    rparquet.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show a bar in bytes read (default: only in a terminal)",
    )
    rparquet.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )
    rparquet.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="dask: one task per file on a Dask scheduler; DIR and PATH may be s3://, gs://, "
        "abfs:// URLs (needs pip install 'dfkit[dask]')",
    )
    rparquet.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler to run on, e.g. tcp://10.0.0.5:8786 (default: threads in this "
        "process)",
    )
    _add_storage_option(rparquet)
    return parser


def _add_storage_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--storage-option",
        dest="storage_options",
        action="append",
        type=_storage_pair,
        metavar="KEY=VALUE",
        help="an fsspec storage option for URL paths, repeatable, e.g. "
        "client_kwargs.endpoint_url=http://10.0.0.9:9000 or anon=true (values are JSON when "
        "they parse as JSON; dotted keys nest). Without it, credentials come from the "
        "environment as s3fs finds them; secret values are never printed",
    )


# ---------------------------------------------------------------------------- running


def _redact(text: str) -> str:
    from dfkit.redaction import printable, redact

    text = redact(text)
    token = os.environ.get(TOKEN_ENV, "").strip()
    for secret in sorted({token, *_SECRETS}, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return printable(text)


class _Progress(logging.Handler):
    """Prints what the network layer is doing (``retrying GET /downloads (2/5): ...``) on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{PROG}: {_redact(record.getMessage())}", file=sys.stderr)


@contextlib.contextmanager
def _retries_on_stderr() -> Iterator[None]:
    """Say on stderr when a request is retried, instead of going silent while it waits."""
    log = logging.getLogger("dfkit.transport")
    handler, level = _Progress(logging.INFO), log.level
    log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"{PROG}: warning: {_redact(str(message))}", file=sys.stderr)


def _listed_problems(exc: BaseException) -> list[str]:
    """Return the bad values a SchemaError lists under its first line (at most 20), else []."""
    from dfkit.errors import SchemaError

    if not isinstance(exc, SchemaError):
        return []
    return str(exc).strip().splitlines()[1:]


def _one_line(exc: BaseException) -> str:
    """Return the error as one line (the first of its message), without the token."""
    text = str(exc).strip() or type(exc).__name__
    lines = text.splitlines()
    first = lines[0].rstrip(":")
    if len(lines) > 1 and not _listed_problems(exc):
        first += f" (and {count(len(lines) - 1, 'more line')}; --verbose shows them)"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        first = f"{exc.filename}: {exc.strerror}"
    return _redact(first)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dfkit`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    >>> import tempfile
    >>> from dfkit.sample import sample_path
    >>> out = tempfile.mkdtemp() + "/downloads.parquet"
    >>> main(["export", sample_path(), "--out", out])
    Wrote 200 rows (one row per download, 12 columns) to .../downloads.parquet (one file)
    0
    """
    parser = build_parser()
    _SECRETS.clear()
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    from dfkit.errors import DfkitError

    with warnings.catch_warnings(), _retries_on_stderr():
        warnings.showwarning = _show_warning
        try:
            code: int = args.func(args)
        except BrokenPipeError:
            # The reader went away (``dfkit fetch --out - | head``): stop quietly.
            # (no real file descriptor under a test's captured stdout: nothing to redirect)
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except (DfkitError, OSError, ValueError) as exc:
            if verbose:
                text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                print(_redact(text.rstrip()), file=sys.stderr)
            print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
            for line in _listed_problems(exc):
                print(_redact(line), file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
    return code
