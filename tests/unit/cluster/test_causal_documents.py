"""The JSONB documents of the causal repository: a dataset's summary as stored and read back."""

from __future__ import annotations

from datetime import date

from cluster.repositories.causal import summary_document, summary_from_document
from engine.causal.canonical import DatasetSummary, DatasetTotals

SUMMARY = DatasetSummary(
    columns=("geo", "date", "spend_tv", "revenue", "attributed_tv", "price"),
    rows=40,
    frequency="weekly",
    periods=20,
    start=date(2024, 1, 1),
    end=date(2024, 5, 13),
    geos=("north", "south"),
    channels=("tv",),
    kpis=("revenue",),
    controls=("price",),
    attributed=("tv",),
    source_columns={"spend_tv": "TV Spend", "revenue": "Sales"},
    ignored_columns=("notes",),
    totals=DatasetTotals(spend={"tv": 2400.0}, kpi={"revenue": 51000.5}, attributed={"tv": 900.0}),
)


def test_summary_is_stored_under_the_names_clients_and_queries_read() -> None:
    document = summary_document(SUMMARY)
    # Clients read these keys, and latest_dataset_with_channels queries summary->'channels'.
    assert document == {
        "columns": ["geo", "date", "spend_tv", "revenue", "attributed_tv", "price"],
        "rows": 40,
        "frequency": "weekly",
        "periods": 20,
        "start": "2024-01-01",
        "end": "2024-05-13",
        "geos": ["north", "south"],
        "channels": ["tv"],
        "kpis": ["revenue"],
        "controls": ["price"],
        "attributed": ["tv"],
        "source_columns": {"spend_tv": "TV Spend", "revenue": "Sales"},
        "ignored_columns": ["notes"],
        "totals": {
            "spend": {"tv": 2400.0},
            "kpi": {"revenue": 51000.5},
            "attributed": {"tv": 900.0},
        },
    }
    assert summary_from_document(document) == SUMMARY


def test_a_summary_stored_before_column_roles_reads_back() -> None:
    document = summary_document(SUMMARY)
    del document["source_columns"], document["ignored_columns"]
    old = summary_from_document(document)
    assert (old.source_columns, old.ignored_columns) == ({}, ())
    assert old.channels == SUMMARY.channels
    assert old.totals == SUMMARY.totals
