"""CSV, JSON Lines, Parquet and JSON rows -> products (see ``fields`` for the columns)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence

import pyarrow.parquet as pq

from engine.surfacing.ingest.fields import check_unique, to_product
from engine.surfacing.product import MAX_PRODUCTS, CatalogError, Product


def decode(content: bytes) -> str:
    """UTF-8 (a byte-order mark is dropped); anything else is refused, never guessed."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise CatalogError(
            f"not UTF-8 text: byte {exc.start} (line {line}) is 0x{content[exc.start]:02x}; "
            "save the file as UTF-8",
            field="file",
        ) from None


def _limit(count: int) -> None:
    if count > MAX_PRODUCTS:
        raise CatalogError(f"more than {MAX_PRODUCTS} products; split the upload", field="file")


def from_csv(content: bytes, *, columns: Mapping[str, str] | None = None) -> tuple[Product, ...]:
    text = decode(content)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel  # one column, or a file csv cannot sniff
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    if not reader.fieldnames:
        raise CatalogError("the file is empty: no header row", field="file")
    products: list[Product] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            if None in row:
                raise CatalogError(
                    f"{len(row[None]) + len(reader.fieldnames)} values for "
                    f"{len(reader.fieldnames)} columns",
                    field="file",
                    where=f"line {line}",
                )
            products.append(to_product(row, where=f"line {line}", line=line, columns=columns))
            _limit(len(products))
    except csv.Error as exc:
        raise CatalogError(
            f"not valid CSV: {exc}", field="file", where=f"line {reader.line_num}"
        ) from None
    if not products:
        raise CatalogError("the file holds a header but no products", field="file")
    check_unique(products)
    return tuple(products)


def _json_lines(text: str) -> Iterator[tuple[int, object]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CatalogError(
                f"not valid JSON ({exc.msg} at column {exc.colno})",
                field="file",
                where=f"line {number}",
            ) from None


def from_jsonl(content: bytes, *, columns: Mapping[str, str] | None = None) -> tuple[Product, ...]:
    products: list[Product] = []
    for number, value in _json_lines(decode(content)):
        if not isinstance(value, dict):
            raise CatalogError(
                "each line must be a JSON object", field="file", where=f"line {number}"
            )
        products.append(to_product(value, where=f"line {number}", line=number, columns=columns))
        _limit(len(products))
    if not products:
        raise CatalogError("the file holds no products", field="file")
    check_unique(products)
    return tuple(products)


def from_rows(
    rows: Sequence[Mapping[str, object]], *, columns: Mapping[str, str] | None = None
) -> tuple[Product, ...]:
    _limit(len(rows))
    if not rows:
        raise CatalogError("no products", field="products")
    products = tuple(
        to_product(row, where=f"row {i}", line=i, columns=columns)
        for i, row in enumerate(rows, start=1)
    )
    check_unique(products, unit="row")
    return products


def from_parquet(
    content: bytes, *, columns: Mapping[str, str] | None = None
) -> tuple[Product, ...]:
    try:
        table = pq.read_table(io.BytesIO(content))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise CatalogError(f"not a readable Parquet file: {exc}", field="file") from None
    return from_rows(table.to_pylist(), columns=columns)
