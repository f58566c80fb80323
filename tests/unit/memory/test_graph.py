from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memory.entities import Entity
from memory.graph import EntityMentions, GraphStore, KuzuGraph


def _person(name: str) -> Entity:
    return Entity(name=name, kind="person", label=name.title())


CAROLINE, MELANIE, OSCAR = _person("caroline"), _person("melanie"), _person("oscar")
PARIS = Entity(name="paris", kind="place", label="Paris")
DOG = Entity(name="dog", kind="topic", label="Dog")


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[KuzuGraph]:
    store = KuzuGraph(tmp_path / "tenant" / "graph.kuzu", buffer_pool_size=32 << 20)
    yield store
    store.close()


@pytest.fixture
def small(graph: KuzuGraph) -> KuzuGraph:
    graph.add_memory(1, [CAROLINE, MELANIE, PARIS])
    graph.add_memory(2, [MELANIE, OSCAR])
    graph.add_memory(3, [CAROLINE, MELANIE])
    return graph


def test_kuzu_graph_satisfies_the_protocol(graph: KuzuGraph) -> None:
    assert isinstance(graph, GraphStore)


def test_memories_ranked_by_matched_entities(small: KuzuGraph) -> None:
    assert small.memories_for_entities(["caroline", "paris"]) == [(1, 2.0), (3, 1.0)]


def test_memories_for_entities_canonicalises_names_and_limits(small: KuzuGraph) -> None:
    assert small.memories_for_entities(["  Melanie "], limit=2) == [(3, 1.0), (2, 1.0)]
    assert small.memories_for_entities([]) == []
    assert small.memories_for_entities(["nobody"]) == []


def test_deleted_memory_is_gone_from_search(small: KuzuGraph) -> None:
    small.delete_memory(1)
    assert small.memories_for_entities(["caroline", "paris"]) == [(3, 1.0)]
    assert small.stats().memories == 2


def test_re_adding_a_memory_replaces_its_mentions(small: KuzuGraph) -> None:
    small.add_memory(1, [OSCAR])
    assert small.memories_for_entities(["paris"]) == []
    assert small.memories_for_entities(["oscar"]) == [(2, 1.0), (1, 1.0)]


def test_entities_with_mention_counts_and_kind_filter(small: KuzuGraph) -> None:
    assert small.entities(limit=2) == [
        EntityMentions(MELANIE, 3),
        EntityMentions(CAROLINE, 2),
    ]
    assert small.entities(kind="place") == [EntityMentions(PARIS, 1)]


def test_neighbors_by_distance_via_shared_memories_and_relations(small: KuzuGraph) -> None:
    small.relate(OSCAR, DOG, "is_a")
    found = [(n.entity.name, n.distance, n.weight) for n in small.neighbors("Caroline", depth=3)]
    assert found == [("melanie", 1, 2), ("paris", 1, 1), ("oscar", 2, 1), ("dog", 3, 1)]
    assert [n.entity.name for n in small.neighbors("caroline")] == ["melanie", "paris"]


def test_related_edges_are_followed_both_ways(small: KuzuGraph) -> None:
    small.relate(OSCAR, DOG, "is_a")
    assert [(n.entity, n.distance) for n in small.neighbors("dog")] == [(OSCAR, 1)]


@pytest.mark.parametrize("depth", [0, 4])
def test_neighbors_rejects_depth_out_of_range(small: KuzuGraph, depth: int) -> None:
    with pytest.raises(ValueError, match="depth"):
        small.neighbors("caroline", depth=depth)


def test_clear_and_rebuild(small: KuzuGraph) -> None:
    small.clear()
    assert small.stats().memories == 0
    assert small.stats().entities == 0
    small.rebuild([(7, [PARIS])], relations=[(PARIS, DOG, "has")])
    stats = small.stats()
    assert (stats.memories, stats.entities, stats.mentions, stats.relations) == (1, 2, 1, 1)
    assert stats.disk_bytes > 0


def test_failed_batch_leaves_nothing_behind(
    graph: KuzuGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_execute = graph._execute

    def fail_on_mentions(query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        if "CREATE (m)-[:MENTIONS]" in query:
            raise RuntimeError("disk full")
        return real_execute(query, parameters)

    monkeypatch.setattr(graph, "_execute", fail_on_mentions)
    with pytest.raises(RuntimeError, match="disk full"):
        graph.add_memories([(1, [CAROLINE]), (2, [MELANIE])])
    monkeypatch.undo()
    stats = graph.stats()
    assert (stats.memories, stats.entities) == (0, 0)
    assert graph.memories_for_entities(["caroline", "melanie"]) == []


def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "graph.kuzu"
    with KuzuGraph(path) as store:
        store.add_memory(5, [PARIS])
    with KuzuGraph(path) as reopened:
        assert reopened.memories_for_entities(["paris"]) == [(5, 1.0)]


# What the in-memory mirror answers, asked of Kuzu itself.
_KUZU_MEMORIES_FOR_ENTITIES = (
    "MATCH (m:Memory)-[:MENTIONS]->(e:Entity) WHERE e.name IN $names "
    "RETURN m.id, count(DISTINCT e) AS matched ORDER BY matched DESC, m.id DESC LIMIT $limit"
)


def test_mention_lookups_agree_with_kuzu_through_adds_updates_and_deletes(
    graph: KuzuGraph,
) -> None:
    rng = random.Random(3)
    people = [_person(f"p{number}") for number in range(40)]
    for _ in range(30):
        batch = [(rng.randrange(400), rng.sample(people, rng.randrange(0, 6))) for _ in range(40)]
        graph.add_memories(batch)  # repeated ids inside and across batches are updates
        graph.delete_memories(rng.sample(range(400), 15))
        names = [p.name for p in rng.sample(people, rng.randrange(1, 5))]
        expected = graph._execute(_KUZU_MEMORIES_FOR_ENTITIES, {"names": names, "limit": 60})
        assert graph.memories_for_entities(names, limit=60) == [
            (memory_id, float(matched)) for memory_id, matched in expected
        ]
    stats = graph.stats()
    assert stats.mentions == sum(len(found) for found in graph._mentioned_by.values())
    assert stats.memories == len(graph._memory_ids)  # memories that mention nothing included


def test_bulk_add_stores_every_mention(graph: KuzuGraph) -> None:
    batch = [
        (memory_id, [_person(f"e{(memory_id * 7 + j * 13) % 300}") for j in range(5)])
        for memory_id in range(1_000)
    ]
    graph.add_memories(batch)
    assert graph.stats().mentions == 5_000
    assert graph.memories_for_entities(["e0"], limit=1_000) == [
        (memory_id, 1.0)
        for memory_id in range(999, -1, -1)
        if any((memory_id * 7 + j * 13) % 300 == 0 for j in range(5))
    ]
