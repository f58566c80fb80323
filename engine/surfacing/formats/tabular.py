"""CSV (and Merchant Center's tab-separated text feeds), JSON Lines, JSON arrays, Parquet and
JSON request rows -> products. Errors name ``line N`` (CSV, JSON Lines: the header is line 1,
and a row is named by the line it starts on) or ``row N`` (Parquet, JSON rows: 1-based)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from engine.surfacing.formats import shopify
from engine.surfacing.formats.fields import ColumnMap, normalise_key
from engine.surfacing.formats.records import Located, check_count, decode_utf8, to_products
from engine.surfacing.product import MAX_TEXT, CatalogError, Product

_DELIMITERS = (",", "\t", ";", "|")


def _delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most columns (comma on a tie): sniffing
    data rows misleads on descriptions full of commas and "|"-separated highlights."""
    best, widest = ",", 1
    for delimiter in _DELIMITERS:
        width = len(next(csv.reader([header_line], delimiter=delimiter), []))
        if width > widest:
            best, widest = delimiter, width
    return best


def _header(cells: Sequence[str], where: str) -> list[str]:
    header = [cell.strip() for cell in cells]
    seen: dict[str, str] = {}
    for name in header:
        if not name:
            continue
        key = normalise_key(name)
        if key in seen:
            raise CatalogError(
                f'columns "{seen[key]}" and "{name}" name the same column; expected each '
                "column once",
                field=name,
                where=where,
            )
        seen[key] = name
    if not seen:
        raise CatalogError("the header row names no columns", field="file", where=where)
    return header


def from_csv(content: bytes, *, columns: ColumnMap) -> tuple[Product, ...]:
    text = decode_utf8(content)
    if not text.strip():
        raise CatalogError("the file is empty", field="file")
    first_line = text.lstrip("\r\n").splitlines()[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    records: list[Located] = []
    header: list[str] | None = None
    try:
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(row, f"line {start}")
                continue
            where = f"line {start}"
            if len(row) > len(header):
                extra = row[len(header) :]
                if any(cell.strip() for cell in extra):
                    raise CatalogError(
                        f"{len(row)} values for {len(header)} columns; quote values that "
                        "contain the delimiter",
                        field="file",
                        where=where,
                    )
            values: dict[str, object] = {}
            for name, cell in zip(header, row, strict=False):
                if not name:
                    if cell.strip():
                        raise CatalogError(
                            f"a value ({cell.strip()[:40]!r}) sits in a column with no name in "
                            "the header row; expected a header for every column",
                            field="file",
                            where=where,
                        )
                    continue
                values[name] = cell
            records.append(Located(values=values, where=where, line=start))
            check_count(len(records))
    except csv.Error as exc:
        problem = f"not valid CSV: {exc}"
        if "field limit" in str(exc):  # csv's own bound, far above MAX_TEXT
            problem = (
                f"a value is longer than {csv.field_size_limit()} characters; at most {MAX_TEXT}"
            )
        raise CatalogError(problem, field="file", where=f"line {reader.line_num}") from None
    if header is None:
        raise CatalogError("the file is empty", field="file")
    columns.check_present(name for name in header if name)
    if shopify.is_export(header, columns):
        records = shopify.merge_variants(records)
    return to_products(records, columns)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f'the key "{key}" appears twice in one object')
        found[key] = value
    return found


def _loads(text: str) -> object:
    return json.loads(text, object_pairs_hook=_no_duplicate_keys)


def from_jsonl(content: bytes, *, columns: ColumnMap) -> tuple[Product, ...]:
    """JSON Lines (one object per line, blank lines skipped), or one JSON array of objects."""
    text = decode_utf8(content)
    if not text.strip():
        raise CatalogError("the file is empty", field="file")
    if text.lstrip().startswith("["):
        try:
            rows = _loads(text)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise CatalogError(
                f"not valid JSON: {exc}; expected an array of product objects", field="file"
            ) from None
        if not isinstance(rows, list):
            raise CatalogError("expected a JSON array of product objects", field="file")
        return from_rows(rows, columns=columns, container="file")
    records: list[Located] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            value = _loads(raw)
        except ValueError as exc:
            raise CatalogError(
                f"not valid JSON ({exc}); expected one whole JSON object per line (JSON Lines)",
                field="file",
                where=where,
            ) from None
        if not isinstance(value, dict):
            raise CatalogError(
                f"a JSON {type(value).__name__} where a product object was expected; "
                "expected one JSON object per line",
                field="file",
                where=where,
            )
        records.append(Located(values=value, where=where, line=number))
        check_count(len(records))
    columns.check_present({key for record in records for key in record.values})
    return to_products(records, columns)


def from_rows(
    rows: Sequence[object], *, columns: ColumnMap, container: str = "products"
) -> tuple[Product, ...]:
    """Rows of JSON objects (or Parquet rows); ``container`` is the field errors about the
    rows as a whole name: ``products`` in a JSON request body, ``file`` for an upload."""
    check_count(len(rows))
    if not rows:
        raise CatalogError("no products: expected at least one product object", field=container)
    records: list[Located] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise CatalogError(
                f"a {type(row).__name__} where a product object was expected",
                field=container,
                where=f"row {number}",
            )
        records.append(Located(values=row, where=f"row {number}", line=number))
    columns.check_present({str(key) for record in records for key in record.values})
    return to_products(records, columns)


def from_parquet(content: bytes, *, columns: ColumnMap) -> tuple[Product, ...]:
    if not content:
        raise CatalogError("the file is empty", field="file")
    try:
        parquet = pq.ParquetFile(io.BytesIO(content))
        check_count(parquet.metadata.num_rows)  # before reading any data
        table = parquet.read()
    except CatalogError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CatalogError(f"not a readable Parquet file: {exc}", field="file") from None
    columns.check_present(table.column_names)
    return from_rows(table.to_pylist(), columns=columns, container="file")
