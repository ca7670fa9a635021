"""The ``dfkit`` command: end to end in subprocesses (sample, file, fake server), else in-process.

Subprocesses cost 1-2 s each (pandas and matplotlib start up), so only the end-to-end runs use
them; argument handling and error paths call ``dfkit.cli.main`` directly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

import dfkit
from dfkit.cli import build_parser, main
from dfkit.parquet import read_parquet
from dfkit.plots import status_label
from dfkit.report import FILES
from dfkit.sample import sample_path
from dfkit.testing import FakeDatafiniti

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TOKEN = "tok-cli-Very-Secret-0042"
# The console script next to this interpreter (the venv's), else ``python -m dfkit``.
SCRIPT = Path(sys.executable).with_name("dfkit")
DFKIT = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "dfkit"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAFINITI_")}
    env.update(MPLBACKEND="Agg", PYTHONIOENCODING="utf-8", **extra)
    return env


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    result = subprocess.run(
        [*DFKIT, *args],
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert TOKEN not in result.stdout + result.stderr
    return result


def assert_report(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    assert set(names) <= set(FILES) and "report.html" in names
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(
        [n for n in names if n.endswith(".png")]
    )
    for status in dfkit.STATUSES:
        assert f"</span>{status_label(status)}</td>" in page
    return page


@pytest.fixture
def fake() -> Iterator[FakeDatafiniti]:
    with FakeDatafiniti(
        downloads=dfkit.sample_downloads()[:12], token=TOKEN, records_per_file=40
    ) as server:
        yield server


@pytest.fixture
def api_env(fake: FakeDatafiniti, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment pointing at the fake server, in this process and for subprocesses."""
    monkeypatch.setenv("DATAFINITI_API_URL", fake.url)
    monkeypatch.setenv("DATAFINITI_API_TOKEN", TOKEN)
    return clean_env(DATAFINITI_API_URL=fake.url, DATAFINITI_API_TOKEN=TOKEN)


@pytest.fixture
def no_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    monkeypatch.delenv("DATAFINITI_API_URL", raising=False)


def queued(fake: FakeDatafiniti, download_id: str = "9001") -> str:
    fake.add_download(
        {
            "id": download_id,
            "status": "queued",
            "num_records": 90,
            "num_downloaded": 0,
            "format": "CSV",
            "data_type": "product",
            "date_started": "2026-11-01T09:00:00Z",
            "results": [],
        }
    )
    with fake.lock:
        fake._polls[download_id] = 0  # moves on as it is polled, like a started download
    return download_id


# ---------------------------------------------------------------------------- end to end


def test_report_sample_subprocess(tmp_path: Path) -> None:
    r = run("report", "--sample", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Source: bundled sample\n")
    for status in dfkit.STATUSES:
        assert re.search(rf"^  {status_label(status)} +\d", r.stdout, re.M), status
    assert "Downloads completed" in r.stdout and "94.0%" in r.stdout
    assert_report(tmp_path / "out")


def test_report_file_with_python_m(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "dfkit", "report", sample_path(), "--freq", "MS"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Source: file {sample_path()}\n")
    page = assert_report(tmp_path / "report")  # the default --out
    assert "Over time, per month" in page


def test_live_api_workflow(tmp_path: Path, fake: FakeDatafiniti, api_env: dict[str, str]) -> None:
    download_id = queued(fake)
    r = run("wait", download_id, "--poll-interval", "0.05", "--timeout", "30", env=api_env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Download {download_id} completed: 90 records in 3 result files\n"

    r = run("fetch", "--out", "downloads.json", env=api_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    saved = orjson.loads((tmp_path / "downloads.json").read_bytes())
    assert len(saved) == 13 and r.stdout == "Saved 13 downloads to downloads.json\n"

    r = run("report", "--out", "live", env=api_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Source: live API ({fake.url})\n")
    assert_report(tmp_path / "live")

    r = run("export", "downloads.json", "--out", "d.parquet", "--per", "download", env=api_env,
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert len(read_parquet(tmp_path / "d.parquet")) == 13

    r = run("results", "fetch", "downloads.json", "--dest", "data", "--id", download_id,
            env=api_env, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        f"{download_id}_{n}.csv" for n in range(3)
    ]
    assert r.stdout.startswith("3 result files of 1 completed download in data: 3 downloaded")
    assert not fake.requests_to("/s3/*", "GET")[0].headers.get("Authorization")

    r = run("results", "to-parquet", "data", "--out", "records.parquet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    records = dfkit.read_results(tmp_path / "data")
    assert r.stdout.startswith(f"Wrote {len(records):,} rows")
    assert (tmp_path / "records.parquet").exists()


def test_errors_are_one_line_and_never_show_the_token(tmp_path: Path, fake: FakeDatafiniti) -> None:
    r = run("export", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.parquet"))
    assert r.returncode == 1
    assert r.stderr == f"dfkit: error: {tmp_path / 'missing.json'}: No such file or directory\n"
    assert r.stdout == ""

    r = run("--verbose", "export", str(tmp_path / "missing.json"), "--out", "x.parquet")
    assert r.returncode == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert r.stderr.endswith("No such file or directory\n")

    wrong = clean_env(DATAFINITI_API_URL=fake.url, DATAFINITI_API_TOKEN=TOKEN + "-wrong")
    r = run("fetch", "--out", str(tmp_path / "f.json"), "--verbose", env=wrong)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("dfkit: error: 401 Unauthorized")
    assert TOKEN not in r.stderr  # the token also stays out of the traceback
    assert not (tmp_path / "f.json").exists()

    r = run("report", "--freq", "fortnight")
    assert r.returncode == 2
    assert "--freq: expected D, W, MS (or M)" in r.stderr and "got 'fortnight'" in r.stderr


# ---------------------------------------------------------------------------- in-process


def commands(
    parser: argparse.ArgumentParser, prefix: str = "dfkit"
) -> Iterator[tuple[str, argparse.ArgumentParser, str | None]]:
    """Yield (full command, its parser, its one-line help) for every (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub, helps.get(name)
                yield from commands(sub, f"{prefix} {name}")


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    found = list(commands(build_parser()))
    names = [name for name, _, _ in found]
    assert names == [
        "dfkit report",
        "dfkit fetch",
        "dfkit export",
        "dfkit wait",
        "dfkit results",
        "dfkit results fetch",
        "dfkit results to-parquet",
    ]
    for name, parser, summary in found:
        assert summary, f"{name} has no one-line help"
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
        assert name in readme, f"{name} is not in README.md"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["report", "--help"],
        ["fetch", "--help"],
        ["export", "--help"],
        ["wait", "--help"],
        ["results", "--help"],
        ["results", "fetch", "--help"],
        ["results", "to-parquet", "--help"],
    ],
)
def test_help_exits_zero(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: dfkit")
    assert "DATAFINITI_API_TOKEN" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required"),
        (["frobnicate"], "invalid choice"),
        (["report", "x.json", "--sample"], "not allowed with"),
        (["report", "--freq", "X"], "got 'X'"),
        (["export", "x.json"], "--out"),
        (["export", "x.json", "--out", "y", "--per", "row"], "invalid choice"),
        (["wait"], "ID"),
        (["wait", "1", "--timeout", "-3"], "must be 0 or more"),
        (["wait", "1", "--timeout", "soon"], "not a number"),
        (["results"], "required"),
        (["results", "fetch", "x.json"], "--dest"),
        (["results", "fetch", "x.json", "--dest", "d", "--workers", "0"], "must be 1 or more"),
        (["results", "to-parquet", "d"], "--out"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"dfkit {dfkit.__version__}\n"


def test_report_without_token_uses_the_sample_and_says_so(
    tmp_path: Path, no_api: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--out", str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "Source: bundled sample "
        "(DATAFINITI_API_TOKEN is not set; set it to report on your own downloads)"
    )
    assert_report(tmp_path)


def test_report_open(
    tmp_path: Path,
    no_api: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert main(["report", "--sample", "--out", str(tmp_path), "--open"]) == 0
    assert opened == [(tmp_path / "report.html").resolve().as_uri()]


def test_commands_needing_the_api_say_so_without_a_token(
    no_api: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["fetch"], ["wait", "1"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err == (
            "dfkit: error: no API token: set DATAFINITI_API_TOKEN "
            "(copy the token from the Datafiniti web portal)\n"
        )


def test_fetch_to_stdout(api_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--out", "-"]) == 0
    out = capsys.readouterr().out
    assert [d["id"] for d in json.loads(out)] == [d["id"] for d in dfkit.sample_downloads()[:12]]


def test_wait_cancelled_and_timeout(
    fake: FakeDatafiniti, api_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.cancel(queued(fake, "77"), after_polls=1)
    assert main(["wait", "77", "--poll-interval", "0"]) == 1
    assert capsys.readouterr().err == "dfkit: error: download 77 was cancelled\n"

    fake.add_download({"id": "78", "status": "queued", "num_records": 5})  # never moves on
    assert main(["wait", "78", "--poll-interval", "0", "--timeout", "0"]) == 1
    assert capsys.readouterr().err == "dfkit: error: download 78 still queued after 0 s\n"

    assert main(["wait", "404404", "--poll-interval", "0"]) == 1
    assert "404 Not Found" in capsys.readouterr().err


def test_export_dataset_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    raw = Path(sample_path()).read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = tmp_path / "by_status"
    assert main(["export", "-", "--out", str(out), "--partition-by", "status"]) == 0
    assert "a dataset partitioned by status" in capsys.readouterr().out
    assert (out / "status=completed").is_dir()
    expected = dfkit.downloads_frame(dfkit.sample_downloads())
    assert (read_parquet(out)["status"] == "completed").sum() == (
        expected["status"] == "completed"
    ).sum()


def test_export_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 1, "status": "completed", "num_records": "many"}, {"id": 2}')
    assert main(["export", str(bad), "--out", str(tmp_path / "x.parquet")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dfkit: error: cannot parse {bad} as JSON") and err.count("\n") == 1

    bad.write_text('[{"id": 1, "status": "completed", "num_records": "many"}]')
    assert main(["export", str(bad), "--out", str(tmp_path / "x.parquet")]) == 1
    err = capsys.readouterr().err
    assert err == "dfkit: error: records[0].num_records: expected an integer, got 'many'\n"

    bad.write_text(
        orjson.dumps([{"id": str(i), "num_records": "many"} for i in range(30)]).decode()
    )
    assert main(["export", str(bad), "--out", str(tmp_path / "x.parquet")]) == 1
    first, *listed = capsys.readouterr().err.splitlines()
    assert first == (
        "dfkit: error: records[0].num_records: expected an integer, got 'many' "
        "(and 29 more bad values)"
    )
    assert (
        len(listed) == 21
        and listed[0] == "  records[0].num_records: expected an integer, got 'many'"
    )
    assert listed[-1] == "  ... and 10 more (see .problems)" and "Traceback" not in first

    args = ["export", sample_path(), "--out", str(tmp_path / "x"), "--partition-by", "nope"]
    assert main(args) == 1
    assert "partition_by='nope' is not a column" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_results_fetch_errors(
    tmp_path: Path,
    fake: FakeDatafiniti,
    api_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "downloads.json"
    source.write_bytes(orjson.dumps(list(fake.downloads.values())))
    dest = str(tmp_path / "data")

    assert main(["results", "fetch", str(source), "--dest", dest, "--id", "nope"]) == 1
    assert capsys.readouterr().err == "dfkit: error: no download with id nope in SOURCE\n"

    done = next(d for d in fake.downloads.values() if d["status"] == "completed")
    fake.inject(f"/s3/*/{done['id']}_0.*", status=404, times=100)
    assert main(["results", "fetch", str(source), "--dest", dest, "--id", str(done["id"])]) == 1
    err = capsys.readouterr().err
    # One failure: the one line says which file and why.
    assert err.startswith(f"dfkit: error: 1 of 1 result file failed; {done['id']}_0: ")
    assert "HTTP 404" in err and err.count("\n") == 1


def test_results_fetch_resumes_and_converts_partitioned(
    tmp_path: Path,
    fake: FakeDatafiniti,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No token: the links in the file are used as they are, without the API.
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    source = tmp_path / "downloads.json"
    source.write_bytes(orjson.dumps(list(fake.downloads.values())))
    dest = tmp_path / "data"
    assert main(["results", "fetch", str(source), "--dest", str(dest)]) == 0
    first = capsys.readouterr().out
    n_files = len(list(dest.iterdir()))
    assert f"{n_files} downloaded, 0 already present, 0 failed" in first
    assert "with nothing to fetch (not completed, or no result files)" in first

    assert main(["results", "fetch", str(source), "--dest", str(dest)]) == 0
    assert f"0 downloaded, {n_files} already present, 0 failed" in capsys.readouterr().out

    out = tmp_path / "records"
    args = ["results", "to-parquet", str(dest), "--out", str(out), "--partition-by", "download_id"]
    assert main(args) == 0
    assert "a dataset partitioned by download_id" in capsys.readouterr().out
    assert any(p.name.startswith("download_id=") for p in out.iterdir())


def test_results_to_parquet_data_type_gives_every_catalogued_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "9_0.txt").write_text('{"id": "a", "brand": "Sony"}\n')
    out = tmp_path / "p.parquet"
    args = ["results", "to-parquet", str(tmp_path / "9_0.txt"), "--out", str(out)]
    assert main([*args, "--data-type", "product"]) == 0
    names = pq.read_schema(out).names
    assert {"asins", "prices", "reviews", "upc"} <= set(names) and "postalCode" not in names
    with pytest.raises(SystemExit) as usage:  # argparse: not a data type
        main([*args, "--data-type", "cars"])
    assert usage.value.code == 2
    assert "data_type must be one of business, product, property, people, not 'cars'" in (
        capsys.readouterr().err
    )
    assert main([*args, "--data-type", "Products"]) == 0  # the API's spellings too
    assert set(pq.read_schema(out).names) == set(names)


def test_results_fetch_max_file_bytes(
    tmp_path: Path,
    fake: FakeDatafiniti,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    source = tmp_path / "downloads.json"
    source.write_bytes(orjson.dumps(list(fake.downloads.values())[:3]))
    args = ["results", "fetch", str(source), "--dest", str(tmp_path / "data")]
    assert main([*args, "--max-file-bytes", "100"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dfkit: error: 1 of 1 result file failed; 701385_0: ")
    assert "over max_file_bytes=100 (pass a larger max_file_bytes" in err
    assert main([*args, "--max-file-bytes", str(1 << 30)]) == 0


def test_readme_schema_table_is_generated_from_the_schema() -> None:
    readme = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- schema -->\n(.*?)<!-- /schema -->", readme, re.S)
    assert match, "README.md has no <!-- schema --> ... <!-- /schema --> block"
    assert match.group(1) == dfkit.schema_markdown(), (
        "README's schema table is stale: paste dfkit.schema_markdown() between the markers"
    )


def readme_python_blocks() -> list[str]:
    readme = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    # The blocks that use dfkit run here; the others need an engine (Spark, Dask) and data.
    return [b for b in blocks if "import dfkit" in b]


@pytest.mark.parametrize("block", readme_python_blocks())
def test_readme_python_examples_run(
    block: str, tmp_path: Path, no_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})


def test_readme_duckdb_sql_gives_the_numbers_it_shows(
    tmp_path: Path, no_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's DuckDB block, run on the files it names, as `make report` writes them."""
    import duckdb

    from dfkit.report import write_report
    from dfkit.results import results_to_parquet

    readme = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", readme, re.S)
    [block] = [b for b in blocks if "FROM 'report/" in b]  # DuckDB's; the others need a warehouse
    statements = [s.strip() for s in block.split(";") if s.strip()]
    monkeypatch.chdir(tmp_path)
    write_report(Path(sample_path()), "report")
    data = Path("data")
    data.mkdir()
    for name, rows in (("701400_0.csv", 3), ("701400_1.csv", 2), ("701385_0.csv", 4)):
        lines = ["name,postalCode", *(f"shop {k},0213{k}" for k in range(rows))]
        (data / name).write_text("\n".join(lines) + "\n")
    results_to_parquet(data, "records", partition_by="download_id")

    def run(sql: str) -> list[tuple[Any, ...]]:
        body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        return duckdb.sql(body).fetchall()

    by_status, files, records = (run(s) for s in statements)
    sample = dfkit.downloads_frame(dfkit.sample_downloads())
    counts = dfkit.status_counts(sample)
    records_by_status = sample.groupby("status", observed=False)["num_records"].sum()
    assert {status: n for status, n, _ in by_status} == {k: v for k, v in counts.items() if v}
    assert {status: r for status, _, r in by_status} == {
        k: v for k, v in records_by_status.items() if counts[k]
    }
    shown = re.search(r"-- (completed .*)", block)
    assert shown and shown.group(1) == " / ".join(f"{s} {n} {r}" for s, n, r in by_status)
    assert files == [(len(sample), int(sample["num_results"].sum()))]
    assert f"-- {files[0][0]} {files[0][1]}:" in block
    assert sorted(records) == [(701385, 4), (701400, 5)]  # hive partition values read as integers


def test_results_to_parquet_on_a_folder_without_result_files_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.md").write_text("no result files here")
    assert main(["results", "to-parquet", str(tmp_path), "--out", str(tmp_path / "o.parquet")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dfkit: error: no result files in {tmp_path}")
    assert not (tmp_path / "o.parquet").exists()


def test_results_to_parquet_shows_bytes_read_with_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "1_0.csv").write_text("id,reviews.rating\n" + "a,5\n" * 5000)
    (tmp_path / "1_1.txt").write_text('{"id": "b", "reviews": [{"rating": 4}]}\n' * 500)
    args = ["results", "to-parquet", str(tmp_path), "--out", str(tmp_path / "o.parquet")]
    assert main([*args, "--progress", "--per", "reviews"]) == 0
    captured = capsys.readouterr()
    assert "Wrote 5,500 rows" in captured.out
    total = sum(p.stat().st_size for p in tmp_path.glob("1_*"))
    assert "100%" in captured.err and "results" in captured.err
    assert f"{total / 1024:.1f}k" in captured.err or "kB" in captured.err or "k/" in captured.err


def test_storage_option_secrets_stay_text_and_are_masked() -> None:
    from dfkit import cli

    pairs = [cli._storage_pair(v) for v in ("account_key=12345678", "sas_token=00012", "n=5")]
    assert cli._storage_options(pairs) == {"account_key": "12345678", "sas_token": "00012", "n": 5}
    assert cli._redact("key 12345678 refused") == "key *** refused"


def test_storage_options_that_conflict_are_refused() -> None:
    from dfkit import cli

    pairs = [
        cli._storage_pair(v) for v in ("client_kwargs.endpoint_url=http://x", "client_kwargs=1")
    ]
    with pytest.raises(ValueError, match=r"client_kwargs\.endpoint_url is already set"):
        cli._storage_options(pairs)
