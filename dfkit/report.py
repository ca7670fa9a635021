"""The downloads report: two Parquet files, two charts and one self-contained HTML page.

:func:`build_report` computes everything in memory (both frames, the summary, the tables, the
charts as PNG bytes and the page); :meth:`Report.write` then writes the files into a directory;
:func:`write_report` does both. ``dfkit report`` is a thin layer over them::

    report/
      report.html            one page, images embedded: attach it to an email as it is
      downloads.parquet      one row per download       (dfkit.read_parquet restores it)
      results.parquet        one row per result file
      status_counts.png      downloads per status
      records_over_time.png  records requested per period, one line per status

Every file is written atomically, ``report.html`` last, so a report whose page exists is
complete; other files already in the directory are left alone. Every value shown in the page
is escaped.

>>> import dfkit, tempfile
>>> path = write_report(dfkit.sample_downloads(), tempfile.mkdtemp(), source="bundled sample")
>>> sorted(p.name for p in path.parent.iterdir())  # doctest: +NORMALIZE_WHITESPACE
['downloads.parquet', 'records_over_time.png', 'report.html', 'results.parquet',
 'status_counts.png']
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dfkit._atomic import atomic_file
from dfkit.analysis import FREQS, records_over_time, status_counts, summary
from dfkit.frame import downloads_frames
from dfkit.parquet import to_parquet
from dfkit.plots import plot_records_over_time, plot_status_counts, status_color

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from dfkit.client import Client

__all__ = ["FILES", "Report", "build_report", "write_report"]

#: The files of a report directory and what each holds, in the order they are written.
FILES: dict[str, str] = {
    "downloads.parquet": "one row per download",
    "results.parquet": "one row per result file",
    "status_counts.png": "downloads per status",
    "records_over_time.png": "records requested per period, by status",
    "report.html": "the page: summary, tables and charts, images embedded",
}
#: How many not-completed downloads the page lists (the Parquet files hold them all).
OPEN_ROWS = 25
#: How many periods (the most recent) the records table lists; the chart shows them all.
PERIOD_ROWS = 60

_SUMMARY_LABELS = {
    "downloads": "Downloads",
    "result_files": "Result files",
    "records": "Records requested",
    "records_completed": "Records in completed downloads",
    "share_completed": "Downloads completed",
    "first_created": "First download",
    "last_created": "Last download",
    "median_completion_time": "Median time to complete",
}
# The headline tiles at the top of the page (the rest go into the summary table below them).
_TILES = ("downloads", "records", "share_completed", "result_files")


# ---------------------------------------------------------------------------- formatting


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes
        return False


def _format_timedelta(value: pd.Timedelta) -> str:
    seconds = round(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def format_value(name: str, value: Any) -> str:
    """Return a summary entry as people read it: thousands separators, percent, UTC minutes.

    >>> format_value("records", 1878676), format_value("share_completed", 0.94)
    ('1,878,676', '94.0%')
    >>> format_value("first_created", pd.Timestamp("2025-05-01 02:49:09Z"))
    '2025-05-01 02:49 UTC'
    >>> format_value("median_completion_time", pd.Timedelta(seconds=96)), format_value("x", None)
    ('1 min 36 s', '–')
    """
    if _is_missing(value):
        return "–"
    if name.startswith("share"):
        return f"{float(value):.1%}"
    if isinstance(value, pd.Timestamp):
        stamp = value.tz_convert("UTC") if value.tzinfo is not None else value
        return f"{stamp:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, pd.Timedelta):
        return _format_timedelta(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,}" if float(value).is_integer() else f"{value:,.2f}"
    return str(value)


def _period_label(stamp: pd.Timestamp, noun: str) -> str:
    if noun == "month":
        return f"{stamp:%Y-%m}"
    if noun == "quarter":
        return f"{stamp.year} Q{stamp.quarter}"
    if noun == "year":
        return f"{stamp.year}"
    return f"{stamp:%Y-%m-%d}"


def _noun(freq: str) -> str:
    try:
        return FREQS[str(freq).upper()].noun
    except KeyError:
        raise ValueError(f"freq must be one of {', '.join(sorted(FREQS))}, not {freq!r}") from None


# ---------------------------------------------------------------------------- the report


@dataclass
class Report:
    """Everything a report shows, computed in memory; :meth:`write` puts it on disk."""

    #: Where the downloads came from, as shown on the page ("bundled sample", "file x.json").
    source: str
    #: ``freq`` of the records-per-period table and chart, and its noun ("week").
    freq: str
    period: str
    generated_at: datetime
    per_download: pd.DataFrame
    per_result: pd.DataFrame
    #: ``dfkit.summary`` of the downloads.
    summary: pd.Series
    #: One row per status: ``downloads``, ``share``, ``records`` (requested).
    statuses: pd.DataFrame
    #: Records requested per period (rows) and status (columns), plus ``total``.
    periods: pd.DataFrame
    #: PNG bytes by file name (``status_counts.png``, ``records_over_time.png``).
    images: dict[str, bytes] = field(default_factory=dict)

    @property
    def html(self) -> str:
        """The self-contained page (CSS inline, images as ``data:`` URIs)."""
        return _render_html(self)

    def summary_rows(self) -> list[tuple[str, str]]:
        """Return the summary as (label, formatted value) pairs, in display order."""
        return [
            (_SUMMARY_LABELS.get(str(k), str(k)), format_value(str(k), v))
            for k, v in self.summary.items()
        ]

    def write(self, out: str | os.PathLike[str] = "report") -> Path:
        """Return the path of ``report.html`` after writing every file of the report into ``out``.

        Each file is replaced atomically and the page is written last; files of ``out`` that
        are not part of a report are left alone.
        """
        page_html = self.html  # rendered first: a failure here leaves every file untouched
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        to_parquet(self.per_download, folder / "downloads.parquet")
        to_parquet(self.per_result, folder / "results.parquet")
        for name, data in self.images.items():
            with atomic_file(folder / name) as tmp:
                tmp.write_bytes(data)
        page = folder / "report.html"
        with atomic_file(page) as tmp:
            tmp.write_text(page_html, encoding="utf-8")
        return page


def _status_table(df: pd.DataFrame) -> pd.DataFrame:
    counts = status_counts(df)
    shares = status_counts(df, normalize=True)
    first = df[~df["id"].duplicated().to_numpy(dtype=bool)]
    records = (
        first.groupby("status", observed=False)["num_records"]
        .sum()
        .reindex(counts.index, fill_value=0)
    )
    table: pd.DataFrame = pd.DataFrame(
        {
            "downloads": counts.to_numpy(),
            "share": shares.to_numpy(),
            "records": records.fillna(0).to_numpy(dtype="int64"),
        },
        index=pd.Index([str(s) for s in counts.index], name="status"),
    )
    return table


def _periods_table(df: pd.DataFrame, freq: str) -> pd.DataFrame:
    by_status = records_over_time(df, freq, by="status")
    assert isinstance(by_status, pd.DataFrame)
    table: pd.DataFrame = by_status.copy()
    table["total"] = table.sum(axis=1)
    return table


def _png(draw: Any, df: pd.DataFrame, **kwargs: Any) -> bytes:
    # A bare Figure (no pyplot): no global state, no GUI backend, nothing left open.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.2), layout="constrained")
    ax: Axes = fig.subplots()
    draw(df, ax=ax, **kwargs)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def build_report(
    data: Any = None,
    *,
    freq: str = "W",
    source: str | None = None,
    client: Client | None = None,
) -> Report:
    """Return a :class:`Report` of the downloads ``data``, computed in memory.

    ``data`` is anything :func:`dfkit.downloads_frame` reads (a list of download objects, a
    path to a JSON file, JSON bytes); ``None`` fetches the live list with ``client`` (default:
    a :class:`dfkit.Client` configured from the environment). ``freq`` is the period of the
    records-over-time table and chart (``"D"``, ``"W"``, ``"MS"``, ``"QS"``, ``"YS"``).
    ``source`` labels the page; by default it is the file name, or "live API".

    >>> import dfkit
    >>> r = build_report(dfkit.sample_downloads(), freq="MS", source="bundled sample")
    >>> r.statuses["downloads"].to_dict()
    {'queued': 1, 'in_progress': 1, 'completed': 188, 'cancelled': 10}
    >>> r.period, r.summary_rows()[0]
    ('month', ('Downloads', '200'))
    """
    period = _noun(freq)
    frames = downloads_frames(data, client=client)  # one decode for both frames
    source = source or frames.source
    per_download, per_result = frames.per_download, frames.per_result
    report = Report(
        source=source,
        freq=freq,
        period=period,
        generated_at=datetime.now(timezone.utc),
        per_download=per_download,
        per_result=per_result,
        summary=summary(per_result),
        statuses=_status_table(per_download),
        periods=_periods_table(per_download, freq),
    )
    report.images["status_counts.png"] = _png(plot_status_counts, per_download)
    report.images["records_over_time.png"] = _png(
        plot_records_over_time, per_download, freq=freq, by="status"
    )
    return report


def write_report(
    data: Any = None,
    out: str | os.PathLike[str] = "report",
    *,
    freq: str = "W",
    source: str | None = None,
    client: Client | None = None,
) -> Path:
    """Return the path of ``report.html`` after writing the report of ``data`` into ``out``.

    Same arguments as :func:`build_report`; the files are those of :data:`FILES`.
    """
    return build_report(data, freq=freq, source=source, client=client).write(out)


# ---------------------------------------------------------------------------- HTML

_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #1f2328;
  font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; }
main { max-width: 920px; margin: 0 auto; padding: 28px 24px 40px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; }
.meta { margin: 0; color: #59636e; font-size: 13px; }
section { background: #fff; border: 1px solid #d8dee4; border-radius: 8px;
  padding: 18px 22px; margin-top: 20px; }
h2 { margin: 0 0 12px; font-size: 18px; font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 20px; }
.tile { flex: 1 1 160px; background: #fff; border: 1px solid #d8dee4; border-radius: 8px;
  padding: 12px 16px; }
.tile .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile .label { color: #59636e; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eaeef2; text-align: right;
  white-space: nowrap; }
th { font-weight: 600; color: #424a53; background: #f6f8fa; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; white-space: normal; word-break: break-word; }
tr.total td { font-weight: 600; border-top: 2px solid #d0d7de; }
.kv td:first-child { color: #424a53; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 7px; vertical-align: baseline; }
img { display: block; max-width: 100%; height: auto; margin: 4px auto 14px; }
.note { color: #59636e; font-size: 13px; margin: 8px 0 0; }
footer { color: #59636e; font-size: 13px; margin-top: 20px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
"""

_e = html.escape


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    css: str = "",
    text_columns: Sequence[int] = (),
    total: Sequence[str] | None = None,
) -> str:
    """Return an HTML table; cells are given as *already escaped* HTML."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="text">{c}</td>' if i in text_columns else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    if total is not None:
        body.append('<tr class="total">' + "".join(f"<td>{c}</td>" for c in total) + "</tr>")
    klass = f' class="{css}"' if css else ""
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    return f"<table{klass}>{thead}<tbody>{''.join(body)}</tbody></table>"


def _image(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{_e(alt)}" width="880" src="data:image/png;base64,{encoded}">'


def _status_cell(status: str) -> str:
    return f'<span class="dot" style="background:{_e(status_color(status))}"></span>{_e(status)}'


def _open_downloads(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    not_done = df[(df["status"] != "completed").fillna(True).to_numpy(dtype=bool)]
    not_done = not_done.sort_values("created_at", ascending=False, na_position="last")
    return not_done.head(OPEN_ROWS), len(not_done)


def _render_html(r: Report) -> str:
    noun = r.period
    n_downloads = len(r.per_download)
    values = dict(zip(r.summary.index, r.summary.to_numpy(), strict=True))

    tiles = "".join(
        f'<div class="tile"><div class="value">{_e(format_value(k, values.get(k)))}</div>'
        f'<div class="label">{_e(_SUMMARY_LABELS[k])}</div></div>'
        for k in _TILES
        if k in values
    )
    summary_table = _table(
        ["", ""],
        [(_e(label), _e(value)) for label, value in r.summary_rows()],
        css="kv",
    )

    status_rows = [
        (
            _status_cell(str(status)),
            _e(f"{int(row['downloads']):,}"),
            _e(f"{float(row['share']):.1%}"),
            _e(f"{int(row['records']):,}"),
        )
        for status, row in r.statuses.iterrows()
    ]
    status_total = [
        "Total",
        _e(f"{int(r.statuses['downloads'].sum()):,}"),
        _e(f"{float(r.statuses['share'].sum()):.1%}"),
        _e(f"{int(r.statuses['records'].sum()):,}"),
    ]
    status_table = _table(
        ["Status", "Downloads", "Share", "Records requested"], status_rows, total=status_total
    )

    statuses = [str(c) for c in r.periods.columns if c != "total"]
    period_rows = [
        (
            _e(_period_label(pd.Timestamp(stamp), noun)),
            *(_e(f"{int(row[s]):,}") for s in statuses),
            _e(f"{int(row['total']):,}"),
        )
        for stamp, row in r.periods.tail(PERIOD_ROWS).iterrows()
    ]
    period_total = [
        "Total",
        *(_e(f"{int(r.periods[s].sum()):,}") for s in statuses),
        _e(f"{int(r.periods['total'].sum()):,}"),
    ]
    period_header = [_e(f"{noun.capitalize()} starting"), *map(_status_cell, statuses), "Total"]
    if noun in ("month", "quarter", "year"):
        period_header[0] = _e(noun.capitalize())
    if period_rows:
        periods_html = _table(period_header, period_rows, total=period_total)
        if len(r.periods) > len(period_rows):
            periods_html += (
                f'<p class="note">The last {len(period_rows)} of {len(r.periods):,} '
                f"{_e(noun)}s; the total covers them all.</p>"
            )
    else:
        periods_html = '<p class="note">No downloads with a creation time.</p>'

    shown, n_open = _open_downloads(r.per_download)
    open_rows = [
        (
            _e(str(d["id"])),
            _status_cell(str(d["status"])) if not _is_missing(d["status"]) else "–",
            _e(format_value("created", d["created_at"])),
            _e(format_value("records", d["num_records"])),
            _e(str(d["query"])) if "query" in d and not _is_missing(d["query"]) else "",
        )
        for _, d in shown.iterrows()
    ]
    if open_rows:
        open_html = _table(
            ["Id", "Status", "Created", "Records", "Query"], open_rows, text_columns=(4,)
        )
        if n_open > len(shown):
            open_html += (
                f'<p class="note">The {len(shown)} most recent of {n_open:,}; all are in '
                "<code>downloads.parquet</code>.</p>"
            )
    else:
        open_html = '<p class="note">Every download completed.</p>'

    from dfkit import __version__

    alts = {
        "status_counts.png": "Downloads by status",
        "records_over_time.png": f"Records requested per {noun}, by status",
    }
    images = {name: _image(data, alts.get(name, name)) for name, data in r.images.items()}
    n_results = len(r.per_result)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dfkit {_e(__version__)}">
<title>Datafiniti downloads report</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>Datafiniti downloads report</h1>
<p class="meta">Source: {_e(r.source)} · {n_downloads:,} downloads ·
generated {_e(f"{r.generated_at:%Y-%m-%d %H:%M} UTC")} by dfkit {_e(__version__)}</p>
</header>
<div class="tiles">{tiles}</div>
<section id="summary">
<h2>Summary</h2>
{summary_table}
</section>
<section id="status">
<h2>Downloads by status</h2>
{images.get("status_counts.png", "")}
{status_table}
</section>
<section id="records">
<h2>Records requested per {_e(noun)}</h2>
{images.get("records_over_time.png", "")}
{periods_html}
<p class="note">Periods start on the date shown (UTC){
        ", weeks on Monday" if noun == "week" else ""
    }; a download counts in the period it was created.</p>
</section>
<section id="open">
<h2>Downloads not completed</h2>
{open_html}
</section>
<footer>
<p>The data behind this page: <code>downloads.parquet</code> ({n_downloads:,} rows, one per
download) and <code>results.parquet</code> ({n_results:,} rows, one per result file), in the
same directory; <code>dfkit.read_parquet(path)</code> restores them with their dtypes.</p>
</footer>
</main>
</body>
</html>
"""
