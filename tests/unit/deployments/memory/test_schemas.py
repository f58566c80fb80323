"""Memory API bodies, search filter parsing and shard placement, without Ray or a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from deployments.memory.layout import (
    Fingerprint,
    TenantPart,
    merge_by_score,
    partition_of,
    partitions_needed,
    shard_index,
)
from deployments.memory.schemas import (
    KNOWN_MEMORY_TYPES,
    MAX_BATCH,
    MEMORY_TYPE_PATTERN,
    FilterError,
    StoreBatchRequest,
    StoreRequest,
    UpdateRequest,
    content_bytes,
    parse_filters,
)


def _error_locations(exc: ValidationError) -> list[tuple[object, ...]]:
    return [tuple(error["loc"]) for error in exc.errors()]


@pytest.mark.parametrize(
    "content", ["Olive prefers weekly reports", {"channel": "email"}, ["a", 1, None]]
)
def test_store_request_keeps_text_and_json_content(content: object) -> None:
    request = StoreRequest.model_validate({"memory_type": "fact", "content": content})
    assert request.content == content
    assert request.metadata == {}


@pytest.mark.parametrize("content", ["", "   \n", {}, [], 42, None, True])
def test_empty_or_scalar_content_is_refused_naming_content(content: object) -> None:
    with pytest.raises(ValidationError) as caught:
        StoreRequest.model_validate({"memory_type": "note", "content": content})
    assert _error_locations(caught.value) == [("content",)]


@pytest.mark.parametrize(
    "memory_type",
    ["surfacing_audit", "calendar_insight", "gossip", "a", "x" + "9" * 63, *KNOWN_MEMORY_TYPES],
)
def test_memory_types_are_open_names(memory_type: str) -> None:
    request = StoreRequest.model_validate({"memory_type": memory_type, "content": "x"})
    assert request.memory_type == memory_type


@pytest.mark.parametrize(
    "memory_type",
    [
        "",
        "Fact",
        "9lives",
        "_private",
        "causal-analysis",
        "causal analysis",
        "caf\u00e9",
        "note\n",
        "x" * 65,
        5,
        None,
    ],
)
def test_malformed_memory_types_are_refused_naming_memory_type(memory_type: object) -> None:
    with pytest.raises(ValidationError) as caught:
        StoreRequest.model_validate({"memory_type": memory_type, "content": "x"})
    assert _error_locations(caught.value) == [("memory_type",)]


def test_memory_type_rule_is_in_the_json_schema() -> None:
    schema = StoreRequest.model_json_schema()["properties"]["memory_type"]
    assert schema["pattern"] == MEMORY_TYPE_PATTERN
    assert schema["maxLength"] == 64
    assert "enum" not in schema


def test_org_id_in_metadata_is_a_plain_label() -> None:
    # The tenant comes from the credentials (the route never reads metadata for it).
    metadata = {"org_id": "org_123", "analysis_date": "2024-01-15", "channels": ["facebook"]}
    request = StoreRequest.model_validate(
        {"memory_type": "causal_analysis", "content": {"a": {"b": 1}}, "metadata": metadata}
    )
    assert request.metadata == metadata
    assert request.content == {"a": {"b": 1}}


def test_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        StoreRequest.model_validate({"memory_type": "note", "content": "x", "org_id": "y"})
    assert _error_locations(caught.value) == [("org_id",)]


@pytest.mark.parametrize(
    "metadata",
    [{f"k{i}": i for i in range(51)}, {"": 1}, {"k" * 101: 1}, {"blob": "x" * 20_000}],
    ids=["too-many-keys", "empty-key", "long-key", "too-large"],
)
def test_metadata_is_bounded(metadata: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        StoreRequest.model_validate({"memory_type": "note", "content": "x", "metadata": metadata})
    assert _error_locations(caught.value) == [("metadata",)]


def test_naive_event_time_is_read_as_utc() -> None:
    request = StoreRequest.model_validate(
        {"memory_type": "note", "content": "x", "event_at": "2024-03-01T09:30:00"}
    )
    assert request.event_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def test_batch_errors_name_the_item() -> None:
    with pytest.raises(ValidationError) as caught:
        StoreBatchRequest.model_validate(
            {"items": [{"memory_type": "note", "content": "ok"}, {"memory_type": "note"}]}
        )
    assert _error_locations(caught.value) == [("items", 1, "content")]
    for size in (0, MAX_BATCH + 1):
        with pytest.raises(ValidationError):
            StoreBatchRequest.model_validate(
                {"items": [{"memory_type": "note", "content": "x"}] * size}
            )


def test_update_needs_at_least_one_field() -> None:
    with pytest.raises(ValidationError):
        UpdateRequest.model_validate({})
    assert UpdateRequest.model_validate({"metadata": {}}).metadata == {}
    with pytest.raises(ValidationError) as caught:
        UpdateRequest.model_validate({"content": ""})
    assert _error_locations(caught.value) == [("content",)]


def test_content_bytes_counts_utf8_and_compact_json() -> None:
    assert content_bytes("ü") == 2
    assert content_bytes({"a": [1, 2]}) == len('{"a":[1,2]}')


def test_filters_parse_json_values_else_strings() -> None:
    assert parse_filters(["source:chat", "score:3", "ok:true", "ratio:0.5", 'q:"7"', "u:a:b"]) == {
        "source": "chat",
        "score": 3,
        "ok": True,
        "ratio": 0.5,
        "q": "7",
        "u": "a:b",
    }
    assert parse_filters([]) == {}


@pytest.mark.parametrize(
    "raw",
    [["nocolon"], [":value"], ['k:{"a": 1}'], ["k:[1]"], ["k:null"], ["k:NaN"], ["k:1", "k:2"]],
)
def test_malformed_filters_are_refused(raw: list[str]) -> None:
    with pytest.raises(FilterError):
        parse_filters(raw)


def test_partitions_grow_in_powers_of_two_and_refine() -> None:
    assert partitions_needed(0, 100) == 1
    assert partitions_needed(100, 100) == 1
    assert partitions_needed(101, 100) == 2
    assert partitions_needed(401, 100) == 8
    # Splitting 2 -> 4 only moves ids between a partition and its new sibling.
    for memory_id in range(1, 200):
        assert partition_of(memory_id, 4) % 2 == partition_of(memory_id, 2)


def test_shard_index_is_stable_and_spreads_tenants() -> None:
    org = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert shard_index(org, 0, 8) == shard_index(uuid.UUID(str(org)), 0, 8)
    used = {shard_index(uuid.uuid4(), 0, 8) for _ in range(200)}
    assert used == set(range(8))


def test_tenant_part_holds_its_ids_only() -> None:
    part = TenantPart(uuid.uuid4(), 1, 2)
    assert part.holds(3)
    assert not part.holds(4)
    with pytest.raises(ValueError, match="out of range"):
        TenantPart(uuid.uuid4(), 2, 2)


def test_fingerprint_tells_missed_writes_apart() -> None:
    base = Fingerprint.of({1: 1, 2: 1})
    assert Fingerprint.of({2: 1, 1: 1}) == base
    assert Fingerprint.of({1: 1, 2: 2}) != base  # a missed update
    assert Fingerprint.of({1: 1}) != base  # a missed delete
    assert Fingerprint.of({1: 1, 3: 1}) != base  # a delete and an insert


def test_merge_by_score_is_best_first_across_parts() -> None:
    merged = merge_by_score([[("a", 0.9), ("b", 0.2)], [("c", 0.5)]], 2, lambda hit: hit[1])
    assert merged == [("a", 0.9), ("c", 0.5)]
