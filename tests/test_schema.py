"""The one schema: consistent definitions that every other module can rely on."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from dfkit import schema
from dfkit.schema import COLUMNS, STATUSES, columns, empty_frame


def test_column_names_are_unique_and_core_columns_come_first() -> None:
    names = [c.name for c in COLUMNS]
    assert len(names) == len(set(names))
    optional = [c.optional for c in COLUMNS]
    assert optional == sorted(optional), "optional columns must follow the core ones"


def test_core_columns_in_the_documented_order() -> None:
    assert [c.name for c in columns("result", optional=())] == [
        "id", "status", "num_records", "created_at", "result_index", "url",
    ]  # fmt: skip
    assert [c.name for c in columns("download", optional=())] == [
        "id", "status", "num_records", "created_at", "num_results",
    ]  # fmt: skip


def test_status_categories_in_lifecycle_order() -> None:
    assert STATUSES == ("queued", "in_progress", "completed", "cancelled")
    assert list(schema.dtype("status").categories) == list(STATUSES)
    assert not schema.dtype("status").ordered


@pytest.mark.parametrize("col", COLUMNS, ids=lambda c: c.name)
def test_pandas_dtype_and_arrow_type_agree(col: schema.Column) -> None:
    """Arrow's own conversion of the pandas dtype lands on the declared Arrow type."""
    series = pd.Series([], dtype=col.dtype)
    arrow = pa.array(series, from_pandas=True).type
    if col.is_category:
        assert pa.types.is_dictionary(arrow)
        assert col.arrow_type == pa.string()
    elif pa.types.is_large_string(arrow):
        assert col.arrow_type == pa.string()
    else:
        assert arrow == col.arrow_type


def test_every_column_is_described_and_sourced() -> None:
    for col in COLUMNS:
        assert col.description.endswith("."), col.name
        if col.name not in ("result_index", "num_results"):
            assert col.source, col.name


def test_category_dtype_appends_unknown_values_alphabetically() -> None:
    got = schema.category_dtype("format", ["xlsx", "csv", "avro"])
    assert list(got.categories) == ["csv", "json", "avro", "xlsx"]


def test_empty_frame_has_core_columns_with_their_dtypes() -> None:
    df = empty_frame("result")
    assert list(df.columns) == [c.name for c in columns("result", optional=())]
    for name in df.columns:
        assert df[name].dtype == schema.dtype(name)


def test_unknown_names_and_pers_are_rejected() -> None:
    with pytest.raises(KeyError, match="not a downloads-frame column"):
        schema.dtype("nope")
    with pytest.raises(ValueError, match="per must be"):
        columns("file")  # type: ignore[arg-type]


def test_arrow_schema_uses_warehouse_safe_types() -> None:
    arrow = schema.arrow_schema([c.name for c in COLUMNS])
    for field in arrow:
        assert not pa.types.is_dictionary(field.type)
        if pa.types.is_timestamp(field.type):
            assert (field.type.unit, field.type.tz) == ("us", "UTC")


def test_schema_markdown_lists_every_column() -> None:
    table = schema.schema_markdown()
    for col in COLUMNS:
        assert f"| `{col.name}` |" in table
