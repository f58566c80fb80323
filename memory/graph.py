"""Entity graph over memories: which memories mention which entities, and how entities relate.

Kuzu 0.11.3 is archived upstream, so callers depend on the `GraphStore` protocol and only
`KuzuGraph` knows about Kuzu. One database file holds one tenant shard; the graph is a derived
index, rebuildable from PostgreSQL with `rebuild`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import kuzu
import numpy as np

from memory.entities import Entity, canonical_name

__all__ = [
    "EntityMentions",
    "GraphStats",
    "GraphStore",
    "KuzuGraph",
    "MemoryEntities",
    "Neighbor",
]

MAX_NEIGHBOR_DEPTH = 3

MemoryEntities = tuple[int, Sequence[Entity]]
"""One memory's id and the entities it mentions: the unit `add_memories` takes."""


@dataclass(frozen=True, slots=True)
class EntityMentions:
    entity: Entity
    mentions: int


@dataclass(frozen=True, slots=True)
class Neighbor:
    """An entity reachable from the start entity; `weight` counts the links at `distance`."""

    entity: Entity
    distance: int
    weight: int


@dataclass(frozen=True, slots=True)
class GraphStats:
    memories: int
    entities: int
    mentions: int
    relations: int
    disk_bytes: int


@runtime_checkable
class GraphStore(Protocol):
    def add_memory(self, memory_id: int, entities: Sequence[Entity]) -> None: ...

    def add_memories(self, batch: Iterable[MemoryEntities]) -> None: ...

    def relate(self, source: Entity, target: Entity, relation: str) -> None: ...

    def delete_memory(self, memory_id: int) -> None: ...

    def delete_memories(self, memory_ids: Iterable[int]) -> None: ...

    def rebuild(
        self,
        batch: Iterable[MemoryEntities],
        relations: Iterable[tuple[Entity, Entity, str]] = (),
    ) -> None: ...

    def entities(self, kind: str | None = None, limit: int = 100) -> list[EntityMentions]: ...

    def neighbors(self, entity: str, depth: int = 1, limit: int = 50) -> list[Neighbor]: ...

    def memories_for_entities(
        self, names: Iterable[str], limit: int = 50
    ) -> list[tuple[int, float]]: ...

    def stats(self) -> GraphStats: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


_SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Memory(id INT64, PRIMARY KEY(id))",
    "CREATE NODE TABLE IF NOT EXISTS Entity(name STRING, kind STRING, label STRING, "
    "PRIMARY KEY(name))",
    "CREATE REL TABLE IF NOT EXISTS MENTIONS(FROM Memory TO Entity)",
    "CREATE REL TABLE IF NOT EXISTS RELATED(FROM Entity TO Entity, relation STRING)",
)

# A new memory and its mentions in one statement: the node is bound by CREATE, not looked up,
# and a memory that mentions nothing is still created (UNWIND of [] only ends that row).
_CREATE_MEMORIES_WITH_MENTIONS = (
    "UNWIND $rows AS r CREATE (m:Memory {id: r.id}) WITH m, r "
    "UNWIND r.names AS name MATCH (n:Entity {name: name}) CREATE (m)-[:MENTIONS]->(n)"
)
# Re-adding a memory replaces what it mentions, so an edited memory does not keep stale links.
_DROP_MENTIONS = "UNWIND $ids AS id MATCH (:Memory {id: id})-[r:MENTIONS]->() DELETE r"
_MERGE_ENTITIES = (
    "UNWIND $entities AS e MERGE (n:Entity {name: e.name}) "
    "ON CREATE SET n.kind = e.kind, n.label = e.label"
)
_CREATE_MENTIONS = (
    "UNWIND $pairs AS p MATCH (m:Memory {id: p.id}), (n:Entity {name: p.name}) "
    "CREATE (m)-[:MENTIONS]->(n)"
)
_DELETE_MEMORIES = "UNWIND $ids AS id MATCH (m:Memory {id: id}) DETACH DELETE m"
_RELATE = (
    "MATCH (a:Entity {name: $source}), (b:Entity {name: $target}) "
    "MERGE (a)-[:RELATED {relation: $relation}]->(b)"
)
_ENTITY_MENTIONS = (
    "MATCH (e:Entity) WHERE $kind IS NULL OR e.kind = $kind "
    "OPTIONAL MATCH (e)<-[r:MENTIONS]-(:Memory) "
    "RETURN e.name, e.kind, e.label, count(r) AS mentions "
    "ORDER BY mentions DESC, e.name LIMIT $limit"
)
# One hop is either two entities mentioned by one memory or an explicit RELATED edge (either
# direction); the weight is how many such links there are.
_CO_MENTIONED = (
    "MATCH (a:Entity)<-[:MENTIONS]-(:Memory)-[:MENTIONS]->(b:Entity) "
    "WHERE a.name IN $names AND a.name <> b.name "
    "RETURN b.name AS name, b.kind AS kind, b.label AS label, count(*) AS weight"
)
_RELATED = (
    "MATCH (a:Entity)-[:RELATED]-(b:Entity) WHERE a.name IN $names AND a.name <> b.name "
    "RETURN b.name AS name, b.kind AS kind, b.label AS label, count(*) AS weight"
)
_ALL_MEMORIES = "MATCH (m:Memory) RETURN m.id"
_ALL_MENTIONS = "MATCH (m:Memory)-[:MENTIONS]->(e:Entity) RETURN m.id, e.name"


class KuzuGraph:
    """A `GraphStore` in one Kuzu database file at `path` (created if missing).

    Calls are serialised by a lock: a Kuzu connection is not safe to share between threads, and
    the batch writes run in one explicit transaction so a failed batch leaves nothing behind.

    ``memories_for_entities`` runs on every hybrid search. Kuzu answers it in ~15 ms at 100k
    memories (an aggregation over every MENTIONS edge of the named entities), most of a search's
    budget, so the store mirrors the MENTIONS edges in memory (entity name -> memory ids,
    updated after each committed write, loaded from the file when an existing database is
    opened) and answers that one-hop lookup from the mirror in well under a millisecond.
    Traversals, counts and relations are Kuzu queries.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        buffer_pool_size: int = 64 * 1024 * 1024,
        max_db_size: int = 1 << 33,
    ) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._database = kuzu.Database(
            str(self._path), buffer_pool_size=buffer_pool_size, max_db_size=max_db_size
        )
        self._connection = kuzu.Connection(self._database)
        for statement in _SCHEMA:
            self._execute(statement)
        self._mentioned_by: dict[str, set[int]] = {}
        self._mentions_of: dict[int, tuple[str, ...]] = {}
        self._memory_ids: set[int] = set()
        by_memory: dict[int, list[str]] = {
            int(memory_id): [] for (memory_id,) in self._execute(_ALL_MEMORIES)
        }
        for memory_id, name in self._execute(_ALL_MENTIONS):
            by_memory[int(memory_id)].append(name)
        self._mirror({memory_id: tuple(names) for memory_id, names in by_memory.items()})

    @property
    def path(self) -> Path:
        return self._path

    def _execute(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        result = self._connection.execute(query, parameters or {})
        # Only multi-statement strings return a list, and every query here is one statement.
        assert not isinstance(result, list)
        try:
            return [list(row) for row in result.get_all()]
        finally:
            result.close()

    @contextmanager
    def _transaction(self, after_commit: Callable[[], None] | None = None) -> Iterator[None]:
        """One Kuzu transaction; ``after_commit`` (the mirror's update) runs only once the
        write is committed, still under the lock so readers never see it half done."""
        with self._lock:
            self._execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self._execute("ROLLBACK")
                raise
            self._execute("COMMIT")
            if after_commit is not None:
                after_commit()

    def add_memory(self, memory_id: int, entities: Sequence[Entity]) -> None:
        self.add_memories([(memory_id, entities)])

    def add_memories(self, batch: Iterable[MemoryEntities]) -> None:
        """Upsert memories with what they mention; a repeated id keeps its last entity list."""
        by_memory: dict[int, dict[str, Entity]] = {}
        for memory_id, entities in batch:
            by_memory[int(memory_id)] = {entity.name: entity for entity in entities if entity.name}
        if not by_memory:
            return
        unique_entities: dict[str, Entity] = {}
        for entities_by_name in by_memory.values():
            unique_entities.update(entities_by_name)
        # Kuzu looks nodes up by key from an UNWIND list by scanning the table, so statements
        # that MATCH existing memories cost O(tenant) per batch (~280 ms per 500 at 90k
        # memories). New memories are therefore created together with their mentions in one
        # statement that binds each new node directly (~20 ms per 500 at any size); only
        # memories the graph already holds (updates) take the MATCH path.
        existing = [memory_id for memory_id in by_memory if memory_id in self._memory_ids]
        new_rows = [
            {"id": memory_id, "names": list(names)}
            for memory_id, names in by_memory.items()
            if memory_id not in self._memory_ids
        ]
        updated_pairs = [
            {"id": memory_id, "name": name}
            for memory_id in existing
            for name in by_memory[memory_id]
        ]
        mentions = {memory_id: tuple(names) for memory_id, names in by_memory.items()}
        with self._transaction(after_commit=lambda: self._mirror(mentions)):
            if unique_entities:
                rows = [_entity_row(entity) for entity in unique_entities.values()]
                self._execute(_MERGE_ENTITIES, {"entities": rows})
            if existing:
                self._execute(_DROP_MENTIONS, {"ids": existing})
                if updated_pairs:
                    self._execute(_CREATE_MENTIONS, {"pairs": updated_pairs})
            if new_rows:
                self._execute(_CREATE_MEMORIES_WITH_MENTIONS, {"rows": new_rows})

    def relate(self, source: Entity, target: Entity, relation: str) -> None:
        """Record an explicit relation a module knows about (creating either entity if new)."""
        rows = [_entity_row(source), _entity_row(target)]
        parameters = {"source": source.name, "target": target.name, "relation": relation}
        with self._transaction():
            self._execute(_MERGE_ENTITIES, {"entities": rows})
            self._execute(_RELATE, parameters)

    def delete_memory(self, memory_id: int) -> None:
        self.delete_memories([memory_id])

    def delete_memories(self, memory_ids: Iterable[int]) -> None:
        """Remove memories and their MENTIONS; entities stay, they may be mentioned again."""
        ids = sorted({int(memory_id) for memory_id in memory_ids})
        if ids:
            with self._transaction(after_commit=lambda: self._unmirror(ids)):
                self._execute(_DELETE_MEMORIES, {"ids": ids})

    def rebuild(
        self,
        batch: Iterable[MemoryEntities],
        relations: Iterable[tuple[Entity, Entity, str]] = (),
    ) -> None:
        """Replace the whole graph with `batch` and the explicit `relations`."""
        self.clear()
        self.add_memories(batch)
        for source, target, relation in relations:
            self.relate(source, target, relation)

    def entities(self, kind: str | None = None, limit: int = 100) -> list[EntityMentions]:
        """Entities, most mentioned first, optionally of one kind."""
        with self._lock:
            rows = self._execute(_ENTITY_MENTIONS, {"kind": kind, "limit": limit})
        return [
            EntityMentions(Entity(name=name, kind=kind_, label=label), int(mentions))
            for name, kind_, label, mentions in rows
        ]

    def neighbors(self, entity: str, depth: int = 1, limit: int = 50) -> list[Neighbor]:
        """Entities within `depth` hops of `entity`, nearest and most strongly linked first."""
        if not 1 <= depth <= MAX_NEIGHBOR_DEPTH:
            raise ValueError(f"depth must be 1..{MAX_NEIGHBOR_DEPTH}, got {depth}")
        start = canonical_name(entity)
        seen = {start}
        frontier = [start]
        found: list[Neighbor] = []
        with self._lock:
            for distance in range(1, depth + 1):
                if not frontier:
                    break
                level: dict[str, Neighbor] = {}
                for query in (_CO_MENTIONED, _RELATED):
                    for name, kind, label, weight in self._execute(query, {"names": frontier}):
                        if name in seen:
                            continue
                        previous = level.get(name)
                        total = int(weight) + (previous.weight if previous else 0)
                        level[name] = Neighbor(Entity(name, kind, label), distance, total)
                ranked = sorted(level.values(), key=lambda n: (-n.weight, n.entity.name))
                found.extend(ranked)
                seen.update(level)
                frontier = list(level)
        return found[:limit]

    def memories_for_entities(
        self, names: Iterable[str], limit: int = 50
    ) -> list[tuple[int, float]]:
        """(memory id, how many of `names` it mentions), best first; newer ids break ties."""
        keys = sorted({canonical_name(name) for name in names} - {""})
        if not keys or limit <= 0:
            return []
        with self._lock:
            postings = [
                np.fromiter(found, dtype=np.int64, count=len(found))
                for key in keys
                if (found := self._mentioned_by.get(key))
            ]
        if not postings:
            return []
        # Each (memory, entity) edge is in the mirror once, so a memory's count is how many of
        # the named entities it mentions: Kuzu's count(DISTINCT e).
        ids, matched = np.unique(np.concatenate(postings), return_counts=True)
        order = np.lexsort((-ids, -matched))[:limit]
        return list(
            zip(ids[order].tolist(), matched[order].astype(np.float64).tolist(), strict=True)
        )

    def _mirror(self, mentions: Mapping[int, tuple[str, ...]]) -> None:
        """Record in the mirror that each memory now mentions exactly these entity names."""
        self._unmirror(mentions)
        for memory_id, names in mentions.items():
            self._memory_ids.add(memory_id)
            self._mentions_of[memory_id] = names
            for name in names:
                self._mentioned_by.setdefault(name, set()).add(memory_id)

    def _forget_mirror(self) -> None:
        self._mentioned_by.clear()
        self._mentions_of.clear()
        self._memory_ids.clear()

    def _unmirror(self, memory_ids: Iterable[int]) -> None:
        for memory_id in memory_ids:
            self._memory_ids.discard(memory_id)
            for name in self._mentions_of.pop(memory_id, ()):
                found = self._mentioned_by[name]
                found.discard(memory_id)
                if not found:
                    del self._mentioned_by[name]

    def stats(self) -> GraphStats:
        with self._lock:
            memories, entities, mentions, relations = (
                int(self._execute(query)[0][0])
                for query in (
                    "MATCH (m:Memory) RETURN count(m)",
                    "MATCH (e:Entity) RETURN count(e)",
                    "MATCH ()-[r:MENTIONS]->() RETURN count(r)",
                    "MATCH ()-[r:RELATED]->() RETURN count(r)",
                )
            )
        return GraphStats(
            memories=memories,
            entities=entities,
            mentions=mentions,
            relations=relations,
            disk_bytes=self._disk_bytes(),
        )

    def _disk_bytes(self) -> int:
        # Kuzu keeps the database in one file plus a write-ahead log beside it.
        siblings = self._path.parent.glob(self._path.name + "*")
        return sum(path.stat().st_size for path in siblings if path.is_file())

    def clear(self) -> None:
        with self._transaction(after_commit=self._forget_mirror):
            self._execute("MATCH (m:Memory) DETACH DELETE m")
            self._execute("MATCH (e:Entity) DETACH DELETE e")

    def close(self) -> None:
        with self._lock:
            self._connection.close()
            self._database.close()

    def __enter__(self) -> KuzuGraph:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()


def _entity_row(entity: Entity) -> Mapping[str, str]:
    return {"name": entity.name, "kind": entity.kind, "label": entity.label}
