"""The report: its files, a self-contained page that escapes every value, and its edge cases."""

from __future__ import annotations

import base64
import html
import json
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dfkit
from dfkit.parquet import read_parquet
from dfkit.report import FILES, Report, build_report, format_value, write_report
from dfkit.testing import FakeDatafiniti

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    return write_report(dfkit.sample_downloads(), out, source="bundled sample")


def embedded_images(page: str) -> list[bytes]:
    return [
        base64.b64decode(m)
        for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    ]


def text_of(page: str) -> str:
    """Return the page's visible text (tags dropped, entities decoded), for "what people see"."""
    body = page.split("<body>", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', page)


def assert_well_formed(report: Report, page: str) -> None:
    """The structure every report has, whatever its data."""
    # Every chart is embedded, byte for byte, in file order.
    assert embedded_images(page) == list(report.images.values())
    # No table without rows, and no row of zeros in the period table.
    for body in re.findall(r"<tbody>(.*?)</tbody>", page, flags=re.S):
        assert "<tr" in body
    time_section = re.search(r'<section id="time">(.*?)</section>', page, flags=re.S)
    if time_section is not None:
        rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", time_section.group(1))
        assert rows and all(downloads != "0" for _, downloads in rows)
    # People's words, not raw labels.
    visible = text_of(page)
    assert "in_progress" not in visible
    # The headline figures are said once (no summary table repeating the tiles).
    for label in ("Downloads completed", "Period covered", "Records requested "):
        assert visible.count(label) <= 1, label
    assert not re.search(r'(src|href)="(?!data:)', page), "no external resource"
    assert "<script" not in page and "<link" not in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_writes_the_files_it_lists(sample_report: Path) -> None:
    folder = sample_report.parent
    assert sample_report.name == "report.html"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)  # the sample has it all
    for name in FILES:
        if name.endswith(".png"):
            assert (folder / name).read_bytes().startswith(PNG)


def test_parquet_files_restore_both_frames(sample_report: Path) -> None:
    folder = sample_report.parent
    sample = dfkit.sample_downloads()
    pd.testing.assert_frame_equal(
        read_parquet(folder / "downloads.parquet"), dfkit.downloads_frame(sample, per="download")
    )
    per_result = dfkit.downloads_frame(sample, per="result")
    unsigned_urls = per_result["url"].str.split("?", n=1).str[0].astype(per_result["url"].dtype)
    pd.testing.assert_frame_equal(
        read_parquet(folder / "results.parquet"), per_result.assign(url=unsigned_urls)
    )


def test_no_signed_link_in_the_forwardable_directory(sample_report: Path) -> None:
    assert "X-Amz-Signature" in json.dumps(dfkit.sample_downloads())  # the sample is signed
    for path in sample_report.parent.iterdir():
        data = path.read_bytes()
        assert b"X-Amz-" not in data and b"Signature" not in data, path.name
    visible = text_of(sample_report.read_text(encoding="utf-8"))
    assert "without their signature" in visible


def test_sample_page_tells_the_story_in_order(sample_report: Path) -> None:
    page = sample_report.read_text(encoding="utf-8")
    folder = sample_report.parent
    images = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix == ".png"}
    assert sorted(embedded_images(page)) == sorted(images.values())
    assert section_ids(page) == ["status", "time", "data-types", "completion"]
    visible = text_of(page)
    df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    for figure in (
        f"{len(df):,} Downloads",
        f"{int(df['num_records'].sum()):,} Records requested",
        f"{df['total_cost'].sum():,.0f} Credits spent",
        "94.0% Downloads completed",
        "May 2025 – Oct 2026 Period covered",
        "1 min 36 s Median time to complete",
    ):
        assert " ".join(figure.split()) in " ".join(visible.split()), figure
    for words in ("Queued", "In progress", "Completed", "Cancelled"):
        assert f"</span>{words}</td>" in page
    assert "Over time, per month" in visible  # 18 months of data: months
    assert "Source: bundled sample" in visible
    assert "one row per result file (downloads without files keep one row)" in visible
    # Not completed: newest first, with an age.
    open_ids = re.findall(r'<tr class="above"><td>(\d+)</td>', page)
    created = df.set_index("id").loc[open_ids, "created_at"]
    assert open_ids and created.is_monotonic_decreasing
    assert len(open_ids) == int((df["status"] != "completed").sum())
    assert re.search(r"<td>\d+ days</td>", page)


def downloads(**changes: Any) -> list[dict[str, Any]]:
    return [dict(d, **changes) for d in dfkit.sample_downloads()]


EDGE_CASES: dict[str, Any] = {
    "one download": lambda: dfkit.sample_downloads()[:1],
    "all cancelled": lambda: downloads(status="cancelled"),
    "no total_cost": lambda: [
        {k: v for k, v in d.items() if k != "total_cost"} for d in dfkit.sample_downloads()
    ],
    "one day": lambda: downloads(
        date_started="2026-03-04T10:00:00Z", date_updated="2026-03-04T11:30:00Z"
    ),
    "years 1 and 9999": lambda: [
        dict(dfkit.sample_downloads()[2], date_started="0001-01-01T00:00:00Z",
             date_updated="0001-01-01T00:05:00Z"),
        dict(dfkit.sample_downloads()[3], date_started="9999-12-31T00:00:00Z",
             date_updated="9999-12-31T02:00:00Z"),
        dict(dfkit.sample_downloads()[0], date_started="9999-06-30T00:00:00Z"),
    ],
    "created in year 1, updated in 9999": lambda: [
        {"id": "a", "status": "completed", "num_records": 1,
         "created_at": "0001-01-01T00:00:00Z", "date_updated": "9999-12-31T23:59:59Z"}
    ],
    "$x$ in a status": lambda: downloads(status=r"$\frac{x$"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_inputs_give_a_well_formed_page(case: str, tmp_path: Path) -> None:
    data = EDGE_CASES[case]()
    for d in data:  # the sample's own spellings would win over the edited ones
        if "date_started" in d:
            d.pop("created_at", None), d.pop("updated_at", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dfkit.DfkitWarning)  # unknown statuses
        report = build_report(data, source=case)
        page_path = report.write(tmp_path / "r")
    page = page_path.read_text(encoding="utf-8")
    assert_well_formed(report, page)
    assert sorted(p.name for p in page_path.parent.iterdir()) == sorted(report.files())
    ids = section_ids(page)
    df = report.per_download
    assert ("completion" in ids) == bool((df["status"] == "completed").any())
    assert ("credits_over_time.png" in report.images) == ("total_cost" in df.columns)
    assert "Credits spent" in text_of(page) or "total_cost" not in df.columns
    if case == "one day":
        assert report.period == "day" and len(report.periods) == 1
    if case == "all cancelled":
        assert "Every download completed" not in page and "completion" not in ids
    if case == "years 1 and 9999":
        assert report.period == "year"
        assert "<td>0001</td>" in page and "<td>9999</td>" in page
    if case == "created in year 1, updated in 9999":
        assert "9,999 years Median time to complete" in " ".join(text_of(page).split())
    if case == "$x$ in a status":
        assert html.escape(r"$\frac{x$") in page


def test_an_update_before_the_start_is_left_out_and_said(tmp_path: Path) -> None:
    data = [
        {"id": "a", "status": "completed", "num_records": 1, "created_at": "2025-01-02",
         "updated_at": "2025-01-01T06:00:00Z"},
        {"id": "b", "status": "completed", "num_records": 1, "created_at": "2025-01-02",
         "updated_at": "2025-01-02T06:00:00Z"},
    ]  # fmt: skip
    visible = " ".join(text_of(write_report(data, tmp_path / "r").read_text("utf-8")).split())
    assert not re.search(r"[-−]\s?\d[\d,.]* (s|min|h|days?|years?)\b", visible)
    assert "6 h Median time to complete" in visible
    assert "Left out: 1 completed download whose last update ( updated_at ) is earlier" in visible
    # Every completed download backwards: no figures, but the page still says why.
    report = build_report(data[:1])
    visible = " ".join(text_of(report.html).split())
    assert "Median time to complete" not in visible and "completion_times.png" not in report.images
    assert "Left out: 1 completed download" in visible


def test_empty_downloads_give_a_short_page(tmp_path: Path) -> None:
    report = build_report([])
    page = report.write(tmp_path / "r").read_text(encoding="utf-8")
    assert section_ids(page) == ["empty"] and not report.images
    assert_well_formed(report, page)
    assert read_parquet(tmp_path / "r" / "downloads.parquet").empty


def test_every_value_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script>"
    rows: list[dict[str, Any]] = [
        {
            "id": "1",
            "status": "queued",
            "num_records": 5,
            "created_at": "2025-03-03T10:00:00Z",
            "query": evil + " & more",
            "data_type": "<i>odd</i>",
        },
        {"id": "2<b>", "status": "paused&<i>", "num_records": 7, "created_at": "2025-03-04"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dfkit.DfkitWarning)  # the unknown status
        page_path = write_report(rows, tmp_path / "r", source='"<em>mine</em>"')
    page = page_path.read_text(encoding="utf-8")
    assert "<script" not in page
    assert html.escape(evil + " & more") in page
    assert "2&lt;b&gt;" in page and "<b>" not in page
    assert "Paused&amp;&lt;i&gt;" in page and "<i>" not in page
    assert "&quot;&lt;em&gt;mine&lt;/em&gt;&quot;" in page and "<em>" not in page


def test_the_table_builder_escapes_every_cell() -> None:
    from dfkit._report_html import Code, Dot, Table, render_table

    out = render_table(
        Table(
            ["<h>"],
            [[Dot("<d>", '"red"'), Code("<c>")]],
            total=["<t>"],
            below=["<q>"],
        )
    )
    assert not re.search(r"<[hdctq]>", out)
    assert out.count("&lt;") == 5 and "&quot;red&quot;" in out


def test_freq_given_or_chosen_from_the_span(sample_report: Path) -> None:
    assert "Over time, per month" in sample_report.read_text(encoding="utf-8")
    weekly = build_report(dfkit.sample_downloads()[:60], freq="W")
    assert weekly.period == "week" and "Over time, per week" in weekly.html
    assert len(weekly.periods) < len(dfkit.downloads_over_time(weekly.per_download, "W"))
    assert (weekly.periods["downloads"] > 0).all()  # weeks without downloads are not rows
    with pytest.raises(dfkit.ArgumentError, match=r"^freq: .*got 'fortnight'"):
        build_report([], freq="fortnight")


def test_sources_are_labelled(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text(json.dumps(dfkit.sample_downloads()[:2]), encoding="utf-8")
    assert build_report(path).source == f"file {path}"
    assert build_report([]).source == "downloads given"
    with (
        FakeDatafiniti(downloads=dfkit.sample_downloads()[:5]) as fake,
        dfkit.Client(fake.token, base_url=fake.url) as client,
    ):
        live = build_report(client=client)
    assert live.source == f"live API ({fake.url})"
    assert live.statuses["downloads"].sum() == 5


def test_rewrite_replaces_the_report_whole(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write_report(dfkit.sample_downloads()[:3], out)
    (out / "status_counts.png").write_bytes(PNG)  # a chart of an earlier dfkit version
    write_report(dfkit.sample_downloads()[:4], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert len(read_parquet(out / "downloads.parquet")) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # nothing left beside it


def test_a_directory_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(dfkit.ArgumentError, match=r"^out: .*\(notes\.txt\)"):
        write_report(dfkit.sample_downloads()[:3], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(dfkit.ArgumentError, match="not a directory"):
        write_report([], tmp_path / "file")


def test_failed_render_leaves_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(dfkit.sample_downloads()[:3], tmp_path / "r")
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}

    def boom(page: Any) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("dfkit.report.render_page", boom)
    with pytest.raises(RuntimeError):
        write_report(dfkit.sample_downloads()[:4], tmp_path / "r")
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == before


KILL_MIDWAY = """
import os, signal, sys
import dfkit, dfkit.report

def to_parquet_then_die(df, path, **kwargs):
    written = dfkit.parquet.to_parquet(df, path, **kwargs)
    if path.name == "results.parquet":  # run 2's data is on disk, its page is not
        os.kill(os.getpid(), signal.SIGKILL)
    return written

dfkit.report.to_parquet = to_parquet_then_die
dfkit.report.write_report(dfkit.sample_downloads()[:7], sys.argv[1])
"""


def test_a_report_killed_midway_leaves_the_previous_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write_report(dfkit.sample_downloads()[:5], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    killed = subprocess.run(
        [sys.executable, "-c", KILL_MIDWAY, str(out)], capture_output=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # The page and the Parquet files are still those of run 1, together.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert len(read_parquet(out / "downloads.parquet")) == 5
    # The next run completes over whatever the killed one left beside ``out``.
    write_report(dfkit.sample_downloads()[:6], out)
    assert len(read_parquet(out / "downloads.parquet")) == 6
    assert "6 rows" in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("downloads", 1234567, "1,234,567"),
        ("share_completed", 0.5, "50.0%"),
        ("share_completed", 0.0, "0.0%"),
        ("first_created", pd.NaT, "–"),
        ("result_files", pd.NA, "–"),
        ("median_completion_time", pd.Timedelta(hours=3, minutes=5), "3 h 5 min"),
        ("median_completion_time", pd.Timedelta(days=3, hours=1), "3 days 1 h"),
        ("median_completion_time", pd.Timedelta(seconds=42), "42 s"),
        ("total_cost", 12.5, "12.50"),
    ],
)
def test_format_value(name: str, value: Any, shown: str) -> None:
    assert format_value(name, value) == shown
