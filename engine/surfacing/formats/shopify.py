"""Shopify's product CSV export: one product spread over several rows.

The first row of a ``Handle`` carries the product (Title, Body (HTML), Vendor, Type, Tags,
the option names) and its first variant; each further row with variant columns (``Variant
SKU``, ``Option1 Value``...) is another variant and leaves the product columns empty; rows
with only ``Image Src`` add images. Each variant becomes one product: the product columns of
the first row, its own variant columns, the product's images (``image_link`` the first, or
the variant's own ``Variant Image``; the rest as ``additional_image_link``), and the handle
as ``item_group_id`` when the handle has several variants.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.surfacing.formats.fields import ColumnMap, normalise_key
from engine.surfacing.formats.records import Located
from engine.surfacing.formats.values import is_empty
from engine.surfacing.product import CatalogError

_VARIANT = re.compile(r"^(variant_.*|option\d+_value|cost_per_item)$")
_IMAGE = frozenset({"image_src", "image_position", "image_alt_text"})
_SIGNATURE = frozenset({"variant_sku", "variant_price", "body_(html)", "option1_name"})


def is_export(header: Sequence[str], columns: ColumnMap) -> bool:
    """A Shopify export: a Handle column (not remapped by the user) and Shopify's own columns."""
    keys = {normalise_key(h) for h in header}
    return "handle" in keys and "handle" not in columns.own and bool(keys & _SIGNATURE)


def merge_variants(rows: Sequence[Located]) -> list[Located]:
    groups: dict[str, list[Located]] = {}
    for row in rows:
        handle = _get(row, "handle")
        if handle is None:
            raise CatalogError(
                "Handle is empty; every row of a Shopify export names its product's handle",
                field="id",
                where=row.where,
            )
        groups.setdefault(handle, []).append(row)
    merged: list[Located] = []
    for handle, group in groups.items():
        first = group[0]
        variants = [first]
        for row in group[1:]:
            if _is_variant(row):
                variants.append(row)
            elif _has_product_columns(row):
                raise CatalogError(
                    f'a row of handle "{handle}" fills product columns but is neither its first '
                    "row nor a variant (no Variant or Option value); expected one product "
                    "row per handle, then variant and image rows",
                    field="id",
                    where=row.where,
                )
        images = [url for row in group if (url := _get(row, "image_src")) is not None]
        product = {
            column: value
            for column, value in first.values.items()
            if not _VARIANT.match(normalise_key(column)) and normalise_key(column) not in _IMAGE
        }
        several = len(variants) > 1
        for row in variants:
            if several and _get(row, "variant_sku") is None:
                raise CatalogError(
                    f'a variant of handle "{handle}" has no Variant SKU; a product with '
                    "several variants needs a Variant SKU on each, to tell them apart",
                    field="id",
                    where=row.where,
                )
            values: dict[str, object] = dict(product)
            values.update(
                (column, value)
                for column, value in row.values.items()
                if not is_empty(value) and normalise_key(column) not in _IMAGE
            )
            if images and _get(row, "variant_image") is None:
                values["Image Src"] = images[0]
            if len(images) > 1:
                values["additional_image_link"] = ", ".join(images[1:])
            if several:
                values.setdefault("item_group_id", handle)
            merged.append(Located(values=values, where=row.where, line=row.line))
    return merged


def _get(row: Located, key: str) -> str | None:
    for column, value in row.values.items():
        if normalise_key(column) == key and not is_empty(value):
            return str(value).strip()
    return None


def _is_variant(row: Located) -> bool:
    return any(
        _VARIANT.match(normalise_key(column)) and not is_empty(value)
        for column, value in row.values.items()
    )


def _has_product_columns(row: Located) -> bool:
    return any(
        normalise_key(column) not in _IMAGE | {"handle"} and not is_empty(value)
        for column, value in row.values.items()
    )
