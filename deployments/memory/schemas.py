"""Request and response bodies of the memory API, and parsing of search filters."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from memory.shard import MetadataValue

# Memory types are open: modules and registered apps store their own kinds
# (``surfacing_audit``, ``calendar_insight``...). A type is a name, so that it reads the same in
# filters, analytics and URLs; the table only bounds its length.
MEMORY_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_MEMORY_TYPE = re.compile(MEMORY_TYPE_PATTERN.removeprefix("^").removesuffix("$"))
# The kinds LiftOS's own modules write; examples for the documentation, not a closed list.
KNOWN_MEMORY_TYPES: tuple[str, ...] = (
    "note",
    "fact",
    "preference",
    "conversation",
    "causal_analysis",
    "catalog_audit",
    "eval_result",
    "content_generation",
    "insight",
)


def check_memory_type(value: str) -> str:
    # fullmatch: a trailing newline must not pass as it would with ``$``.
    if not _MEMORY_TYPE.fullmatch(value):
        raise ValueError(
            "must be a name of 1 to 64 characters: a lower-case letter, then lower-case "
            "letters, digits or underscores (e.g. causal_analysis)"
        )
    return value


MemoryType = Annotated[
    str,
    AfterValidator(check_memory_type),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MEMORY_TYPE_PATTERN,
            "maxLength": 64,
            "description": "any name of your choosing, e.g. " + ", ".join(KNOWN_MEMORY_TYPES),
            "examples": ["causal_analysis", "surfacing_audit"],
        }
    ),
]
SearchModeParam = Literal["hybrid", "dense", "keyword", "graph"]

# Hard ceilings of the schema; the configurable content limit (memory_max_content_bytes, at most
# 1 MiB) is checked by the routes, which know the settings.
MAX_CONTENT_BYTES = 1024 * 1024
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 100
MAX_METADATA_BYTES = 16 * 1024
MAX_BATCH = 1000
MAX_FILTERS = 20


def content_bytes(content: str | dict[str, Any] | list[Any]) -> int:
    """Size of content as stored: UTF-8 text, or compact JSON for objects and arrays."""
    if isinstance(content, str):
        return len(content.encode("utf-8"))
    return len(json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def as_utc(value: datetime | None) -> datetime | None:
    # A time without an offset is read as UTC, so filters and event dates never depend on the
    # server's local zone.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def check_content(value: Any) -> str | dict[str, Any] | list[Any]:
    if not isinstance(value, str | dict | list):
        raise ValueError("must be a string, a JSON object or a JSON array")
    if (isinstance(value, str) and not value.strip()) or not value:
        raise ValueError("must not be empty")
    if content_bytes(value) > MAX_CONTENT_BYTES:
        raise ValueError(f"must be at most {MAX_CONTENT_BYTES} bytes")
    return value


def check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
    for key in value:
        if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
            raise ValueError(f"keys must be 1 to {MAX_METADATA_KEY_LENGTH} characters")
    if len(json.dumps(value, separators=(",", ":")).encode("utf-8")) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


_CONTENT_DOC: dict[str, Any] = {
    "anyOf": [{"type": "string", "minLength": 1}, {"type": "object"}, {"type": "array"}],
    "description": "text, or a JSON object or array (searched as `key: value` lines)",
}


_METADATA_DOC = (
    "your own free-form labels (at most 50 keys, 16 KiB as JSON), searchable with "
    "`filter=key:value`. They never decide the tenant: a memory always belongs to the "
    "organisation of the credentials, and a key such as `org_id` is stored as it is, as a label"
)


class StoreRequest(_Request):
    memory_type: MemoryType
    content: Annotated[Any, Field(json_schema_extra=_CONTENT_DOC)]
    metadata: dict[str, Any] = Field(default_factory=dict, description=_METADATA_DOC)
    event_at: datetime | None = Field(
        default=None, description="when it happened (defaults to when it is stored)"
    )

    @field_validator("content")
    @classmethod
    def _content(cls, value: Any) -> Any:
        return check_content(value)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_metadata(value)

    @field_validator("event_at")
    @classmethod
    def _event_at(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)


class StoreBatchRequest(_Request):
    items: list[StoreRequest] = Field(min_length=1, max_length=MAX_BATCH)


class UpdateRequest(_Request):
    """Fields to replace; at least one. The previous version moves to the history."""

    content: Annotated[Any, Field(default=None, json_schema_extra=_CONTENT_DOC)]
    metadata: dict[str, Any] | None = None
    event_at: datetime | None = None

    @field_validator("content")
    @classmethod
    def _content(cls, value: Any) -> Any:
        return None if value is None else check_content(value)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_metadata(value)

    @field_validator("event_at")
    @classmethod
    def _event_at(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)

    @model_validator(mode="after")
    def _something(self) -> UpdateRequest:
        if self.content is None and self.metadata is None and self.event_at is None:
            raise ValueError("give at least one of content, metadata, event_at")
        return self


class MemoryOut(_Response):
    id: int
    version: int
    memory_type: str
    content: str | dict[str, Any] | list[Any]
    metadata: dict[str, Any]
    event_at: datetime | None
    created_at: datetime
    updated_at: datetime


class StoredBatch(_Response):
    ids: list[int]


class VersionOut(_Response):
    version: int
    content: str | dict[str, Any] | list[Any]
    metadata: dict[str, Any]
    created_at: datetime


class HistoryOut(_Response):
    id: int
    versions: list[VersionOut]


class SearchHitOut(_Response):
    id: int
    score: float
    retrievers: list[str]
    ranks: dict[str, int]
    memory: MemoryOut


class SearchOut(_Response):
    hits: list[SearchHitOut]
    mode: SearchModeParam
    took_ms: float


class EntityOut(_Response):
    name: str
    kind: str
    label: str
    mentions: int


class EntitiesOut(_Response):
    entities: list[EntityOut]


class NeighborOut(_Response):
    name: str
    kind: str
    label: str
    distance: int
    weight: int


class NeighborsOut(_Response):
    entity: str
    neighbors: list[NeighborOut]


class ClusterOut(_Response):
    label: str
    terms: list[str]
    size: int
    memory_ids: list[int]


class ClustersOut(_Response):
    clusters: list[ClusterOut]


class DayCount(_Response):
    day: date
    count: int


class StorageOut(_Response):
    dense_bytes: int
    keyword_bytes: int
    graph_disk_bytes: int
    total_bytes: int


class DensityOut(_Response):
    memories_per_active_day: float
    entities_per_memory: float


class QueryStatsOut(_Response):
    total: int
    window: int = Field(description="how many recent searches the latencies describe")
    p50_ms: float | None
    p95_ms: float | None


class AnalyticsOut(_Response):
    memories: int
    by_type: dict[str, int]
    by_day: list[DayCount]
    storage: StorageOut
    density: DensityOut
    queries: QueryStatsOut
    partitions: int


class ReindexOut(_Response):
    memories: int
    partitions: int


class FilterError(ValueError):
    """A ``filter=key:value`` parameter that cannot be used."""


def parse_filters(raw: list[str]) -> dict[str, MetadataValue]:
    """``key:value`` pairs (metadata equality); the value is JSON if it parses, else a string.

    Only scalar values can match (the index keeps scalar metadata), so an object, array or
    null is refused rather than silently matching nothing.
    """
    if len(raw) > MAX_FILTERS:
        raise FilterError(f"at most {MAX_FILTERS} filters")
    parsed: dict[str, MetadataValue] = {}
    for item in raw:
        key, separator, text = item.partition(":")
        key = key.strip()
        if not separator or not key:
            raise FilterError(f"{item!r} is not key:value")
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise FilterError(f"key {key[:20]!r}… is longer than {MAX_METADATA_KEY_LENGTH}")
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if not isinstance(value, str | int | float | bool) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise FilterError(f"{item!r}: the value must be a string, number or boolean")
        if key in parsed and parsed[key] != value:
            raise FilterError(f"key {key!r} is given twice with different values")
        parsed[key] = value
    return parsed
