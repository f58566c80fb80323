"""A tenant's hybrid memory: what goes in can be found by meaning, keyword, entity and date, what
is deleted is gone from every retriever, and a rebuild from the records gives the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memory.embedding import MiniLMEmbedder
from memory.entities import Entity
from memory.graph import KuzuGraph
from memory.keyword import tokenize
from memory.shard import (
    MemoryItem,
    MemoryShard,
    RecallSpec,
    SearchFilters,
    date_range,
    searchable_text,
)

STORED = datetime(2024, 6, 1, tzinfo=UTC)


def _item(
    memory_id: int,
    content: str | dict[str, object],
    *,
    memory_type: str = "note",
    event_at: datetime | None = None,
    **metadata: object,
) -> MemoryItem:
    return MemoryItem(memory_id, memory_type, content, metadata, STORED, event_at)


CORPUS = [
    _item(
        1,
        "Caroline went to the LGBTQ support group yesterday and felt welcomed.",
        event_at=datetime(2023, 5, 8, tzinfo=UTC),
        speaker="Caroline",
    ),
    _item(
        2,
        "Melanie painted a sunrise over the lake last year.",
        event_at=datetime(2023, 5, 8, tzinfo=UTC),
        speaker="Melanie",
    ),
    _item(
        3,
        "Our TikTok campaign Spring Glow doubled conversions at a ROAS of 3.1.",
        memory_type="causal_analysis",
        channel="tiktok",
    ),
    _item(
        4,
        {"channel": "facebook", "roas": 0.8, "finding": "Meta over-claims revenue"},
        memory_type="causal_analysis",
        channel="facebook",
    ),
    _item(
        5,
        "The product page for the trail running shoe lacks size information.",
        memory_type="catalog_audit",
        sku="SHOE-42",
    ),
    _item(
        6,
        "Melanie took the kids camping in the mountains in July 2023.",
        event_at=datetime(2023, 7, 15, tzinfo=UTC),
        speaker="Melanie",
    ),
    _item(
        7,
        "Caroline is researching adoption agencies for her future family.",
        event_at=datetime(2023, 7, 20, tzinfo=UTC),
        speaker="Caroline",
    ),
]


@pytest.fixture
def shard(tmp_path: Path, minilm: MiniLMEmbedder) -> Iterator[MemoryShard]:
    memory = MemoryShard(
        embedder=minilm, graph=KuzuGraph(tmp_path / "graph", buffer_pool_size=32 << 20)
    )
    memory.add(CORPUS)
    yield memory
    memory.close()


def _ids(hits: list) -> list[int]:  # type: ignore[type-arg]
    return [h.id for h in hits]


def test_each_retriever_finds_what_it_is_for(shard: MemoryShard) -> None:
    assert _ids(shard.search("who painted a picture of the dawn?", mode="dense"))[0] == 2
    assert _ids(shard.search("SHOE-42 size", mode="keyword"))[0] == 5
    graph = shard.search("what has tiktok done for us", mode="graph")
    assert _ids(graph) == [3]
    assert graph[0].retrievers == ("graph",)
    hybrid = shard.search("did the support group help Caroline", limit=3)
    assert hybrid[0].id == 1
    assert set(hybrid[0].retrievers) >= {"dense", "keyword", "graph"}


def test_a_date_in_the_query_brings_memories_of_that_time(shard: MemoryShard) -> None:
    hits = shard.search("what happened in July 2023", limit=5)
    temporal = [h.id for h in hits if "temporal" in h.retrievers]
    assert set(temporal) == {6, 7}


def test_filters_on_type_metadata_and_time(shard: MemoryShard) -> None:
    analyses = shard.search(
        "campaign results", filters=SearchFilters(memory_type="causal_analysis")
    )
    assert set(_ids(analyses)) <= {3, 4}
    assert _ids(analyses)
    melanie = shard.search("family", filters=SearchFilters(metadata={"speaker": "Melanie"}))
    assert set(_ids(melanie)) <= {2, 6}
    july = SearchFilters(
        since=datetime(2023, 7, 1, tzinfo=UTC), until=datetime(2023, 8, 1, tzinfo=UTC)
    )
    assert set(_ids(shard.search("anything at all", filters=july))) == {6, 7}
    assert shard.search("family", filters=SearchFilters(memory_type="nothing-like-this")) == []


def test_json_content_is_searchable_by_keys_and_values(shard: MemoryShard) -> None:
    assert "finding: Meta over-claims revenue" in searchable_text(CORPUS[3].content)
    assert _ids(shard.search("over-claims", mode="keyword"))[0] == 4
    assert _ids(shard.search("finding", mode="keyword")) == [4]


def test_deleted_memories_vanish_from_every_retriever(shard: MemoryShard) -> None:
    assert shard.delete([3, 999]) == 1
    for mode in ("dense", "keyword", "graph", "hybrid"):
        assert 3 not in _ids(shard.search("TikTok campaign Spring Glow conversions", mode=mode))  # type: ignore[arg-type]
    assert 3 not in shard
    assert shard.stats().by_type["causal_analysis"] == 1


def test_update_replaces_the_old_text_everywhere(shard: MemoryShard) -> None:
    shard.add(
        [
            _item(
                5,
                "The product page for the trail running shoe now lists every size.",
                memory_type="catalog_audit",
                sku="SHOE-42",
            )
        ]
    )
    assert len(shard) == len(CORPUS)
    assert 5 not in _ids(shard.search("lacks information", mode="keyword"))
    assert _ids(shard.search("lists every size", mode="keyword"))[0] == 5
    assert _ids(shard.search("shoe page lists all sizes", mode="dense"))[0] == 5


def test_rebuild_from_records_gives_the_same_answers(
    tmp_path: Path, shard: MemoryShard, minilm: MiniLMEmbedder
) -> None:
    queries = ["Caroline support group", "camping trip", "Meta revenue claims", "July 2023"]
    before = [shard.search(q, limit=5) for q in queries]
    rebuilt = MemoryShard(
        embedder=minilm, graph=KuzuGraph(tmp_path / "again", buffer_pool_size=32 << 20)
    )
    try:
        rebuilt.rebuild(list(reversed(CORPUS)))
        after = [rebuilt.search(q, limit=5) for q in queries]
    finally:
        rebuilt.close()
    assert [_ids(h) for h in after] == [_ids(h) for h in before]


def test_clusters_group_by_meaning_and_are_labelled(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    shoes = [f"Running shoe model {i} review: cushioning, grip and fit on trails" for i in range(6)]
    ads = [f"Ad campaign {i} on search: budget, bids and return on ad spend" for i in range(6)]
    memory = MemoryShard(
        embedder=minilm, graph=KuzuGraph(tmp_path / "c", buffer_pool_size=32 << 20)
    )
    try:
        memory.add([_item(i, text) for i, text in enumerate(shoes + ads)])
        clusters = memory.clusters(2)
    finally:
        memory.close()
    assert sorted(c.size for c in clusters) == [6, 6]
    # Each cluster is one topic, and is labelled with words of that topic only.
    for cluster in clusters:
        topic = shoes if cluster.memory_ids[0] < 6 else ads
        assert all((i < 6) == (cluster.memory_ids[0] < 6) for i in cluster.memory_ids)
        assert set(cluster.terms) <= set(tokenize([topic[0]])[0])
        assert len(cluster.terms) == 5


def test_date_entities_name_spans() -> None:
    day = date_range(Entity("2023-05-07", "date", "7 May 2023"))
    assert day == (datetime(2023, 5, 7, tzinfo=UTC), datetime(2023, 5, 8, tzinfo=UTC))
    quarter = date_range(Entity("2024-q4", "date", "2024-Q4"))
    assert quarter == (datetime(2024, 10, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert date_range(Entity("2023-13", "date", "?")) is None


def test_bad_arguments_are_refused(shard: MemoryShard) -> None:
    with pytest.raises(ValueError, match="mode"):
        shard.search("x", mode="psychic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        shard.search("x", limit=0)
    with pytest.raises(ValueError, match="unknown retrievers"):
        RecallSpec(weights={"telepathy": 1.0})


def test_indexes_see_who_and_when_but_entities_come_from_the_text(shard: MemoryShard) -> None:
    item = CORPUS[0]
    assert shard.indexed_text(item) == f"Caroline (8 May 2023): {item.text}"
    assert shard.indexed_text(CORPUS[2]) == CORPUS[2].text  # no speaker, no event date
    # The header makes the speaker findable by keyword even where the turn never names her.
    assert 6 in _ids(shard.search("Melanie camping", mode="keyword"))


def test_search_fuses_exactly_the_rankings_it_reports(shard: MemoryShard) -> None:
    rankings = shard.rankings("did the support group help Caroline")
    assert set(rankings) >= {"dense", "keyword", "graph"}
    assert (
        _ids(shard.search("Caroline support group", mode="dense", limit=5))
        == (shard.rankings("Caroline support group", mode="dense")["dense"][:5])
    )


def test_without_context_keys_the_text_is_indexed_bare(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    bare = MemoryShard(
        embedder=minilm,
        graph=KuzuGraph(tmp_path / "bare", buffer_pool_size=32 << 20),
        spec=RecallSpec(context_keys=(), date_context=False),
    )
    try:
        assert bare.indexed_text(CORPUS[0]) == CORPUS[0].text
    finally:
        bare.close()
