"""downloads_frame: both API shapes, every rule of the schema, every kind of bad value."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfkit
from dfkit import DfkitWarning, SchemaError, downloads_frame
from dfkit.frame import downloads_frames
from dfkit.schema import STATUSES, columns, dtype

PAGE_SHAPE = [  # the seed page's example
    {
        "id": "example_string",
        "status": "queued",
        "num_records": 42,
        "results": [{"url": "example_string"}],
        "created_at": "2024-12-25T10:00:00Z",
    }
]

REAL_SHAPE = [  # what the API returns in 2025, per the guides
    {
        "id": "847070",
        "_id": 847070,
        "status": "running",
        "num_records": 1200,
        "num_downloaded": 300,
        "data_type": "product",
        "format": "CSV",
        "query": "brand:Apple",
        "total_cost": 0,
        "user_id": "4417",
        "date_started": "2025-03-17T20:03:55.926Z",
        "date_updated": "2025-03-17T20:05:00.000Z",
        "results": [],
    },
    {
        "id": "847071",
        "_id": 847071,
        "status": "completed",
        "num_records": 25000,
        "num_downloaded": 25000,
        "data_type": "business",
        "format": "json",
        "query": "categories:hotels",
        "total_cost": 25000,
        "user": 4417,
        "date_started": "2017-11-16 17:46:06.0",
        "date_updated": "2017-11-16 18:00:00.0",
        "results": [
            "https://s3/a_0.txt?X-Amz-Signature=1",
            "https://s3/a_1.txt",
            "https://s3/a_2.txt",
        ],
    },
]


def problems_of(data: Any, **kwargs: Any) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SchemaError) as info:
        downloads_frame(data, **kwargs)
    p = info.value.problems
    assert list(p.columns) == ["index", "field", "value", "reason"]
    return [
        (None if pd.isna(i) else int(i), f, r)
        for i, f, r in zip(p["index"], p["field"], p["reason"], strict=True)
    ]


def assert_schema_dtypes(df: pd.DataFrame) -> None:
    for name in df.columns:
        expected = dtype(name)
        if isinstance(expected, pd.CategoricalDtype):
            assert isinstance(df[name].dtype, pd.CategoricalDtype), name
            known = list(expected.categories)
            assert list(df[name].cat.categories)[: len(known)] == known, name
        else:
            assert df[name].dtype == expected, (name, df[name].dtype)


# ---------------------------------------------------------------------------- shapes


def test_page_shape_one_row_per_result() -> None:
    df = downloads_frame(PAGE_SHAPE, per="result")
    assert list(df.columns) == ["id", "status", "num_records", "created_at", "result_index", "url"]
    row = df.iloc[0]
    assert (row["id"], row["status"], row["num_records"]) == ("example_string", "queued", 42)
    assert row["created_at"] == pd.Timestamp("2024-12-25T10:00:00Z")
    assert row["url"] == "example_string"
    assert row["result_index"] == 0
    assert_schema_dtypes(df)


def test_real_shape_maps_onto_the_same_schema() -> None:
    df = downloads_frame(REAL_SHAPE, per="result")
    assert list(df.columns) == [c.name for c in columns("result")]
    assert df["id"].tolist() == ["847070", "847071", "847071", "847071"]
    assert df["status"].tolist() == ["in_progress", "completed", "completed", "completed"]
    assert df["result_index"].tolist() == [pd.NA, 0, 1, 2]
    assert df["url"].isna().tolist() == [True, False, False, False]
    assert df["format"].tolist() == ["csv", "json", "json", "json"]
    assert df["user_id"].tolist() == ["4417"] * 4  # `user` (an int) fills in for `user_id`
    assert df["created_at"].iloc[1] == pd.Timestamp("2017-11-16 17:46:06", tz="UTC")
    assert df["updated_at"].iloc[0] == pd.Timestamp("2025-03-17T20:05:00Z")
    assert df["total_cost"].tolist() == [0.0, 25000.0, 25000.0, 25000.0]
    assert_schema_dtypes(df)


def test_per_download_has_n_results_and_no_url() -> None:
    df = downloads_frame(REAL_SHAPE, per="download")
    assert "url" not in df.columns and "result_index" not in df.columns
    assert df["num_results"].tolist() == [0, 3]
    assert df["num_results"].dtype == "int64"
    assert list(df.columns)[:5] == ["id", "status", "num_records", "created_at", "num_results"]


def test_records_wrapper_bytes_and_paths(tmp_path: Path) -> None:
    expected = downloads_frame(REAL_SHAPE)
    wrapped = {"records": REAL_SHAPE}
    path = tmp_path / "downloads.json"
    path.write_text(json.dumps(wrapped))
    for data in (wrapped, json.dumps(REAL_SHAPE).encode(), path, str(path)):
        pd.testing.assert_frame_equal(downloads_frame(data), expected)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        downloads_frame(tmp_path / "nope.json")


def test_sample_frame_is_complete() -> None:
    sample = dfkit.sample_downloads()
    per_download = downloads_frame(sample, per="download")
    per_result = downloads_frame(sample, per="result")
    assert len(per_download) == len(sample)
    assert len(per_result) == sum(max(1, len(d["results"])) for d in sample)
    assert set(per_download["status"]) == set(STATUSES)
    assert per_download["created_at"].notna().all()
    assert_schema_dtypes(per_result)


# ---------------------------------------------------------------------------- rules


@pytest.mark.parametrize("results", [None, [], "absent"])
def test_download_without_results_keeps_one_row(results: Any) -> None:
    record: dict[str, Any] = {"id": "1", "status": "queued"}
    if results != "absent":
        record["results"] = results
    df = downloads_frame([record, {"id": "2", "results": ["u"]}], per="result")
    assert df["id"].tolist() == ["1", "2"]
    assert df["url"].isna().tolist() == [True, False]
    assert df["result_index"].isna().tolist() == [True, False]
    assert downloads_frame([record], per="download")["num_results"].tolist() == [0]


@pytest.mark.parametrize("per", ["result", "download"])
def test_empty_input_has_every_core_column_and_dtype(per: str) -> None:
    df = downloads_frame([], per=per)  # type: ignore[arg-type]
    assert len(df) == 0
    assert list(df.columns) == [c.name for c in columns(per, optional=())]  # type: ignore[arg-type]
    assert_schema_dtypes(df)
    assert isinstance(df.index, pd.RangeIndex)


def test_index_is_fresh_range_and_order_kept() -> None:
    data = [{"id": str(i), "results": ["a", "b"] if i % 2 else []} for i in range(5)]
    df = downloads_frame(data, per="result")
    assert df.index.equals(pd.RangeIndex(len(df)))
    assert df["id"].tolist() == ["0", "1", "1", "2", "3", "3", "4"]


def test_status_aliases_case_and_spaces() -> None:
    data = [
        {"id": str(i), "status": s}
        for i, s in enumerate(
            ["running", " Started ", "IN_PROGRESS", "Completed", "cancelled", None]
        )
    ]
    df = downloads_frame(data, per="download")
    assert df["status"].tolist()[:5] == [
        "in_progress",
        "in_progress",
        "in_progress",
        "completed",
        "cancelled",
    ]
    assert pd.isna(df["status"].iloc[5])
    assert list(df["status"].cat.categories) == list(STATUSES)


def test_unknown_status_is_kept_as_extra_category_with_a_warning() -> None:
    data = [
        {"id": "1", "status": "Failed"},
        {"id": "2", "status": "failed"},
        {"id": "3", "status": "expired"},
    ]
    with pytest.warns(DfkitWarning) as caught:
        df = downloads_frame(data, per="download")
    messages = [str(w.message) for w in caught]
    assert any("'failed'" in m and "2 downloads" in m for m in messages)
    assert any("'expired'" in m and "1 download" in m for m in messages)
    assert list(df["status"].cat.categories) == [*STATUSES, "expired", "failed"]
    assert df["status"].tolist() == ["failed", "failed", "expired"]


def test_known_statuses_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        downloads_frame(REAL_SHAPE)


def test_data_type_and_format_categories_with_unknowns_appended() -> None:
    data = [
        {"id": "1", "data_type": "Product", "format": "CSV"},
        {"id": "2", "data_type": "vehicles", "format": "xlsx"},
        {"id": "3", "data_type": "business", "format": "JSON"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for these two
        df = downloads_frame(data, per="download")
    assert list(df["data_type"].cat.categories) == [
        "business",
        "product",
        "property",
        "people",
        "vehicles",
    ]
    assert list(df["format"].cat.categories) == ["csv", "json", "xlsx"]
    assert df["format"].tolist() == ["csv", "xlsx", "json"]


def test_ids_int_huge_mixed_and_fallback_to_underscore_id() -> None:
    huge = 2**70
    data = [{"id": 5}, {"id": "abc"}, {"id": huge}, {"_id": 847070}, {"id": "", "_id": "x9"}]
    df = downloads_frame(data, per="download")
    assert df["id"].tolist() == ["5", "abc", str(huge), "847070", "x9"]
    assert df["id"].dtype == pd.StringDtype("pyarrow")


def test_num_records_accepts_integers_integral_floats_and_integer_strings() -> None:
    values = [42, 42.0, "42", " +42 ", None, 2**63 - 1]
    df = downloads_frame(
        [{"id": str(i), "num_records": v} for i, v in enumerate(values)], per="download"
    )
    assert df["num_records"].tolist() == [42, 42, 42, 42, pd.NA, 2**63 - 1]
    assert df["num_records"].dtype == "Int64"


def test_timestamps_offsets_naive_and_legacy_become_utc() -> None:
    values = [
        "2025-03-17T20:03:55.926Z",
        "2025-03-17T22:03:55.926+02:00",
        "2025-03-17T20:03:55.926",
        "2017-11-16 17:46:06.0",
        "2024-12-25",
        None,
    ]
    df = downloads_frame(
        [{"id": str(i), "created_at": v} for i, v in enumerate(values)], per="download"
    )
    got = df["created_at"]
    assert str(got.dtype) == "datetime64[us, UTC]"
    assert got.iloc[0] == got.iloc[1] == got.iloc[2] == pd.Timestamp("2025-03-17T20:03:55.926Z")
    assert got.iloc[3] == pd.Timestamp("2017-11-16T17:46:06Z")
    assert got.iloc[4] == pd.Timestamp("2024-12-25", tz="UTC")
    assert pd.isna(got.iloc[5])


def test_precedence_created_at_over_date_started_and_friends() -> None:
    data = [
        {
            "id": "1",
            "created_at": "2025-01-01T00:00:00Z",
            "date_started": "2020-01-01T00:00:00Z",
            "updated_at": "2025-01-02T00:00:00Z",
            "date_updated": "2020-01-02T00:00:00Z",
            "user_id": "u1",
            "user": "other",
        },
        {
            "id": "2",
            "created_at": None,
            "date_started": "2020-01-01T00:00:00Z",
            "date_updated": "2020-01-02T00:00:00Z",
            "user": 7,
        },
    ]
    df = downloads_frame(data, per="download")
    assert df["created_at"].dt.year.tolist() == [2025, 2020]
    assert df["updated_at"].dt.year.tolist() == [2025, 2020]
    assert df["user_id"].tolist() == ["u1", "7"]


def test_optional_columns_appear_when_any_record_has_the_key_even_null() -> None:
    df = downloads_frame([{"id": "1"}, {"id": "2", "total_cost": None, "query": None}])
    assert "total_cost" in df.columns and "query" in df.columns
    assert df["total_cost"].dtype == "Float64" and df["total_cost"].isna().all()
    assert "num_downloaded" not in df.columns
    # optional columns come after the core ones, in schema order
    assert list(df.columns)[-2:] == ["total_cost", "query"]


def test_other_fields_are_ignored() -> None:
    df = downloads_frame([{"id": "1", "fields": ["a"], "is_enrichment_job": True, "sort": "x"}])
    assert "fields" not in df.columns and "is_enrichment_job" not in df.columns


def test_total_cost_accepts_numbers_and_numeric_strings() -> None:
    values = [1, 2.5, "3.25", " 4 ", None]
    df = downloads_frame(
        [{"id": str(i), "total_cost": v} for i, v in enumerate(values)], per="download"
    )
    assert df["total_cost"].tolist() == [1.0, 2.5, 3.25, 4.0, pd.NA]


# ---------------------------------------------------------------------------- bad values


def test_every_bad_value_is_collected_with_record_and_field() -> None:
    data = [
        {"id": "", "status": 3, "num_records": True, "created_at": "yesterday", "results": [1]},
        "not a record",
        {"id": [1], "results": "x", "total_cost": "abc", "date_updated": 5, "num_records": 1.5},
        {"id": "ok", "num_records": -1, "num_downloaded": "12a", "query": {"q": 1}},
        {"id": "ok2", "num_records": 2**64, "results": [{"url": 5}, {"nourl": "x"}]},
    ]
    found = problems_of(data, per="result")
    assert (1, "", "expected a download object") in found
    fields = {(i, f) for i, f, _ in found}
    assert fields == {
        (0, "id"),
        (0, "status"),
        (0, "num_records"),
        (0, "created_at"),
        (0, "results[0]"),
        (1, ""),
        (2, "id"),
        (2, "results"),
        (2, "total_cost"),
        (2, "date_updated"),
        (2, "num_records"),
        (3, "num_records"),
        (3, "num_downloaded"),
        (3, "query"),
        (4, "num_records"),
        (4, "results[0]"),
        (4, "results[1]"),
    }
    reasons = {(i, f): r for i, f, r in found}
    assert reasons[(3, "num_records")] == "expected a non-negative integer"
    assert reasons[(4, "num_records")] == "expected an integer below 2**63 (64-bit)"
    assert reasons[(0, "num_records")] == "expected an integer"
    assert reasons[(2, "num_records")] == "expected a whole number"


def test_first_line_is_the_first_bad_value_then_the_list() -> None:
    data = [{"id": "1", "num_records": "abc"}, {"id": "2", "status": 5}]
    with pytest.raises(SchemaError) as info:
        downloads_frame(data)
    first, *listed = str(info.value).splitlines()
    assert first == (
        "records[0].num_records: expected an integer, got 'abc' (and 1 more bad value):"
    )
    assert listed == [
        "  records[0].num_records: expected an integer, got 'abc'",
        "  records[1].status: expected a string, got 5",
    ]
    with pytest.raises(SchemaError) as one:
        downloads_frame(orjson.dumps(data[:1]))
    assert str(one.value) == "records[0].num_records: expected an integer, got 'abc'"


def test_message_lists_problems_as_records_i_field() -> None:
    with pytest.raises(SchemaError) as info:
        downloads_frame([{"id": "1"}, {"id": "2", "date_started": "not a date"}])
    message = str(info.value)
    assert message == "records[1].date_started: expected an ISO-8601 timestamp, got 'not a date'"


def test_long_problem_lists_are_cut_in_the_message_but_complete_in_problems() -> None:
    data = [{"id": str(i), "num_records": "many"} for i in range(100)]
    with pytest.raises(SchemaError) as info:
        downloads_frame(data)
    assert len(info.value.problems) == 100
    message = str(info.value)
    assert message.splitlines()[0].endswith("(and 99 more bad values):")
    assert len(message.splitlines()) == 1 + 20 + 1
    assert message.endswith("... and 80 more (see .problems)")


def test_missing_id_without_fallback() -> None:
    assert problems_of([{"status": "queued"}]) == [(0, "id", "expected an id (or an _id)")]


@pytest.mark.parametrize("value", [12, 1.5, ["2025-01-01"]])
def test_timestamps_must_be_strings(value: Any) -> None:
    [(index, field, reason)] = problems_of([{"id": "1", "created_at": value}])
    assert (index, field) == (0, "created_at")
    assert reason.startswith("expected an ISO-8601 string")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (42, "int"),
        ("", None),
        ({"records": {"a": 1}}, "'records' is object"),
        ({"downloads": []}, "keys ['downloads']"),
    ],
)
def test_bad_top_level(data: Any, fragment: str | None) -> None:
    if data == "":
        with pytest.raises(FileNotFoundError):
            downloads_frame(data)
        return
    with pytest.raises(SchemaError) as info:
        downloads_frame(data)
    assert "expected a list of downloads or an object with a 'records' list" in str(info.value)
    assert fragment is not None and fragment in str(info.value)


@pytest.mark.parametrize("raw", [b'[{"id": 1},', b"<html>nope</html>", b""])
def test_invalid_json_bytes_and_files_say_where(raw: bytes, tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"cannot parse the bytes given as JSON: .*line 1"):
        downloads_frame(raw)
    path = tmp_path / "bad.json"
    path.write_bytes(raw)
    with pytest.raises(SchemaError, match=r"bad\.json as JSON"):
        downloads_frame(path)


def test_a_string_that_looks_like_json_is_refused_with_how_to_pass_it() -> None:
    with pytest.raises(SchemaError, match=r"looks like JSON text.*text\.encode\(\)"):
        downloads_frame('[{"id": "1"}]')


@pytest.mark.parametrize("name", ["d[1].json", "d*.json", "d?.json", "[ab].json"])
def test_a_file_name_with_pattern_characters_reads_that_very_file(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / name).write_text(json.dumps([{"id": "wanted"}]))
    for decoy in ("d1.json", "da.json", "dx.json", "a.json"):  # what a glob would match
        (tmp_path / decoy).write_text(json.dumps([{"id": "decoy"}]))
    for path in (tmp_path / name, str(tmp_path / name)):
        assert downloads_frame(path)["id"].tolist() == ["wanted"]


def test_a_json_looking_name_of_an_existing_file_is_read_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("[1].json").write_text(json.dumps([{"id": "f"}]))
    assert downloads_frame("[1].json")["id"].tolist() == ["f"]


def test_per_must_be_known() -> None:
    with pytest.raises(ValueError, match="per must be"):
        downloads_frame([], per="file")  # type: ignore[arg-type]


def test_data_and_client_together_is_an_error() -> None:
    with pytest.raises(TypeError):
        downloads_frame([], client=object())  # type: ignore[arg-type]


def test_input_is_not_modified() -> None:
    data = json.loads(json.dumps(REAL_SHAPE))
    downloads_frame(data)
    assert data == REAL_SHAPE


# ---------------------------------------------------------------------------- property

_url = st.text("abcdefghij/:.?=&%0123456789", min_size=1, max_size=30)
_result = st.one_of(_url, st.builds(lambda u: {"url": u}, _url))
_id = st.one_of(st.integers(min_value=0, max_value=2**80), st.text(min_size=1, max_size=12))
_status = st.sampled_from(["queued", "running", "started", "in_progress", "completed", "cancelled"])
_timestamp = st.datetimes(
    min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
    max_value=pd.Timestamp("2100-01-01").to_pydatetime(),
).map(lambda t: t.isoformat())
_record = st.fixed_dictionaries(
    {"id": _id},
    optional={
        "status": st.one_of(st.none(), _status),
        "num_records": st.one_of(st.none(), st.integers(0, 2**63 - 1)),
        "results": st.one_of(st.none(), st.lists(_result, max_size=5)),
        "date_started": st.one_of(st.none(), _timestamp),
        "total_cost": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        "format": st.sampled_from(["csv", "JSON"]),
    },
)


@settings(max_examples=75, deadline=None)
@given(st.lists(_record, max_size=12))
def test_property_rows_ids_order_and_dtypes(records: list[dict[str, Any]]) -> None:
    per_result = downloads_frame(records, per="result")
    per_download = downloads_frame(records)
    num_results = [len(r.get("results") or []) for r in records]
    assert len(per_result) == sum(max(1, k) for k in num_results)
    assert len(per_download) == len(records)
    assert per_download["id"].tolist() == [str(r["id"]) for r in records]
    assert per_download["num_results"].tolist() == num_results
    expected_ids = [
        str(r["id"]) for r, k in zip(records, num_results, strict=True) for _ in range(max(1, k))
    ]
    assert per_result["id"].tolist() == expected_ids
    assert_schema_dtypes(per_result)
    assert_schema_dtypes(per_download)


@pytest.mark.parametrize("query", ["brand:Apple", "marque:Citroën"])  # ASCII, and not
def test_long_string_columns_keep_values_and_missing_ones(query: str) -> None:
    """Columns of 20,000+ long strings are built from joined buffers: every value survives."""
    n = 21_000
    pad = "AND categories:(restaurant OR hotel OR coffee) AND country:US "
    site = "https://datafiniti-downloads.s3.amazonaws.com/4417"
    data = [
        {"id": f"d{i}", "query": None if i % 7 == 0 else f"{query} {pad}{i}",
         "results": [f"{site}/{i}_{k}.csv?X-Amz-Signature={i:064d}" for k in range(i % 3)]}
        for i in range(n)
    ]  # fmt: skip
    for source in (data, orjson.dumps(data)):  # parsed: joined buffers; bytes: cut from input
        df = downloads_frame(source, per="result")
        assert len(df) == sum(max(1, i % 3) for i in range(n))
        first = df.drop_duplicates("id").set_index("id")
        assert first.loc["d7", "query"] is pd.NA
        assert first.loc["d8", "query"] == f"{query} {pad}8"
        assert df.loc[df["id"] == "d5", "url"].tolist() == [
            f"{site}/5_{k}.csv?X-Amz-Signature={5:064d}" for k in range(2)
        ]
        assert df.loc[df["id"] == "d3", "url"].isna().all()
        assert df["url"].notna().sum() == sum(i % 3 for i in range(n))


# ---------------------------------------------------------------------------- one decode, any shape

_download = st.fixed_dictionaries(
    {
        "id": st.integers(0, 10**9),
        "status": st.sampled_from(["queued", "running", "in_progress", "completed", "Cancelled"]),
        "num_records": st.one_of(st.none(), st.integers(0, 10**6)),
        "started": _timestamp,
        "updated": st.one_of(st.none(), _timestamp),
        "links": st.lists(st.text('abc/:.?=&%é"\\', min_size=1, max_size=12), max_size=4),
    },
    optional={
        "total_cost": st.one_of(st.none(), st.floats(0, 1e6)),
        "query": st.one_of(st.none(), st.text(max_size=8)),
        "format": st.sampled_from(["csv", "JSON"]),
        "num_downloaded": st.integers(0, 10**6),
    },
)


def _page_shape(d: dict[str, Any]) -> dict[str, Any]:
    """The download in the seed page's words: ``{"url": ...}`` results, ``created_at``."""
    extra = {k: v for k, v in d.items() if k not in ("started", "updated", "links", "id")}
    return {
        "id": str(d["id"]),
        **extra,
        "results": [{"url": u} for u in d["links"]],
        "created_at": d["started"],
        "updated_at": d["updated"],
    }


def _real_shape(d: dict[str, Any]) -> dict[str, Any]:
    """The same download in the real API's words: string results, ``date_started``, ``_id``."""
    extra = {k: v for k, v in d.items() if k not in ("started", "updated", "links", "id")}
    return {
        "id": d["id"],  # an integer id here, a string in the page shape: the same column value
        "_id": d["id"],
        **extra,
        "date_started": d["started"],
        "date_updated": d["updated"],
        "results": list(d["links"]),
        "is_enrichment_job": False,
    }


@settings(max_examples=60, deadline=None)
@given(st.lists(_download, max_size=8), st.sampled_from(["download", "result"]))
def test_property_the_frame_is_the_same_in_either_shape_wrapped_or_not(
    downloads: list[dict[str, Any]], per: str
) -> None:
    expected = downloads_frame([_real_shape(d) for d in downloads], per=per)  # type: ignore[arg-type]
    for shape in (_page_shape, _real_shape):
        records = [shape(d) for d in downloads]
        for data in (records, {"records": records}):
            for given_as in (data, orjson.dumps(data)):  # parsed (dicts) and typed decode
                got = downloads_frame(given_as, per=per)  # type: ignore[arg-type]
                pd.testing.assert_frame_equal(got, expected)
    both = downloads_frames(orjson.dumps([_page_shape(d) for d in downloads]))
    pd.testing.assert_frame_equal(
        both.per_download if per == "download" else both.per_result, expected
    )


def test_lenient_values_and_always_null_optional_fields_decode_alike() -> None:
    records = [
        {"id": 1, "num_records": "42", "total_cost": 3, "query": None, "created_at": "2025-01-01"},
        {"id": "2", "num_records": 42.0, "total_cost": "2.5", "query": None, "user": 4417},
    ]
    for per in ("download", "result"):
        from_bytes = downloads_frame(orjson.dumps(records), per=per)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(from_bytes, downloads_frame(records, per=per))  # type: ignore[arg-type]
        assert from_bytes["num_records"].tolist() == [42, 42]
        assert from_bytes["query"].isna().all()  # present, always null: the column is kept
        assert from_bytes["user_id"].tolist() == [pd.NA, "4417"]


def test_a_bad_value_in_bytes_is_reported_like_in_parsed_input() -> None:
    data = [{"id": "1", "num_records": {"n": 1}}, {"id": "2", "results": [{"url": ""}]}]
    with pytest.raises(SchemaError) as from_list:
        downloads_frame(data, per="result")
    with pytest.raises(SchemaError) as from_bytes:
        downloads_frame(orjson.dumps(data), per="result")
    assert str(from_bytes.value) == str(from_list.value)
    assert from_bytes.value.problems["field"].tolist() == ["num_records", "results[0]"]


def test_both_frames_from_one_decode_equal_two_calls(tmp_path: Path) -> None:
    path = tmp_path / "downloads.json"
    path.write_bytes(orjson.dumps(REAL_SHAPE + PAGE_SHAPE))
    frames = downloads_frames(path)
    pd.testing.assert_frame_equal(frames.per_download, downloads_frame(path))
    pd.testing.assert_frame_equal(frames.per_result, downloads_frame(path, per="result"))
    assert frames.source == f"file {path}"


@pytest.mark.parametrize(
    "results",
    [
        '["https://s3/a_0.csv", "https://s3/a_1.csv"]',  # spaces between elements: still plain
        '[{"url":"https://s3/a_0.csv"},{"url":"https://s3/a_1.csv"}]',  # the page's, compact
        '[{"url": "https://s3/a_0.csv"}, {"url": "https://s3/a_1.csv", "size": 5}]',  # spaced
        '[{"url":"https://s3/a_0.csv","k":"v"},{"url":"https://s3/a_1.csv"}]',  # another key
        '["https:\\/\\/s3\\/a_0.csv", {"url":"https://s3/a_1.csv"}]',  # escapes, mixed forms
    ],
)
def test_links_cut_from_the_bytes_or_decoded_one_by_one_agree(results: str) -> None:
    raw = ('[{"id":"1","results":' + results + '},{"id":"2"},{"id":"3","results":[]}]').encode()
    df = downloads_frame(raw, per="result")
    assert df["url"].tolist() == ["https://s3/a_0.csv", "https://s3/a_1.csv", pd.NA, pd.NA]
    assert df["result_index"].tolist() == [0, 1, pd.NA, pd.NA]
    pd.testing.assert_frame_equal(df, downloads_frame(json.loads(raw), per="result"))


def test_another_key_far_into_a_long_input_is_not_cut_into_the_link() -> None:
    links = [f'{{"url":"https://s3/{k:06d}.csv"}}' for k in range(8_000)]  # ~250 kB of links
    links[-1] = '{"url":"https://s3/last.csv","md5":"x"}'
    raw = ('[{"id":"1","results":[' + ",".join(links) + "]}]").encode()
    df = downloads_frame(raw, per="result")
    assert df["url"].iloc[-1] == "https://s3/last.csv"
    pd.testing.assert_frame_equal(df, downloads_frame(json.loads(raw), per="result"))


@pytest.mark.parametrize("bad", ['[""]', '[{"url":""}]', "[5]", "[null]", '[{"link":"x"}]'])
def test_a_bad_link_in_bytes_is_reported(bad: str) -> None:
    raw = ('[{"id":"1","results":["https://ok"]},{"id":"2","results":' + bad + "}]").encode()
    [(index, field, _)] = problems_of(raw, per="result")
    assert (index, field) == (1, "results[0]")
    assert downloads_frame(raw)["num_results"].tolist() == [1, 1]  # per download: only counted


# ---------------------------------------------------------------------------- invalid UTF-8


@pytest.mark.parametrize("per", ["download", "result"])
@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'[{"id":"a","results":["https://a/\xff.csv"]}]', "records[0].results[0]"),
        (
            b'[{"id":"a"},{"id":"b","results":["u",{"url":"https://\xc3"}]}]',
            "records[1].results[1].url",
        ),
        (b'{"records":[{"id":"a","results":["u"]},{"id":"\xfe"}]}', "records[1].id"),
        (b'[{"id":"a","other":"\xff"}]', "records[0].other"),  # a field no column reads
        (b'[{"id":"a","results":"x\xff"}]', "records[0].results"),  # with a bad value as well
    ],
)
def test_invalid_utf8_is_a_schema_error_naming_where(per: Any, raw: bytes, where: str) -> None:
    with pytest.raises(SchemaError) as info:
        downloads_frame(raw, per=per)
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{where}: invalid UTF-8"), first
    assert where.split(".", 1)[1] in info.value.problems.field.tolist()


def test_invalid_utf8_outside_the_records_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(b'{"records":[{"id":"a"}],"\xff":1}')
    for per in ("download", "result"):
        with pytest.raises(SchemaError, match=r"^data: invalid UTF-8 at byte 25"):
            downloads_frame(path, per=per)  # type: ignore[arg-type]


def test_valid_utf8_links_still_read() -> None:
    df = downloads_frame('[{"id":"a","results":["https://a/é.csv"]}]'.encode(), per="result")
    assert df.url.tolist() == ["https://a/é.csv"]


# ---------------------------------------------------------------------------- bad input


def test_a_directory_is_an_is_a_directory_error_naming_it(tmp_path: Path) -> None:
    for data in (tmp_path, str(tmp_path)):
        with pytest.raises(dfkit.InputIsDirectoryError, match=str(tmp_path)) as info:
            downloads_frame(data)
        assert isinstance(info.value, IsADirectoryError)
        assert isinstance(info.value, dfkit.ArgumentError)
        assert info.value.filename == str(tmp_path)


def test_data_and_client_together_is_an_argument_error() -> None:
    with dfkit.Client(token="t", base_url="http://127.0.0.1:9") as client:
        with pytest.raises(dfkit.ArgumentError, match=r"^data, client: pass either"):
            downloads_frame([], client=client)
        with pytest.raises(dfkit.ArgumentError, match=r"^data, client: pass either"):
            downloads_frames([], client=client)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decode every input a chunk of two records at a time, as large inputs are."""
    monkeypatch.setattr(dfkit.frame, "CHUNK_BYTES", 0)
    monkeypatch.setattr(dfkit.frame, "CHUNK_RECORDS", 2)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("per", ["download", "result"])
@pytest.mark.parametrize("wrapped", [False, True])
def test_a_large_input_decoded_in_chunks_gives_the_same_frame(per: Any, wrapped: bool) -> None:
    records = [
        {"id": "1", "status": "completed", "results": ["https://a/1.csv", "https://a/2.csv"]},
        {"id": 2, "status": "suspended", "format": "CSV"},  # format: only in this chunk
        {"id": "3", "status": "failed", "data_type": "cars", "results": []},  # unknowns here
        {"id": "4", "status": "Failed ", "total_cost": None, "results": [{"url": "https://b"}]},
        {"id": "5", "status": "paused", "data_type": "product"},
    ]
    data = {"records": records} if wrapped else records
    with pytest.warns(DfkitWarning) as chunked_notes:
        chunked = downloads_frame(orjson.dumps(data), per=per)
    with pytest.warns(DfkitWarning) as whole_notes:
        whole = downloads_frame(records, per=per)
    pd.testing.assert_frame_equal(chunked, whole)
    assert [str(w.message) for w in chunked_notes] == [str(w.message) for w in whole_notes]
    assert "on 2 downloads" in str(chunked_notes[0].message)  # counted over every chunk
    # In label order, not in the order the chunks met them.
    assert [str(w.message).split("'")[1] for w in chunked_notes] == [
        "failed",
        "paused",
        "suspended",
    ]
    # Each text column is one piece: Arrow joins a chunked one again on every take or filter.
    for name in chunked.columns:
        if isinstance(chunked[name].array, pd.arrays.ArrowStringArray):
            assert chunked[name].array.__arrow_array__().num_chunks == 1, name


@pytest.mark.usefixtures("small_chunks")
def test_links_of_chunks_read_in_different_ways_make_one_column() -> None:
    records: list[dict[str, Any]] = [
        {"id": "1", "results": ["https://a/1.csv", "https://a/2.csv"]},  # cut from the bytes
        {"id": "2"},
        {"id": "3"},  # a chunk without any link
        {"id": "4", "results": []},
        {"id": "5", "results": ["https://a/é.csv"]},  # not ASCII: decoded one by one
        {"id": "6", "results": [{"url": "https://b/6.csv"}]},
    ]
    escaped = b',{"id":"7","results":[{"url":"https:\\/\\/b\\/7.csv"},"https://b/8.csv"]}]'
    raw = orjson.dumps(records)[:-1] + escaped  # escapes: decoded one by one
    chunked = downloads_frame(raw, per="result")
    expected = downloads_frame(json.loads(raw), per="result")  # one piece, never chunked
    pd.testing.assert_frame_equal(chunked, expected)
    assert chunked["url"].tolist()[-2:] == ["https://b/7.csv", "https://b/8.csv"]
    assert chunked["url"].array.__arrow_array__().num_chunks == 1
    ordered = chunked.sort_values("url", ignore_index=True)  # sorting reads it whole
    assert ordered["url"].tolist()[:3] == ["https://a/1.csv", "https://a/2.csv", "https://a/é.csv"]


def test_strings_joined_grow_beyond_what_was_reserved() -> None:
    joined = dfkit.frame._StringsJoined(1)
    pieces = [["ab", None, "cde"], [], [None], ["skipped", "é" * 40, "fg"]]
    for piece in pieces:
        strings = pd.array(piece, dtype=dtype("url"))
        joined.append(strings[1:] if piece[:1] == ["skipped"] else strings)  # a slice: offset 1
    whole = joined.array()
    assert whole.tolist() == ["ab", pd.NA, "cde", pd.NA, "é" * 40, "fg"]
    assert whole.dtype == dtype("url")
    alone = dfkit.frame._StringsJoined(0)
    alone.append(pd.arrays.ArrowStringArray(pa.chunked_array([["a"], ["b"]], pa.large_string())))
    assert alone.array().__arrow_array__().num_chunks == 1
    assert alone.array().tolist() == ["a", "b"]


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("bad", ['"abc"', '{"n": 1}'])  # refused by a converter / by the decode
def test_a_bad_value_in_a_later_chunk_names_its_own_record(bad: str) -> None:
    raw = b'[{"id":"0"},{"id":"1"},{"id":"2"},{"id":"3","num_records":' + bad.encode() + b"}]"
    with pytest.raises(SchemaError, match=r"^records\[3\]\.num_records: expected an integer"):
        downloads_frame(raw)
    with pytest.raises(SchemaError, match=r"^data: expected a list of downloads"):
        downloads_frame(b'{"records": 5}')


def _outcome(data: Any, per: Any = "download") -> tuple[Any, ...]:
    """What a user sees: the frame and its warnings, or the error's message and problems."""
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        try:
            frame = downloads_frame(data, per=per)
        except SchemaError as exc:
            return "error", str(exc), exc.problems
    return "frame", frame, [str(w.message) for w in notes]


def assert_same_outcome(got: tuple[Any, ...], expected: tuple[Any, ...]) -> None:
    assert got[:2] == expected[:2] if got[0] == "error" else got[0] == expected[0]
    if got[0] == "error":
        pd.testing.assert_frame_equal(got[2], expected[2])
    else:
        pd.testing.assert_frame_equal(got[1], expected[1])
        assert got[2] == expected[2]


@pytest.fixture
def untyped_parses(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The ids of the records each untyped parse (the problem-collecting pass) reads."""
    parses: list[Any] = []
    parse = dfkit.frame._parse_json

    def spy(raw: Any, where: str) -> Any:
        data = parse(raw, where)
        records = data["records"] if isinstance(data, dict) else data
        parses.append([str(r.get("id") if isinstance(r, dict) else r) for r in records])
        return data

    monkeypatch.setattr(dfkit.frame, "_parse_json", spy)
    return parses


_TWELVE = [{"id": str(i), "num_records": i, "results": [f"https://a/{i}.csv"]} for i in range(12)]


@pytest.mark.parametrize("per", ["download", "result"])
@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize(
    "bad",
    [
        {"id": "7", "num_records": {"n": 1}},  # an object where a number belongs: refused
        {"id": "7", "status": True, "results": "x"},  # a boolean label, a string for a list
        7,  # a record that is not an object
        {"id": "7", "num_records": "abc", "created_at": "soon"},  # only the converters refuse
    ],
)
@pytest.mark.parametrize(
    ("chunk_bytes", "chunk", "retry", "parsed"),
    [
        (None, None, 1_000, [str(i) for i in range(12)]),  # one piece: parsed whole
        (None, None, 2, ["6", "7"]),  # one piece, refused: decoded again two records at a time
        (0, 4, 2, ["6", "7"]),  # chunks of four, the refused one decoded again by twos
        (0, 3, 1_000, ["6", "7", "8"]),  # chunks of three, the refused one parsed
    ],
)
def test_a_bad_value_is_reported_alike_however_chunked_and_parsed_only_around_it(
    bad: Any,
    wrapped: bool,
    per: str,
    chunk_bytes: int | None,
    chunk: int | None,
    retry: int,
    parsed: list[str],
    monkeypatch: pytest.MonkeyPatch,
    untyped_parses: list[Any],
) -> None:
    records: list[Any] = [*_TWELVE[:7], bad, *_TWELVE[8:]]
    raw = orjson.dumps({"records": records} if wrapped else records)
    whole = _outcome(raw, per)  # the defaults: one piece
    untyped_parses.clear()
    if chunk_bytes is not None:
        monkeypatch.setattr(dfkit.frame, "CHUNK_BYTES", chunk_bytes)
    if chunk is not None:
        monkeypatch.setattr(dfkit.frame, "CHUNK_RECORDS", chunk)
    monkeypatch.setattr(dfkit.frame, "RETRY_RECORDS", retry)
    chunked = _outcome(raw, per)
    assert chunked[0] == "error"
    assert_same_outcome(chunked, whole)
    assert_same_outcome(chunked, _outcome(records, per))  # as given parsed
    assert chunked[2]["index"].tolist() == [7] * len(chunked[2])
    # The untyped parse reads the records around the bad one, not the whole input.
    if isinstance(bad, dict) and bad.get("num_records") == "abc":
        parsed = []  # the typed decode let it through: no second parse at all
    assert untyped_parses == ([parsed] if parsed else [])


@pytest.mark.usefixtures("small_chunks")
def test_bad_values_in_several_chunks_keep_their_order_and_count() -> None:
    records: list[Any] = [dict(r) for r in _TWELVE]
    records[1]["status"] = "frozen"  # an unknown status, counted across chunks
    records[2]["num_records"] = {"n": 1}  # refused by the decode
    records[3]["num_records"] = -1  # refused by a converter, in the same chunk
    records[5]["id"] = ""  # a converter, in a chunk the decode takes
    records[9] = [1]  # not an object
    records[10]["status"] = "frozen"
    raw = orjson.dumps(records)
    assert problems_of(raw, per="result") == [
        (2, "num_records", "expected an integer"),
        (3, "num_records", "expected a non-negative integer"),
        (5, "id", "expected an id (or an _id)"),
        (9, "", "expected a download object"),
    ]
    assert_same_outcome(_outcome(raw), _outcome(records))
    records[2]["num_records"] = records[3]["num_records"] = 1
    records[5]["id"], records[9] = "5", {"id": "9"}
    notes = _outcome(orjson.dumps(records))[2]
    assert notes == [_outcome(records)[2][0]]
    assert "'frozen' on 2 downloads" in notes[0]


def test_a_number_out_of_range_in_a_chunk_is_named_in_the_whole_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = b'[{"id":"0"},{"id":"1"},{"id":"2","total_cost":1e400},{"id":"3"}]'
    whole = _outcome(raw)
    assert whole[0] == "error"
    assert whole[1].startswith("cannot parse the bytes given as JSON")
    monkeypatch.setattr(dfkit.frame, "CHUNK_BYTES", 0)
    monkeypatch.setattr(dfkit.frame, "CHUNK_RECORDS", 2)
    assert_same_outcome(_outcome(raw), whole)  # `$[2]`, not the chunk's `$[0]`


def test_a_number_out_of_range_in_a_result_beside_its_url_is_skipped() -> None:
    raw = b'[{"id":"a","results":[{"url":"https://a/0.csv","expires":1e400},"https://a/1.csv"]}]'
    assert downloads_frame(raw, per="result")["url"].tolist() == [
        "https://a/0.csv",
        "https://a/1.csv",
    ]
    for url in (b"1e400", b'""'):  # no link: the bad value is shown as written
        bad = raw.replace(b'"url":"https://a/0.csv"', b'"url":' + url)
        assert problems_of(bad, per="result") == [
            (0, "results[0]", "expected a URL string or an object with a 'url' string")
        ]
        with pytest.raises(SchemaError) as caught:
            downloads_frame(bad, per="result")
        written = bad[bad.index(b'{"url"') : bad.index(b"}") + 1]
        assert caught.value.problems["value"].tolist() == [written]


_CHUNKINGS = [(None, None, 1_000), (None, None, 1), (0, 1, 1), (0, 2, 1), (0, 3, 2)]


@pytest.mark.parametrize("chunking", _CHUNKINGS)
def test_a_number_out_of_range_is_named_where_a_column_reads_it(
    chunking: tuple[int | None, int | None, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first 1e400 is in a field no column reads (accepted): the error names the second,
    # in the whole input's lines and characters (not bytes: "é" is two of them).
    text = '[{"id":"0","size":1e400,"query":"é"},\n{"id":"1",\n "total_cost":1e400}]'
    chunk_bytes, chunk, retry = chunking
    if chunk_bytes is not None:
        monkeypatch.setattr(dfkit.frame, "CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(dfkit.frame, "CHUNK_RECORDS", chunk)
    monkeypatch.setattr(dfkit.frame, "RETRY_RECORDS", retry)
    at = text.rindex("1e400")
    column = at - text.rindex("\n", 0, at)
    for data in (text.encode(), bytearray(text.encode())):
        with pytest.raises(SchemaError) as caught:
            downloads_frame(data)
        assert str(caught.value) == (
            "cannot parse the bytes given as JSON: number is infinity when parsed as double: "
            f"line 3 column {column} (char {at})"
        )


@pytest.mark.parametrize("per", ["download", "result"])
@pytest.mark.parametrize(
    ("out_of_range", "expected"),
    [
        ('"size":1e400', {"download": None, "result": None}),  # a field no column reads
        ('"total_cost":1e400', {"download": "cannot parse", "result": "cannot parse"}),
        ('"results":[1e400]', {"download": None, "result": "records[2].results[0]: expected"}),
        ('"results":["u",{"url":1e400}]', {"download": None, "result": "records[2].results[1]"}),
        ('"results":[{"url":"u","expires":1e400}]', {"download": None, "result": None}),  # unread
    ],
)
@pytest.mark.parametrize("another_bad", [False, True])
def test_a_number_out_of_range_reads_alike_however_chunked(
    out_of_range: str,
    expected: dict[str, str | None],
    another_bad: bool,
    per: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The split checks syntax, not numbers: ``1e400`` counts only where a column reads it."""
    other = '{"id":"3","num_records":{"n":1}}' if another_bad else '{"id":"3"}'
    raw = f'[{{"id":"0"}},{{"id":"1"}},{{"id":"2",{out_of_range}}},{other}]'.encode()
    outcomes = []
    for chunk_bytes, chunk, retry in _CHUNKINGS:
        with monkeypatch.context() as patch:
            if chunk_bytes is not None:
                patch.setattr(dfkit.frame, "CHUNK_BYTES", chunk_bytes)
                patch.setattr(dfkit.frame, "CHUNK_RECORDS", chunk)
            patch.setattr(dfkit.frame, "RETRY_RECORDS", retry)
            outcomes.append(_outcome(raw, per))
    for got in outcomes[1:]:
        assert_same_outcome(got, outcomes[0])
    first = expected[per] or ("records[3].num_records" if another_bad else None)
    if first is None:
        assert outcomes[0][0] == "frame"
    else:
        assert outcomes[0][0] == "error"
        assert outcomes[0][1].startswith(first)
    if first == "cannot parse":  # named in the whole input, not in a chunk
        assert f"line 1 column {raw.index(b'1e400') + 1} " in outcomes[0][1]


#: Values some rule refuses, or that a fast conversion could get wrong (an integer a float
#: cannot hold exactly, one beyond float range, a float where an integer belongs).
_bad_scalar = st.sampled_from(
    [{"n": 1}, [1], True, "abc", -1, 1.5, 42.0, "", 2**64, 2**60 + 1, 10**400, None, 7, "Z"]
)
_messy = st.fixed_dictionaries(
    {"id": st.one_of(st.integers(0, 99).map(str), _bad_scalar)},
    optional={
        "num_records": st.one_of(st.integers(0, 10), _bad_scalar),
        "status": st.one_of(_status, st.sampled_from(["frozen", "Paused "]), _bad_scalar),
        "results": st.one_of(st.lists(_result, max_size=2), _bad_scalar, st.just([{"u": 1}])),
        "date_started": st.one_of(_timestamp, _bad_scalar),
        "query": st.one_of(st.text(max_size=4), _bad_scalar),
        "total_cost": st.one_of(st.floats(0, 10), _bad_scalar),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(_messy, st.sampled_from([5, "x", None, []])), max_size=14),
    st.integers(1, 5),
    st.integers(1, 3),
    st.sampled_from(["download", "result"]),
    st.booleans(),
)
def test_property_any_input_reads_alike_however_it_is_chunked(
    records: list[Any], chunk: int, retry: int, per: str, wrapped: bool
) -> None:
    raw = json.dumps({"records": records} if wrapped else records, ensure_ascii=False).encode()
    whole = _outcome(raw, per)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dfkit.frame, "CHUNK_BYTES", 0)
        patch.setattr(dfkit.frame, "CHUNK_RECORDS", chunk)
        patch.setattr(dfkit.frame, "RETRY_RECORDS", retry)
        assert_same_outcome(_outcome(raw, per), whole)
    assert_same_outcome(_outcome(records, per), whole)  # and as given parsed


@pytest.mark.parametrize("odd", [None, 5])  # all strings (Arrow's coding) / a bad label too
def test_more_categories_than_16_bit_codes_number(odd: Any) -> None:
    n = 2**15 + 10
    records: list[dict[str, Any]] = [{"id": str(i), "data_type": f"t{i}"} for i in range(n)]
    if odd is not None:
        records.append({"id": "odd", "data_type": odd})
        assert problems_of(records) == [(n, "data_type", "expected a string")]
        return
    df = downloads_frame(records)
    assert len(df["data_type"].cat.categories) == n + len(dtype("data_type").categories)
    assert df["data_type"].iloc[[0, -1]].tolist() == ["t0", f"t{n - 1}"]
    pd.testing.assert_frame_equal(downloads_frame(orjson.dumps(records)), df)


@pytest.mark.parametrize("chunked", [False, True])
def test_an_id_beyond_64_bits_stays_exact_when_another_record_is_bad(
    chunked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if chunked:
        monkeypatch.setattr(dfkit.frame, "CHUNK_BYTES", 0)
        monkeypatch.setattr(dfkit.frame, "CHUNK_RECORDS", 1)
    good = b'{"id":18446744073709551616}'
    assert downloads_frame(b"[" + good + b"]")["id"].tolist() == [str(2**64)]
    # The bad object sends the input through the problem pass, which must read ints exactly.
    raw = b"[" + good + b',{"id":"b","num_records":18446744073709551616}'
    raw += b',{"id":"c","num_records":{"n":1}}]'
    assert problems_of(raw) == [
        (1, "num_records", "expected an integer below 2**63 (64-bit)"),
        (2, "num_records", "expected an integer"),
    ]


@pytest.mark.parametrize("year", ["2025", "1500"])  # read by pandas / moved into its range
@pytest.mark.parametrize("rest", ["-01-01+02:00", "-01-01x10:00:00", "-01-01é10:00"])
def test_a_timestamp_needs_t_or_a_space_and_a_time_before_an_offset(year: str, rest: str) -> None:
    assert problems_of([{"id": "a", "created_at": year + rest}]) == [
        (0, "created_at", "expected an ISO-8601 timestamp")
    ]


def test_timestamps_in_years_pandas_cannot_hold_read_like_the_others() -> None:
    values = {
        "0001-01-01": datetime(1, 1, 1, tzinfo=timezone.utc),
        "1500-06-01T10:00:00+02:00": datetime(1500, 6, 1, 8, tzinfo=timezone.utc),
        "1600-02-29 12:00:00.123456": datetime(1600, 2, 29, 12, 0, 0, 123456, tzinfo=timezone.utc),
        "2400-02-29T10:00Z": datetime(2400, 2, 29, 10, tzinfo=timezone.utc),
        "9999-12-31 23:59:59.5": datetime(9999, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),
    }
    df = downloads_frame([{"id": str(i), "created_at": v} for i, v in enumerate(values)])
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    expected = [(t - epoch) // timedelta(microseconds=1) for t in values.values()]
    assert df["created_at"].astype("int64").tolist() == expected
    assert problems_of([{"id": "a", "created_at": "2300-02-29"}])  # no leap day that year


@pytest.mark.parametrize("field", ["id", "query", "status", "created_at", "results", "url"])
def test_a_lone_surrogate_in_parsed_input_is_a_bad_value_among_the_others(field: str) -> None:
    bad = json.loads('"\\ud800"')  # json.loads keeps it; Arrow cannot encode it
    record: dict[str, Any] = {"id": "a", field: bad}
    where = {"results": "results[0]", "url": "results[0].url"}.get(field, field)
    if field in ("results", "url"):
        record = {"id": "a", "results": [bad if field == "results" else {"url": bad}]}
    data = [{"id": "x", "num_records": "q"}, record]
    given = json.loads(json.dumps(data))
    assert problems_of(data, per="result") == [
        (0, "num_records", "expected an integer"),
        (1, where, "invalid Unicode"),
    ]
    assert data == given  # the input is not changed
