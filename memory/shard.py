"""One tenant's memories, indexed three ways and searched as one.

A :class:`MemoryShard` holds the dense (FAISS), keyword (BM25) and graph (Kuzu) indexes of a
single tenant, plus the little it needs to filter (type, metadata, time) without a database.
It is plain Python: the Ray actor in ``deployments/memory`` owns one per tenant it serves and
rebuilds it from PostgreSQL, the source of truth, whenever it starts.

Retrievers, each a best-first list of memory ids, fused with weighted reciprocal rank fusion:

- ``dense``: cosine similarity of MiniLM embeddings.
- ``keyword``: BM25 over the same text.
- ``graph``: memories that mention the entities the query names (people, channels, campaigns,
  products, dates), most named entities first, ties broken by dense similarity. A memory's
  entities come from its text and metadata (``memory.entities``).
- ``temporal``: when the query names a date (a day, a month, a quarter, a year), memories whose
  event date falls in it, by dense similarity.

``mode="hybrid"`` fuses all four (graph and temporal only contribute when the query names an
entity or a date); ``dense``, ``keyword`` and ``graph`` run one retriever alone.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Literal, Protocol

import faiss
import numpy as np
from numpy.typing import NDArray

from memory.dense import DenseIndex
from memory.entities import Entity, extract_entities
from memory.fusion import FusedHit, reciprocal_rank_fusion
from memory.graph import GraphStore
from memory.keyword import KeywordIndex, tokenize
from memory.timeline import Timeline

SearchMode = Literal["hybrid", "dense", "keyword", "graph"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "keyword", "graph")
MetadataValue = str | int | float | bool


class QueryEmbedder(Protocol):
    """What a shard needs of an embedder (``memory.embedding.MiniLMEmbedder`` is one)."""

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    def encode_query(self, query: str) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class RecallSpec:
    """How a shard retrieves and fuses.

    - ``weights``: RRF weight per retriever; 0 switches one off in hybrid search.
    - ``rrf_k``: the RRF constant. Small values trust the top ranks of each retriever more.
      The weights and k were picked by a grid search on LoCoMo conversations 0-4 and checked
      on 5-9 (``bench/memory.py --tune``): k=5 with temporal at 1 beat k=1 and k=60 there.
    - ``depth``: how many candidates each retriever hands to fusion.
    - ``exact_limit``: the dense index is exact up to this many memories, HNSW beyond.
    - ``context_keys`` and ``date_context``: the dense and keyword indexes see a memory's text
      under a header of these metadata values and its event date ("Caroline (8 May 2023):
      ..."). A turn rarely repeats who said it or when, yet questions name both; on LoCoMo the
      header lifts MiniLM recall@10 from 0.303 to 0.511 and BM25 from 0.471 to 0.526 (the
      header's format was chosen on conversations 0-4 and held on 5-9).
    """

    weights: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"dense": 1.0, "keyword": 1.0, "graph": 0.5, "temporal": 1.0}
        )
    )
    rrf_k: float = 5.0
    depth: int = 50
    exact_limit: int = 20_000
    context_keys: tuple[str, ...] = ("speaker", "author", "title")
    date_context: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.weights) - {"dense", "keyword", "graph", "temporal"}
        if unknown:
            raise ValueError(f"unknown retrievers in weights: {sorted(unknown)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("retriever weights must not be negative")
        if self.rrf_k < 0:
            raise ValueError("rrf_k must not be negative")
        if not 1 <= self.depth <= 1000:
            raise ValueError("depth must be between 1 and 1000")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))


@dataclass(frozen=True)
class MemoryItem:
    """What a shard indexes of one memory (content already decrypted)."""

    id: int
    memory_type: str
    content: str | Mapping[str, object] | Sequence[object]
    metadata: Mapping[str, object]
    created_at: datetime
    event_at: datetime | None = None

    @property
    def text(self) -> str:
        return searchable_text(self.content)

    @property
    def when(self) -> datetime:
        """The memory's date for time filters: when it happened, else when it was stored."""
        return self.event_at or self.created_at


@dataclass(frozen=True)
class SearchFilters:
    memory_type: str | None = None
    # Equality on top-level metadata keys; every pair must match.
    metadata: Mapping[str, MetadataValue] = field(default_factory=lambda: MappingProxyType({}))
    since: datetime | None = None  # inclusive, on MemoryItem.when
    until: datetime | None = None  # exclusive

    @property
    def active(self) -> bool:
        return bool(self.memory_type or self.metadata or self.since or self.until)


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    retrievers: tuple[str, ...]
    ranks: Mapping[str, int]


@dataclass(frozen=True)
class Cluster:
    label: str
    terms: tuple[str, ...]
    size: int
    memory_ids: tuple[int, ...]  # the members nearest the centroid, nearest first


@dataclass(frozen=True)
class ShardStats:
    memories: int
    by_type: Mapping[str, int]
    dense_kind: str
    dense_bytes: int
    keyword_bytes: int
    graph_entities: int
    graph_disk_bytes: int


def searchable_text(content: str | Mapping[str, object] | Sequence[object]) -> str:
    """Text that represents content in the indexes: JSON content becomes ``key: value`` lines,
    so both its keys and its values can be found."""
    if isinstance(content, str):
        return content
    lines: list[str] = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list | tuple):
            for inner in value:
                walk(inner, path)
        else:
            rendered = value if isinstance(value, str) else json.dumps(value)
            lines.append(f"{path}: {rendered}" if path else str(rendered))

    walk(content, "")
    return "\n".join(lines)


_QUARTER = re.compile(r"^(\d{4})-q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


def date_range(entity: Entity) -> tuple[datetime, datetime] | None:
    """The [start, end) span that a date entity names (a day, a month, a quarter or a year)."""
    name = entity.name
    try:
        if match := _DAY.match(name):
            start = date(int(match[1]), int(match[2]), int(match[3]))
            return _span(start, start + timedelta(days=1))
        if match := _MONTH.match(name):
            year, month = int(match[1]), int(match[2])
            end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            return _span(date(year, month, 1), end)
        if match := _QUARTER.match(name):
            year, quarter = int(match[1]), int(match[2])
            first = date(year, 3 * quarter - 2, 1)
            end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            return _span(first, end)
        if match := _YEAR.match(name):
            return _span(date(int(match[1]), 1, 1), date(int(match[1]) + 1, 1, 1))
    except ValueError:
        return None
    return None


def _span(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime(start.year, start.month, start.day, tzinfo=UTC),
        datetime(end.year, end.month, end.day, tzinfo=UTC),
    )


class MemoryShard:
    """One tenant's hybrid memory. Thread-safe: writes take a lock, searches read a snapshot
    of the bookkeeping (the indexes guard themselves)."""

    def __init__(
        self, *, embedder: QueryEmbedder, graph: GraphStore, spec: RecallSpec | None = None
    ) -> None:
        self.spec = spec or RecallSpec()
        self._embedder = embedder
        self._graph = graph
        self._dense = DenseIndex(embedder.dimension, exact_limit=self.spec.exact_limit)
        self._keyword = KeywordIndex()
        self._items: dict[int, MemoryItem] = {}
        self._by_type: dict[str, set[int]] = {}
        self._by_metadata: dict[tuple[str, str], set[int]] = {}
        self._write = threading.Lock()
        self._timeline = Timeline()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, memory_id: object) -> bool:
        return memory_id in self._items

    def get(self, memory_id: int) -> MemoryItem | None:
        return self._items.get(memory_id)

    # -- writes ---------------------------------------------------------------------------

    def add(self, items: Sequence[MemoryItem]) -> None:
        """Index memories; an id already present is replaced (an update)."""
        if not items:
            return
        texts = [item.text for item in items]
        indexed = [self.indexed_text(item) for item in items]
        vectors = self._embedder.encode(indexed)
        ids = [item.id for item in items]
        # Entities come from the text itself: the header's date and names are already known
        # from the metadata and the event date, and would only add links to every memory.
        entities = [
            extract_entities(text, item.metadata) for text, item in zip(texts, items, strict=True)
        ]
        with self._write:
            self._forget_bookkeeping(i for i in ids if i in self._items)
            self._dense.add(np.asarray(ids, dtype=np.int64), vectors)
            self._keyword.add(ids, indexed)
            self._graph.add_memories(zip(ids, entities, strict=True))
            for item in items:
                self._remember(item)
            self._timeline.put({item.id: item.when.timestamp() for item in items})

    def delete(self, ids: Iterable[int]) -> int:
        """Remove memories from every index; returns how many were present."""
        present = [i for i in ids if i in self._items]
        if not present:
            return 0
        with self._write:
            self._dense.delete(present)
            self._keyword.delete(present)
            self._graph.delete_memories(present)
            self._forget_bookkeeping(present)
            self._timeline.remove(present)
        return len(present)

    def rebuild(self, items: Sequence[MemoryItem]) -> None:
        """Replace everything with ``items`` (from the source of truth)."""
        with self._write:
            self._dense = DenseIndex(self._embedder.dimension, exact_limit=self.spec.exact_limit)
            self._keyword = KeywordIndex()
            self._graph.clear()
            self._items.clear()
            self._by_type.clear()
            self._by_metadata.clear()
            self._timeline.clear()
        for start in range(0, len(items), 1024):
            self.add(items[start : start + 1024])

    def indexed_text(self, item: MemoryItem) -> str:
        """What the dense and keyword indexes see: the text under its context header."""
        names = ", ".join(
            str(value).strip()
            for key in self.spec.context_keys
            if isinstance(value := item.metadata.get(key), str | int | float)
            and not isinstance(value, bool)
            and str(value).strip()
        )
        when = item.event_at
        if self.spec.date_context and when is not None:
            dated = f"{when.day} {when:%B %Y}"
            names = f"{names} ({dated})" if names else dated
        return f"{names}: {item.text}" if names else item.text

    def relate(self, source: Entity, target: Entity, relation: str) -> None:
        """An explicit relation between two entities, given by a module."""
        self._graph.relate(source, target, relation)

    def _remember(self, item: MemoryItem) -> None:
        self._items[item.id] = item
        self._by_type.setdefault(item.memory_type, set()).add(item.id)
        for key, value in _scalar_metadata(item.metadata):
            self._by_metadata.setdefault((key, value), set()).add(item.id)

    def _forget_bookkeeping(self, ids: Iterable[int]) -> None:
        for memory_id in list(ids):
            item = self._items.pop(memory_id, None)
            if item is None:
                continue
            self._by_type.get(item.memory_type, set()).discard(memory_id)
            for pair in _scalar_metadata(item.metadata):
                self._by_metadata.get(pair, set()).discard(memory_id)

    # -- reads ----------------------------------------------------------------------------

    def allowed(self, filters: SearchFilters) -> set[int] | None:
        """Ids that pass the filters; ``None`` when there are no filters (everything passes)."""
        if not filters.active:
            return None
        sets: list[set[int]] = []
        if filters.memory_type:
            sets.append(self._by_type.get(filters.memory_type, set()))
        for key, value in filters.metadata.items():
            sets.append(self._by_metadata.get((key, _metadata_key(value)), set()))
        result = set.intersection(*sets) if sets else set(self._items)
        if filters.since or filters.until:
            result &= self._within(filters.since, filters.until)
        return result

    def _within(self, since: datetime | None, until: datetime | None) -> set[int]:
        inside = self._timeline.within(
            since.timestamp() if since is not None else None,
            until.timestamp() if until is not None else None,
        )
        return set(inside.tolist())

    def search(
        self,
        query: str,
        *,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {SEARCH_MODES}, got {mode!r}")
        if not 1 <= limit <= self.spec.depth:
            raise ValueError(f"limit must be between 1 and {self.spec.depth}")
        rankings = self.rankings(query, mode=mode, filters=filters)
        if mode != "hybrid":
            scored = rankings.get(mode, [])[:limit]
            return [
                Hit(
                    id=i,
                    score=1.0 / (self.spec.rrf_k + rank),
                    retrievers=(mode,),
                    ranks={mode: rank},
                )
                for rank, i in enumerate(scored, start=1)
            ]
        weights = self.spec.weights
        fused = reciprocal_rank_fusion(rankings, weights=weights, k=self.spec.rrf_k, limit=limit)
        return [_hit(f) for f in fused]

    def rankings(
        self,
        query: str,
        *,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
    ) -> dict[str, list[int]]:
        """Each retriever's best-first ids (up to ``spec.depth``) before fusion; retrievers
        with nothing to say are left out. ``search`` fuses these; evaluations read them to
        weigh retrievers without searching once per candidate weighting."""
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {SEARCH_MODES}, got {mode!r}")
        allowed = self.allowed(filters or SearchFilters())
        if not self._items or (allowed is not None and not allowed):
            return {}
        depth = self.spec.depth
        rankings: dict[str, list[int]] = {}
        vector = self._embedder.encode_query(query)
        weights = self.spec.weights
        if mode in ("hybrid", "dense"):
            [(ids, _)] = self._dense.search(vector[None, :], depth, allowed_ids=allowed)
            rankings["dense"] = ids.tolist()
        if mode in ("hybrid", "keyword"):
            rankings["keyword"] = [
                i for i, _ in self._keyword.search(query, depth, allowed_ids=allowed)
            ]
        if mode in ("hybrid", "graph"):
            entities = extract_entities(query)
            if mode == "graph" or weights.get("graph", 0) > 0:
                rankings["graph"] = self._graph_ranking(entities, vector, allowed, depth)
            if mode == "hybrid" and weights.get("temporal", 0) > 0:
                rankings["temporal"] = self._temporal_ranking(entities, vector, allowed, depth)
        return {name: ranking for name, ranking in rankings.items() if ranking}

    def _by_similarity(
        self, candidates: Sequence[int], vector: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        stored = self._dense.vectors(candidates)
        similarity: NDArray[np.float64] = (stored @ vector).astype(np.float64)
        return similarity

    def _graph_ranking(
        self,
        entities: Sequence[Entity],
        vector: NDArray[np.float32],
        allowed: set[int] | None,
        depth: int,
    ) -> list[int]:
        names = [e.name for e in entities if e.kind != "date"]
        if not names:
            return []
        # Every memory that mentions a named entity competes; how many it names comes first,
        # then how close it is in meaning (a person named in 500 turns is not a ranking).
        linked = self._graph.memories_for_entities(names, limit=20 * depth)
        linked = [
            (i, n) for i, n in linked if i in self._items and (allowed is None or i in allowed)
        ]
        if not linked:
            return []
        ids = [i for i, _ in linked]
        matched = np.array([n for _, n in linked])
        similarity = self._by_similarity(ids, vector)
        order = np.lexsort((-similarity, -matched))
        return [ids[k] for k in order[:depth]]

    def _temporal_ranking(
        self,
        entities: Sequence[Entity],
        vector: NDArray[np.float32],
        allowed: set[int] | None,
        depth: int,
    ) -> list[int]:
        spans = [span for e in entities if e.kind == "date" and (span := date_range(e))]
        if not spans:
            return []
        inside: set[int] = set()
        for since, until in spans:
            inside |= self._within(since, until)
        if allowed is not None:
            inside &= allowed
        if not inside:
            return []
        [(ids, _)] = self._dense.search(vector[None, :], depth, allowed_ids=inside)
        ranked: list[int] = ids.tolist()
        return ranked

    # -- analytics ------------------------------------------------------------------------

    def clusters(
        self, count: int, *, terms: int = 5, examples: int = 5, seed: int = 0
    ) -> list[Cluster]:
        """Semantic clusters of the shard's memories (FAISS spherical k-means), each labelled
        by the terms most over-represented in it against the whole shard."""
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._write:  # one consistent view: a write in between could drop an id
            ids = np.fromiter(self._items, dtype=np.int64, count=len(self._items))
            if ids.size == 0:
                return []
            texts = [self._items[int(i)].text for i in ids]
            vectors = np.ascontiguousarray(self._dense.vectors(ids.tolist()))
        count = min(count, int(ids.size))
        kmeans = faiss.Kmeans(
            vectors.shape[1],
            count,
            niter=20,
            seed=seed,
            spherical=True,
            verbose=False,
            min_points_per_centroid=1,
        )
        kmeans.train(vectors)
        similarity, assignment = kmeans.index.search(vectors, 1)
        tokens = tokenize(texts)
        overall: dict[str, int] = {}
        for document in tokens:
            for term in set(document):
                overall[term] = overall.get(term, 0) + 1
        result: list[Cluster] = []
        for cluster in range(count):
            members = np.flatnonzero(assignment[:, 0] == cluster)
            if members.size == 0:
                continue
            inside: dict[str, int] = {}
            for row in members:
                for term in set(tokens[row]):
                    inside[term] = inside.get(term, 0) + 1
            # Share of the cluster's memories using a term, against its share overall: the
            # terms that tell this cluster apart rather than the shard's common words.
            lift = {
                term: (n / members.size) * np.log(len(ids) / overall[term])
                for term, n in inside.items()
                if n >= 2 or members.size == 1
            }
            top = tuple(sorted(lift, key=lambda t: (-lift[t], t))[:terms])
            nearest = members[np.argsort(-similarity[members, 0])][:examples]
            result.append(
                Cluster(
                    label=", ".join(top) or "(no distinctive terms)",
                    terms=top,
                    size=int(members.size),
                    memory_ids=tuple(int(ids[row]) for row in nearest),
                )
            )
        return sorted(result, key=lambda c: (-c.size, c.label))

    def index_bytes(self) -> int:
        """Bytes of the in-memory dense and keyword indexes (cheap: no graph scan)."""
        return self._dense.memory_bytes() + self._keyword.memory_bytes()

    def stats(self) -> ShardStats:
        graph = self._graph.stats()
        return ShardStats(
            memories=len(self._items),
            by_type={t: len(ids) for t, ids in sorted(self._by_type.items()) if ids},
            dense_kind=self._dense.kind,
            dense_bytes=self._dense.memory_bytes(),
            keyword_bytes=self._keyword.memory_bytes(),
            graph_entities=graph.entities,
            graph_disk_bytes=graph.disk_bytes,
        )

    def entities(self, kind: str | None = None, limit: int = 100) -> list[tuple[Entity, int]]:
        return [(m.entity, m.mentions) for m in self._graph.entities(kind=kind, limit=limit)]

    def neighbors(
        self, entity: str, depth: int = 1, limit: int = 50
    ) -> list[tuple[Entity, int, int]]:
        return [
            (n.entity, n.distance, n.weight) for n in self._graph.neighbors(entity, depth, limit)
        ]

    def close(self) -> None:
        self._graph.close()


def _hit(fused: FusedHit) -> Hit:
    return Hit(id=fused.id, score=fused.score, retrievers=fused.retrievers, ranks=fused.ranks)


def _metadata_key(value: object) -> str:
    # JSON keeps 1, 1.0, "1" and true apart, which str() would not.
    return json.dumps(value, sort_keys=True)


def _scalar_metadata(metadata: Mapping[str, object]) -> list[tuple[str, str]]:
    return [
        (key, _metadata_key(value))
        for key, value in metadata.items()
        if isinstance(value, str | int | float | bool)
    ]
