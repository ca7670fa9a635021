"""The field catalog: one type per Datafiniti field, documented in the README."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from dfkit.catalog import DATA_TYPES, FIELDS, TIMESTAMP, arrow_type, catalog_markdown, guess_kind

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_holds_the_current_catalog() -> None:
    text = README.read_text()
    start, end = "<!-- catalog -->\n", "\n<!-- /catalog -->"
    assert start in text and end in text, "README lacks the catalog markers"
    copy = text.split(start, 1)[1].split(end, 1)[0]
    assert copy == catalog_markdown(), "README catalog is stale: paste catalog_markdown()"


def test_the_issue_rules_hold_for_every_catalogued_field() -> None:
    for path, f in FIELDS.items():
        last = path.rsplit(".", 1)[-1]
        t = arrow_type(path)
        scalar = t.value_type if pa.types.is_list(t) and f.kind != "records" else t
        if last in ("dateAdded", "dateUpdated", "date", "dateSeen"):
            assert scalar == TIMESTAMP, path
        if last == "dateSeen":
            assert f.many, path
        if last in ("latitude", "longitude", "rating") or last.startswith("amount"):
            assert scalar == pa.float64(), path
        codes = ("postalCode", "phone", "phones", "upc", "upca", "upce", "ean", "ean8", "ean13")
        if last in (*codes, "gtins", "asins", "isbn", "sic", "naics", "mlsNumber", "taxID"):
            assert scalar == pa.string(), path
        if last == "id" or last.endswith(("ID", "Number", "Code")):
            assert scalar == pa.string(), path
        assert set(f.types) <= set(DATA_TYPES)
    for name in (
        "reviews",
        "prices",
        "menus",
        "descriptions",
        "features",
        "owners",
        "transactions",
    ):
        assert pa.types.is_struct(arrow_type(name).value_type), name


def test_unknown_fields_are_typed_by_name_only() -> None:
    assert guess_kind("prices.lastSeenDate") == ("timestamp", False)
    assert guess_kind("reviews.dateSeen") == ("timestamp", True)
    assert guess_kind("isFeatured") == ("boolean", False)
    assert guess_kind("priceAmount") == ("float", False)
    assert guess_kind("warehouseCode") == ("string", False)
