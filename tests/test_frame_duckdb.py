"""The DuckDB path of downloads_frame: the same frame as the exact path, or no answer at all."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dfkit
from dfkit import DfkitWarning, SchemaError, _frame_duckdb, frame


def exact(raw: bytes, per: str) -> tuple[pd.DataFrame, list[str]]:
    return frame._build(frame._records(raw), per)  # type: ignore[arg-type]


def assert_same(raw: bytes, per: str) -> None:
    """The DuckDB path either declines or gives exactly what the exact path gives."""
    fast = _frame_duckdb.read(raw, per)  # type: ignore[arg-type]
    try:
        slow = exact(raw, per)
    except SchemaError:
        assert fast is None, "the DuckDB path accepted input the exact path rejects"
        return
    if fast is not None:
        pd.testing.assert_frame_equal(fast[0], slow[0])
        assert fast[1] == slow[1]


@pytest.mark.parametrize("per", ["result", "download"])
def test_sample_is_read_by_duckdb_and_equals_the_exact_path(per: str) -> None:
    raw = orjson.dumps(dfkit.sample_downloads())
    fast = _frame_duckdb.read(raw, per)  # type: ignore[arg-type]
    assert fast is not None
    pd.testing.assert_frame_equal(fast[0], exact(raw, per)[0])


def test_page_shape_without_optional_fields_and_unknown_status() -> None:
    data = [
        {"id": "a", "status": "Failed", "num_records": 1, "created_at": "2024-12-25T10:00:00Z",
         "results": ["u1"]},
        {"id": 5, "status": "running", "num_records": None, "results": []},
    ]  # fmt: skip
    raw = orjson.dumps(data)
    fast = _frame_duckdb.read(raw, "result")
    assert fast is not None
    frame_, notes = fast
    assert "total_cost" not in frame_.columns
    assert notes == exact(raw, "result")[1]
    assert any("'failed'" in n for n in notes)
    pd.testing.assert_frame_equal(frame_, exact(raw, "result")[0])


@pytest.mark.parametrize(
    "record",
    [
        {"id": "a", "num_records": "42"},  # lenient forms only the exact path reads
        {"id": "a", "num_records": 42.0},
        {"id": "a", "results": [{"url": "u"}]},
        {"id": "a", "query": None},  # present but always null
        {"id": "", "_id": 7},
        {"status": "queued"},  # no id at all
        {"id": None},
        {"id": "a", "status": 3},  # problems: the exact path reports them
        {"id": "a", "num_records": -1},
        {"id": "a", "num_records": True},
        {"id": "a", "results": ["u", 5]},
        {"id": "a", "results": [""]},
        {"id": "a", "results": ["5"]},  # read like a JSON 5 would be: only the exact path knows
        {"id": "a", "results": [True]},
        {"id": "a", "results": [["u"]]},
        {"id": "a", "results": [None]},
        {"id": "a", "results": "u"},
        {"id": "a", "created_at": "yesterday"},
        {"id": "a", "total_cost": "abc"},
        {"id": 1.5},
    ],
)
def test_declines_what_only_the_exact_path_can_judge(record: dict[str, Any]) -> None:
    raw = orjson.dumps([{"id": "ok", "status": "queued"}, record])
    assert _frame_duckdb.read(raw, "result") is None


@pytest.mark.parametrize("raw", [b"[1, 2]", b'{"records": []}', b"[{]", b"not json"])
def test_declines_input_that_is_not_an_array_of_objects(raw: bytes) -> None:
    assert _frame_duckdb.read(raw, "download") is None


def test_file_with_a_quote_in_its_name(tmp_path: Path) -> None:
    path = tmp_path / "it's downloads.json"
    path.write_bytes(orjson.dumps(dfkit.sample_downloads()[:5]))
    fast = _frame_duckdb.read(path, "download")
    assert fast is not None
    assert len(fast[0]) == 5


def test_downloads_frame_uses_duckdb_for_large_input(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = orjson.dumps(dfkit.sample_downloads())
    calls: list[int] = []
    real = _frame_duckdb.read

    def spy(data: Any, per: Any) -> Any:
        calls.append(len(data))
        return real(data, per)

    monkeypatch.setattr(_frame_duckdb, "read", spy)
    monkeypatch.setattr(frame, "FAST_PATH_BYTES", 1024)
    via_duckdb = dfkit.downloads_frame(raw)
    monkeypatch.setattr(frame, "FAST_PATH_BYTES", 10**12)
    pd.testing.assert_frame_equal(via_duckdb, dfkit.downloads_frame(raw))
    assert calls == [len(raw)]


def test_no_room_for_the_scratch_copy_falls_back_to_the_exact_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_frame_duckdb, "_scratch_dir", lambda size: str(tmp_path / "missing"))
    raw = orjson.dumps(dfkit.sample_downloads())
    assert _frame_duckdb.read(raw, "result") is None
    monkeypatch.setattr(frame, "FAST_PATH_BYTES", 0)
    pd.testing.assert_frame_equal(dfkit.downloads_frame(raw), exact(raw, "result")[0])


def test_large_bad_input_still_reports_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frame, "FAST_PATH_BYTES", 0)
    raw = orjson.dumps([{"id": "a", "num_records": -1}, {"id": "b", "status": "oops"}])
    with pytest.raises(SchemaError, match=r"records\[0\]\.num_records: negative"):
        dfkit.downloads_frame(raw)
    with pytest.warns(DfkitWarning, match="'oops'"):
        dfkit.downloads_frame(orjson.dumps([{"id": "b", "status": "oops"}]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dfkit.downloads_frame(orjson.dumps([]), per="download")


# ---------------------------------------------------------------------------- property

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_stamp = st.sampled_from(
    ["2025-03-17T20:03:55.926Z", "2025-03-17T22:03:55+02:00", "2017-11-16 17:46:06.0",
     "2024-12-25", "2025-03-17T20:03:55.123456789Z", "not a date", ""]
)  # fmt: skip
_value = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**64), st.floats(), _text)
_record = st.fixed_dictionaries(
    {"id": st.one_of(_text, st.integers(0, 2**64))},
    optional={
        "_id": st.integers(0, 100),
        "status": st.one_of(
            st.sampled_from(["queued", "Running", " completed ", "failed"]), _value
        ),
        "num_records": st.one_of(st.integers(0, 2**63 - 1), _value),
        "created_at": st.one_of(_stamp, st.none()),
        "date_started": st.one_of(_stamp, _value),
        "results": st.one_of(
            st.lists(st.one_of(_text, st.builds(lambda u: {"url": u}, _text)), max_size=3),
            st.lists(st.just("https://s3/x.csv?sig=1"), max_size=3),
            _value,
        ),
        "date_updated": st.one_of(_stamp, st.none()),
        "num_downloaded": st.one_of(st.integers(0, 10**6), st.none()),
        "data_type": st.one_of(st.sampled_from(["product", "Business", "vehicles"]), st.none()),
        "format": st.one_of(st.sampled_from(["CSV", "json"]), _value),
        "total_cost": st.one_of(
            st.floats(allow_nan=False, allow_infinity=False), st.integers(), _value
        ),
        "query": st.one_of(_text, st.none()),
        "user": st.one_of(st.integers(0, 10**9), _text),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_record, max_size=6), st.sampled_from(["result", "download"]))
def test_property_duckdb_path_agrees_with_the_exact_path(
    records: list[dict[str, Any]], per: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DfkitWarning)
        assert_same(json.dumps(records).encode(), per)  # stdlib: big ints, NaN


_good_stamp = st.sampled_from(
    ["2025-03-17T20:03:55.926Z", "2025-03-17T22:03:55+02:00", "2017-11-16 17:46:06.0", "2024-12-25"]
)
_canonical = st.fixed_dictionaries(
    {
        "id": st.one_of(_text.filter(bool), st.integers(0, 2**63 - 1)),
        "status": st.one_of(st.none(), st.sampled_from(["queued", "running", "completed", "x"])),
        "num_records": st.one_of(st.none(), st.integers(0, 2**63 - 1)),
        "date_started": st.one_of(st.none(), _good_stamp),
        "results": st.one_of(
            st.none(), st.lists(st.builds("https://s3/{}".format, _text), max_size=3)
        ),
        "date_updated": _good_stamp,
        "total_cost": st.one_of(st.integers(-(2**40), 2**40), st.floats(-1e9, 1e9)),
        "query": _text,
        "format": st.sampled_from(["CSV", "json", "Parquet"]),
        "user_id": st.one_of(_text, st.integers(0, 10**12)),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_canonical, min_size=1, max_size=6), st.sampled_from(["result", "download"]))
def test_property_duckdb_path_answers_for_canonical_input(
    records: list[dict[str, Any]], per: str
) -> None:
    raw = orjson.dumps(records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DfkitWarning)
        fast = _frame_duckdb.read(raw, per)  # type: ignore[arg-type]
        assert fast is not None
        slow = exact(raw, per)
    pd.testing.assert_frame_equal(fast[0], slow[0])
    assert fast[1] == slow[1]
