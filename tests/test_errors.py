"""Catch ``DfkitError`` for anything dfkit raises: the public functions with bad inputs.

Each case calls one public function (or the ``dfkit`` command) the way a user gets it wrong
and checks that what is raised is a ``DfkitError`` (and the builtin a user would catch, where
there is one) whose first line names the culprit: the file, the argument or the field.
"""

from __future__ import annotations

import errno
import gzip
import io
import re
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pyarrow.parquet as pq
import pytest

import dfkit
from dfkit import cli, transport
from dfkit.errors import DfkitError
from dfkit.testing import FakeDatafiniti

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

DOWNLOAD = {
    "total_cost": 3.0,
    "id": "847070",
    "status": "completed",
    "num_records": 3,
    "format": "CSV",
    "results": ["https://x/847070_0.csv"],
}
CSV = "id,name,postalCode\n1,Cafe,02134\n2,Bar,10001\n"


@pytest.fixture
def frame() -> pd.DataFrame:
    return dfkit.downloads_frame([DOWNLOAD])


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder of bad inputs: a CR-only CSV, a truncated gzip, JSON that is not JSON."""
    (tmp_path / "cr" / "").mkdir()
    (tmp_path / "cr" / "5_0.csv").write_bytes(CSV.replace("\n", "\r").encode())
    whole = gzip.compress(CSV.encode() * 200)
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "5_0.csv.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "bad.json").write_text('[{"id": 1, "status": ')
    (tmp_path / "big.json").write_text(
        '[{"id": 1, "status": "completed", "total_cost": 1' + "0" * 400 + "}]"
    )
    (tmp_path / "quote").mkdir()
    (tmp_path / "quote" / "5_0.csv").write_text('id,name,postalCode\n1,"12in TV,02134\n2,Cafe,1\n')
    (tmp_path / "adir.json").mkdir()
    (tmp_path / "adir.parquet").mkdir()
    return tmp_path


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDatafiniti]:
    with FakeDatafiniti(downloads=[dict(DOWNLOAD)]) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeDatafiniti) -> Iterator[FakeDatafiniti]:
    yield server
    server.clear_faults()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "sleep", lambda seconds: None)
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    monkeypatch.delenv("DATAFINITI_API_URL", raising=False)


def _disk_full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


class Ctx(NamedTuple):
    tmp: Path
    df: pd.DataFrame
    fake: FakeDatafiniti
    monkeypatch: pytest.MonkeyPatch


class Case(NamedTuple):
    call: Callable[[Ctx], Any]
    names: str  # a regex the first line must match (the culprit)
    builtin: type[BaseException] | None = None


def _client(c: Ctx, **kwargs: Any) -> dfkit.Client:
    return dfkit.Client(c.fake.token, base_url=c.fake.url, timeout=(2, 2), **kwargs)


def _retry_after(c: Ctx) -> Any:
    c.fake.inject("/downloads", status=429, retry_after="²", times=10)
    with _client(c, max_retries=1) as client:
        return client.downloads()


def _not_json(c: Ctx) -> Any:
    c.fake.inject("/downloads", status=200, body="{not json", content_type="application/json")
    with _client(c) as client:
        return client.downloads()


def _cli(argv: list[str]) -> Callable[[Ctx], Any]:
    """Run ``dfkit ARGV`` (paths relative to the case's folder) and raise its first error line."""

    def run(c: Ctx) -> Any:
        err = io.StringIO()
        args = [a.replace("TMP", str(c.tmp)) for a in argv]
        code: Any
        with redirect_stderr(err):
            try:
                code = cli.main(args)
            except SystemExit as exit:
                code = exit.code
        assert code not in (0, None), err.getvalue()
        # The one-line error (after argparse's usage lines, for a bad option).
        lines = err.getvalue().splitlines()
        first = next(i for i, line in enumerate(lines) if " error: " in line)
        raise CliError("\n".join(lines[first:]))

    return run


class CliError(DfkitError):
    """What the command printed on stderr, re-raised so the checks below apply to it."""


def _to_parquet_full(c: Ctx) -> Any:
    c.monkeypatch.setattr(pq, "write_table", _disk_full)
    return dfkit.to_parquet(c.df, c.tmp / "out.parquet")


def _results_to_parquet_full(c: Ctx) -> Any:
    (c.tmp / "ok").mkdir()
    (c.tmp / "ok" / "5_0.csv").write_text(CSV)
    c.monkeypatch.setattr(pq.ParquetWriter, "write_table", _disk_full)
    return dfkit.results_to_parquet(c.tmp / "ok", c.tmp / "records.parquet")


CASES: dict[str, Case] = {
    # a missing input file
    "downloads_frame-missing-file": Case(
        lambda c: dfkit.downloads_frame(c.tmp / "nope.json"), r"nope\.json", FileNotFoundError
    ),
    "read_parquet-missing-file": Case(
        lambda c: dfkit.read_parquet(c.tmp / "nope.parquet"), r"nope\.parquet"
    ),
    "read_results-missing-file": Case(
        lambda c: dfkit.read_results(c.tmp / "nope.csv"), r"nope\.csv", FileNotFoundError
    ),
    "read_results-dask-missing-file": Case(
        lambda c: (
            pytest.importorskip("dask.dataframe"),
            dfkit.read_results(c.tmp / "nope.csv", engine="dask"),
        ),
        r"nope\.csv",
        FileNotFoundError,
    ),
    "results_to_parquet-missing-dir": Case(
        lambda c: dfkit.results_to_parquet(c.tmp / "nodir", c.tmp / "o.parquet"),
        r"nodir",
        FileNotFoundError,
    ),
    # a directory where a file is expected
    "downloads_frame-directory": Case(
        lambda c: dfkit.downloads_frame(c.tmp / "adir.json"), r"adir\.json", ValueError
    ),
    "read_parquet-directory": Case(
        lambda c: dfkit.read_parquet(c.tmp / "adir.parquet"), r"adir\.parquet"
    ),
    "to_parquet-into-missing-dir": Case(
        lambda c: dfkit.to_parquet(c.df, c.tmp / "bad.json" / "out.parquet"), r"out\.parquet"
    ),
    # a bad argument
    "downloads_frame-per": Case(
        lambda c: dfkit.downloads_frame([DOWNLOAD], per="file"),  # type: ignore[arg-type]
        r"per\b.*'file'",
        ValueError,
    ),
    "records_over_time-freq": Case(
        lambda c: dfkit.records_over_time(c.df, freq="X"), r"freq\b.*'X'", ValueError
    ),
    "downloads_over_time-freq": Case(
        lambda c: dfkit.downloads_over_time(c.df, freq="X"), r"freq\b.*'X'", ValueError
    ),
    "credits_over_time-freq": Case(
        lambda c: dfkit.credits_over_time(c.df, freq="X"), r"freq\b.*'X'", ValueError
    ),
    "breakdown-by": Case(lambda c: dfkit.breakdown(c.df, by="nope"), r"'nope'", ValueError),
    "plot_breakdown-by": Case(
        lambda c: dfkit.plot_breakdown(c.df, by="nope"), r"'nope'", ValueError
    ),
    "plot_records_over_time-freq": Case(
        lambda c: dfkit.plot_records_over_time(c.df, freq="X"), r"freq\b.*'X'", ValueError
    ),
    "plot_downloads_over_time-freq": Case(
        lambda c: dfkit.plot_downloads_over_time(c.df, freq="X"), r"freq\b.*'X'", ValueError
    ),
    "plot_credits_over_time-freq": Case(
        lambda c: dfkit.plot_credits_over_time(c.df, freq="X"), r"freq\b.*'X'", ValueError
    ),
    "to_parquet-partition_by": Case(
        lambda c: dfkit.to_parquet(c.df, c.tmp / "ds", partition_by="nope"), r"nope"
    ),
    "read_results-per": Case(
        lambda c: dfkit.read_results(c.tmp / "cr", per="nope"), r"per|nope", ValueError
    ),
    "read_results-format": Case(
        lambda c: dfkit.read_results(c.tmp / "cr", format="xml"), r"format\b.*'xml'", ValueError
    ),
    "read_results-engine": Case(
        lambda c: dfkit.read_results(c.tmp / "cr", engine="spark"),  # type: ignore[call-overload]
        r"engine\b.*'spark'",
        ValueError,
    ),
    "fetch_results-workers": Case(
        lambda c: dfkit.fetch_results([DOWNLOAD], c.tmp / "f", workers=0), r"workers", ValueError
    ),
    "fetch_results-errors": Case(
        lambda c: dfkit.fetch_results(
            [DOWNLOAD],
            c.tmp / "f",
            errors="warn",  # type: ignore[arg-type]
        ),
        r"errors\b.*'warn'",
        ValueError,
    ),
    "Client-max_retries": Case(
        lambda c: dfkit.Client("t", max_retries=-1), r"max_retries", ValueError
    ),
    "Client-deadline": Case(lambda c: dfkit.Client("t", deadline=0), r"deadline", ValueError),
    "Client-max_body_bytes": Case(
        lambda c: dfkit.Client("t", max_body_bytes=0), r"max_body_bytes", ValueError
    ),
    "Client-base_url": Case(
        lambda c: dfkit.Client("t", base_url="ftp://example.com/v4"), r"base_url|ftp://", ValueError
    ),
    "Client-no-token": Case(
        lambda c: dfkit.Client(None, base_url=c.fake.url).downloads(), r"token"
    ),
    "Client-wait-poll_interval": Case(
        lambda c: _client(c).wait("847070", poll_interval=-1, progress=False),
        r"poll_interval",
        ValueError,
    ),
    # a non-frame
    "status_counts-non-frame": Case(
        lambda c: dfkit.status_counts([DOWNLOAD]),  # type: ignore[arg-type]
        r"df\b.*list",
        TypeError,
    ),
    "summary-non-frame": Case(
        lambda c: dfkit.summary("downloads.json"),  # type: ignore[arg-type]
        r"df\b.*str",
        TypeError,
    ),
    "plot_status_counts-non-frame": Case(
        lambda c: dfkit.plot_status_counts(None),  # type: ignore[arg-type]
        r"df\b.*None",
        TypeError,
    ),
    "to_parquet-non-frame": Case(
        lambda c: dfkit.to_parquet([DOWNLOAD], c.tmp / "o.parquet"),  # type: ignore[arg-type]
        r"df\b.*list",
        TypeError,
    ),
    "fetch_results-non-downloads": Case(
        lambda c: dfkit.fetch_results(42, c.tmp / "f"),  # type: ignore[arg-type]
        r"downloads\b.*int",
        TypeError,
    ),
    # .dfkit on a frame without the columns
    "accessor-no-columns": Case(
        lambda c: pd.DataFrame({"a": [1]}).dfkit.status_counts(), r"status", ValueError
    ),
    "accessor-plot-no-columns": Case(
        lambda c: pd.DataFrame({"a": [1]}).dfkit.plot_records_over_time(), r"num_records|status"
    ),
    "status_counts-no-columns": Case(
        lambda c: dfkit.status_counts(pd.DataFrame({"a": [1]})), r"status", ValueError
    ),
    # result files that cannot be read
    "read_results-truncated-gz": Case(
        lambda c: dfkit.read_results(c.tmp / "gz"), r"5_0\.csv\.gz", ValueError
    ),
    "results_to_parquet-truncated-gz": Case(
        lambda c: dfkit.results_to_parquet(c.tmp / "gz", c.tmp / "o.parquet"),
        r"5_0\.csv\.gz",
        ValueError,
    ),
    "read_results-unclosed-quote": Case(
        lambda c: dfkit.read_results(c.tmp / "quote"), r"5_0\.csv.*line 2", ValueError
    ),
    "read_results-empty-dir": Case(lambda c: dfkit.read_results(c.tmp / "adir.json"), r"adir"),
    # JSON that is not JSON, a number too large for a float
    "downloads_frame-bad-json-file": Case(
        lambda c: dfkit.downloads_frame(c.tmp / "bad.json"), r"bad\.json", ValueError
    ),
    "downloads_frame-bad-json-bytes": Case(
        lambda c: dfkit.downloads_frame(b'[{"id": 1,'), r"JSON", ValueError
    ),
    "downloads_frame-huge-int": Case(
        lambda c: dfkit.downloads_frame([{"id": 1, "total_cost": 10**400}]),
        r"total_cost",
        ValueError,
    ),
    "downloads_frame-huge-int-json": Case(
        lambda c: dfkit.downloads_frame(c.tmp / "big.json"), r"total_cost", ValueError
    ),
    "downloads_frame-huge-num_records": Case(
        lambda c: dfkit.downloads_frame([{"id": 1, "num_records": 10**400}]),
        r"num_records",
        ValueError,
    ),
    "Client-answer-not-json": Case(_not_json, r"/downloads"),
    "Client-retry-after-superscript": Case(_retry_after, r"429|/downloads"),
    # a full disk
    "to_parquet-disk-full": Case(_to_parquet_full, r"out\.parquet", OSError),
    "results_to_parquet-disk-full": Case(_results_to_parquet_full, r"records\.parquet", OSError),
    # the dfkit command: its one-line error names the culprit
    "cli-export-missing-file": Case(
        _cli(["export", "TMP/nope.json", "--out", "TMP/o.parquet"]), r"nope\.json"
    ),
    "cli-export-directory": Case(
        _cli(["export", "TMP/adir.json", "--out", "TMP/o.parquet"]), r"adir\.json"
    ),
    "cli-export-bad-json": Case(
        _cli(["export", "TMP/bad.json", "--out", "TMP/o.parquet"]), r"bad\.json"
    ),
    "cli-export-huge-int": Case(
        _cli(["export", "TMP/big.json", "--out", "TMP/o.parquet"]), r"total_cost"
    ),
    "cli-export-per": Case(
        _cli(["export", "TMP/bad.json", "--out", "TMP/o.parquet", "--per", "file"]),
        r"--per.*'file'",
    ),
    "cli-report-freq": Case(_cli(["report", "TMP/bad.json", "--freq", "X"]), r"freq.*'X'"),
    "cli-to-parquet-truncated-gz": Case(
        _cli(["results", "to-parquet", "TMP/gz", "--out", "TMP/o.parquet", "--no-progress"]),
        r"5_0\.csv\.gz",
    ),
    "cli-to-parquet-missing-dir": Case(
        _cli(["results", "to-parquet", "TMP/nodir", "--out", "TMP/o.parquet", "--no-progress"]),
        r"nodir",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_a_bad_input_raises_a_dfkit_error_naming_the_culprit(
    name: str,
    tmp_path: Path,
    files: Path,
    frame: pd.DataFrame,
    fake: FakeDatafiniti,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    try:
        case.call(Ctx(files, frame, fake, monkeypatch))
    except Exception as raised:  # any exception: the checks below say what was wrong
        exc = raised
    else:
        pytest.fail("nothing raised")
    assert isinstance(exc, DfkitError), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    if case.builtin is not None:
        assert isinstance(exc, case.builtin), type(exc).__mro__
    first = (str(exc).splitlines() or [""])[0]
    assert re.search(case.names, first), first


def test_a_csv_with_cr_only_line_endings_is_read_not_refused(files: Path) -> None:
    df = dfkit.read_results(files / "cr")
    assert df["name"].tolist() == ["Cafe", "Bar"]
    assert df["postalCode"].tolist() == ["02134", "10001"]
