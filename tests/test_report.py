"""The report: its files, a self-contained page that escapes every value, and its edge cases."""

from __future__ import annotations

import base64
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dfkit
from dfkit.analysis import records_over_time, summary
from dfkit.parquet import read_parquet
from dfkit.report import FILES, build_report, format_value, write_report
from dfkit.sample import sample_path
from dfkit.testing import FakeDatafiniti

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return write_report(dfkit.sample_downloads(), out, source="bundled sample")


def embedded_images(page: str) -> list[bytes]:
    return [
        base64.b64decode(m)
        for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    ]


def test_writes_every_file(sample_report: Path) -> None:
    folder = sample_report.parent
    assert sample_report.name == "report.html"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    for name in ("status_counts.png", "records_over_time.png"):
        assert (folder / name).read_bytes().startswith(PNG)


def test_parquet_files_restore_both_frames(sample_report: Path) -> None:
    folder = sample_report.parent
    sample = dfkit.sample_downloads()
    pd.testing.assert_frame_equal(
        read_parquet(folder / "downloads.parquet"), dfkit.downloads_frame(sample, per="download")
    )
    pd.testing.assert_frame_equal(
        read_parquet(folder / "results.parquet"), dfkit.downloads_frame(sample, per="result")
    )


def test_page_is_self_contained(sample_report: Path) -> None:
    page = sample_report.read_text(encoding="utf-8")
    folder = sample_report.parent
    images = embedded_images(page)
    # The very charts written beside the page, embedded byte for byte.
    assert images == [
        (folder / "status_counts.png").read_bytes(),
        (folder / "records_over_time.png").read_bytes(),
    ]
    assert not re.search(r'(src|href)="(?!data:)', page), "no external resource"
    assert "<script" not in page and "<link" not in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_page_shows_summary_statuses_and_periods(sample_report: Path) -> None:
    page = sample_report.read_text(encoding="utf-8")
    for status in dfkit.STATUSES:
        assert f"</span>{status}</td>" in page, status
    df = dfkit.downloads_frame(dfkit.sample_downloads(), per="download")
    records = int(df["num_records"].sum())
    assert f"{records:,}" in page
    assert f"{int(summary(df)['downloads']):,}" in page
    assert "Source: bundled sample" in page
    assert "Records requested per week" in page
    # The records table's total equals the records of downloads with a creation time.
    weekly = records_over_time(df, "W")
    assert f"{int(weekly.sum()):,}" in page
    assert f"{weekly.index[-1]:%Y-%m-%d}" in page


def test_every_value_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script>"
    downloads: list[dict[str, Any]] = [
        {
            "id": "1",
            "status": "queued",
            "num_records": 5,
            "created_at": "2025-03-03T10:00:00Z",
            "query": evil + " & more",
        },
        {"id": "2<b>", "status": "paused&<i>", "num_records": 7, "created_at": "2025-03-04"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dfkit.DfkitWarning)  # the unknown status
        page_path = write_report(downloads, tmp_path, source='"<em>mine</em>"')
    page = page_path.read_text(encoding="utf-8")
    assert "<script" not in page
    assert html_escaped(evil + " & more") in page
    assert "2&lt;b&gt;" in page and "<b>" not in page
    assert "paused&amp;&lt;i&gt;" in page and "<i>" not in page
    assert "&quot;&lt;em&gt;mine&lt;/em&gt;&quot;" in page and "<em>" not in page


def html_escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_empty_downloads_give_a_labelled_report(tmp_path: Path) -> None:
    page = write_report([], tmp_path).read_text(encoding="utf-8")
    assert len(embedded_images(page)) == 2
    assert "No downloads with a creation time." in page
    assert "Every download completed." in page
    assert read_parquet(tmp_path / "downloads.parquet").empty


def test_monthly_and_capped_daily_tables() -> None:
    monthly = build_report(dfkit.sample_downloads(), freq="MS")
    assert monthly.period == "month"
    page = monthly.html
    assert "Records requested per month" in page and "<th>Month</th>" in page
    first = monthly.periods.index[0]
    assert f"<td>{first:%Y-%m}</td>" in page

    daily = build_report(dfkit.sample_downloads(), freq="D")
    assert len(daily.periods) > 60
    assert f"The last 60 of {len(daily.periods):,} days" in daily.html


def test_bad_freq_is_refused() -> None:
    with pytest.raises(ValueError, match="freq"):
        build_report([], freq="fortnight")


def test_sources_are_labelled(tmp_path: Path) -> None:
    assert build_report(sample_path()).source == f"file {sample_path()}"
    assert build_report([]).source == "downloads given"
    with (
        FakeDatafiniti(downloads=dfkit.sample_downloads()[:5]) as fake,
        dfkit.Client(fake.token, base_url=fake.url) as client,
    ):
        live = build_report(client=client)
    assert live.source == f"live API ({fake.url})"
    assert live.statuses["downloads"].sum() == 5


def test_rewrite_keeps_other_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    write_report(dfkit.sample_downloads()[:3], tmp_path)
    write_report(dfkit.sample_downloads(), tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([*FILES, "notes.txt"])
    assert len(read_parquet(tmp_path / "downloads.parquet")) == len(dfkit.sample_downloads())


def test_failed_render_leaves_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(dfkit.sample_downloads()[:3], tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def boom(report: Any) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("dfkit.report._render_html", boom)
    with pytest.raises(RuntimeError):
        write_report(dfkit.sample_downloads(), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


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
