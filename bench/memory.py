"""Universal memory (issue 5): retrieval quality on LoCoMo, tenant isolation, and engine speed.

LoCoMo part (default): each of the 10 LoCoMo conversations is one tenant in its own
``memory.shard.MemoryShard`` (MiniLM, BM25, a Kuzu graph in a temporary directory), one memory
per dialogue turn (text plus the image caption, metadata speaker / session / dia_id, event date
= the session's date). Every non-adversarial question is asked of its own tenant and scored
against its evidence turns: recall@5, recall@10 (share of evidence turns in the top k), hit@5
and MRR@10, for ``dense``, ``keyword``, ``hybrid`` (dense + keyword RRF) and ``hybrid+graph``
(every retriever: dense, keyword, graph and temporal, i.e. ``MemoryShard.search``). Nothing
about the answers or evidence is used at query time. Every hit of every tenant is checked to
belong to that tenant (isolation); the exit code is 1 if one does not.

Data: LoCoMo (Maharana et al., ACL 2024, arXiv 2402.17753, github.com/snap-research/LoCoMo),
licence CC BY-NC 4.0 (non-commercial use, attribution required), read from
``/work/shared/data/retrieval/locomo/locomo10.json`` as recorded in
``/work/shared/data/retrieval/SOURCES.md``; it is never copied into this repository.

``--tune``: the grid search behind ``RecallSpec``'s default weights and RRF k, on
conversations 0-4, reported on 5-9 (held out) and on all ten. ``--ablation``: the same
tenants indexed with the bare turn text (no speaker / date context header).

``--speed``: a synthetic corpus in one tenant at ``--sizes`` memories: ingestion memories/s
(MiniLM on a sample, and the engine alone with precomputed vectors for the whole size), hybrid
search p50/p99 in ms with the query embedding included, with and without the query cache, and
memory (RSS and the indexes' own byte counts). Document vectors for the full-size fill are
pseudo-random unit vectors (MiniLM embeds ~130 texts/s on 2 cores, 100k would take 13
minutes); queries are embedded by MiniLM for real. Then dense only at each of
``--dense-sizes``: exact (flat) against HNSW latency and HNSW recall@10, on vectors with the
structure of real MiniLM embeddings (``minilm_like_vectors``) and on random unit vectors.

Run: ``.venv/bin/python bench/memory.py [--tenants 0-9] [--tune] [--ablation]`` and
``.venv/bin/python bench/memory.py --no-locomo --speed`` (``--dense-sizes 10000,100000``,
``--dense-corpus minilm`` to shorten it).
Numbers depend on the machine and on its load; the targets printed are a measurement, not an
assertion.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psutil
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.memory_locomo import (
    CATEGORIES,
    Conversation,
    Scores,
    load_locomo,
    mean_scores,
    question_scores,
    tenant_of,
)
from memory.dense import DenseIndex
from memory.embedders import EMBEDDER_NAMES, EmbedderName, build_embedder
from memory.embedding import MiniLMEmbedder
from memory.fusion import reciprocal_rank_fusion
from memory.graph import KuzuGraph
from memory.shard import MemoryItem, MemoryShard, QueryEmbedder, RecallSpec

STORED_AT = datetime(2024, 1, 1, tzinfo=UTC)
MODES = ("dense", "keyword", "hybrid", "hybrid+graph")
RECALL_TARGET = 0.65
P50_TARGET_MS, P99_TARGET_MS, INGEST_TARGET = 20.0, 60.0, 500.0


# -- LoCoMo -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """One question's retriever rankings (before fusion) and the shard's own fused top 10."""

    tenant: int
    category: int
    evidence: frozenset[int]
    rankings: Mapping[str, Sequence[int]]
    searched: Sequence[int]


def _fused(
    rankings: Mapping[str, Sequence[int]], spec: RecallSpec, names: Iterable[str]
) -> list[int]:
    chosen = {name: rankings[name] for name in names if rankings.get(name)}
    fused = reciprocal_rank_fusion(chosen, weights=spec.weights, k=spec.rrf_k, limit=10)
    return [hit.id for hit in fused]


def ranked_by_mode(answer: Answered, spec: RecallSpec) -> dict[str, list[int]]:
    return {
        "dense": list(answer.rankings.get("dense", []))[:10],
        "keyword": list(answer.rankings.get("keyword", []))[:10],
        "hybrid": _fused(answer.rankings, spec, ("dense", "keyword")),
        "hybrid+graph": list(answer.searched),
    }


def run_locomo(
    conversations: Sequence[Conversation],
    embedder: QueryEmbedder,
    spec: RecallSpec,
    workdir: Path,
) -> tuple[list[Answered], int, float]:
    """Ask every tenant its questions; returns answers, isolation violations, ingest seconds."""
    answers: list[Answered] = []
    violations = 0
    ingest_seconds = 0.0
    for conversation in conversations:
        graph = KuzuGraph(workdir / f"tenant-{conversation.tenant}", buffer_pool_size=64 << 20)
        shard = MemoryShard(embedder=embedder, graph=graph, spec=spec)
        own = {turn.memory_id for turn in conversation.turns}
        try:
            started = time.perf_counter()
            shard.add(conversation.items(created_at=STORED_AT))
            ingest_seconds += time.perf_counter() - started
            for question in conversation.questions:
                rankings = shard.rankings(question.text)
                searched = [hit.id for hit in shard.search(question.text, limit=10)]
                returned = {i for ranking in rankings.values() for i in ranking} | set(searched)
                violations += sum(
                    1 for i in returned if i not in own or tenant_of(i) != conversation.tenant
                )
                answers.append(
                    Answered(
                        conversation.tenant,
                        question.category,
                        question.evidence,
                        rankings,
                        searched,
                    )
                )
        finally:
            shard.close()
        print(
            f"  tenant {conversation.tenant} ({conversation.sample_id}): "
            f"{len(conversation.turns)} memories, {len(conversation.questions)} questions",
            file=sys.stderr,
            flush=True,
        )
    return answers, violations, ingest_seconds


def score(answers: Iterable[Answered], spec: RecallSpec) -> dict[str, Scores]:
    rows: dict[str, list[tuple[float, ...]]] = {mode: [] for mode in MODES}
    for answer in answers:
        for mode, ranked in ranked_by_mode(answer, spec).items():
            rows[mode].append(question_scores(ranked, answer.evidence))
    return {mode: mean_scores(rows[mode]) for mode in MODES}


def print_scores(title: str, scores: Mapping[str, Scores]) -> None:
    print(f"\n{title}")
    print(f"| {'retrieval':<13} | questions | recall@5 | recall@10 | hit@5 | MRR@10 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for mode, s in scores.items():
        print(
            f"| {mode:<13} | {s.questions:>9} | {s.recall_at_5:>8.3f} | {s.recall_at_10:>9.3f} "
            f"| {s.hit_at_5:>5.3f} | {s.mrr_at_10:>6.3f} |"
        )


def print_by_category(answers: Sequence[Answered], spec: RecallSpec) -> None:
    print("\nrecall@10 by LoCoMo category code")
    print("| category | questions | " + " | ".join(MODES) + " |")
    print("| ---: | ---: |" + " ---: |" * len(MODES))
    for category in CATEGORIES:
        scores = score([a for a in answers if a.category == category], spec)
        cells = " | ".join(f"{scores[m].recall_at_10:.3f}" for m in MODES)
        print(f"| {category} | {scores['dense'].questions} | {cells} |")


def _fused_scores(answers: Iterable[Answered], weights: Mapping[str, float], k: float) -> Scores:
    rows = []
    for answer in answers:
        chosen = {name: ranking for name, ranking in answer.rankings.items() if weights.get(name)}
        fused = reciprocal_rank_fusion(chosen, weights=weights, k=k, limit=10)
        rows.append(question_scores([hit.id for hit in fused], answer.evidence))
    return mean_scores(rows)


def tune(answers: Sequence[Answered], spec: RecallSpec) -> None:
    """Grid search of retriever weights (keyword fixed at 1) and RRF k on tenants 0-4."""
    tuning = [a for a in answers if a.tenant < 5]
    held_out = [a for a in answers if a.tenant >= 5]
    if not tuning or not held_out:
        print("\n--tune needs tenants from both 0-4 and 5-9")
        return
    grid = itertools.product(
        (0.5, 0.75, 1.0, 1.5, 2.0),
        (0.0, 0.25, 0.5, 1.0, 1.5),
        (0.0, 0.25, 0.5, 1.0),
        (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
    )
    results = []
    for dense, graph, temporal, k in grid:
        weights = {"dense": dense, "keyword": 1.0, "graph": graph, "temporal": temporal}
        results.append((_fused_scores(tuning, weights, k).recall_at_10, weights, k))
    results.sort(key=lambda r: -r[0])
    candidates = [("current default", dict(spec.weights), spec.rrf_k)]
    candidates += [(f"tuned #{n}", w, k) for n, (_, w, k) in enumerate(results[:5], start=1)]
    candidates += [("dense+keyword", {"dense": 1.0, "keyword": 1.0}, k) for k in (1.0, 60.0)]
    print(f"\nRRF weights and k tuned on tenants 0-4 ({len(results)} settings), recall@10:")
    print("| setting | dense | keyword | graph | temporal | k | tune 0-4 | held out 5-9 | all |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, weights, k in candidates:
        row = [_fused_scores(part, weights, k).recall_at_10 for part in (tuning, held_out, answers)]
        shown = " | ".join(
            f"{weights.get(n, 0.0):g}" for n in ("dense", "keyword", "graph", "temporal")
        )
        print(f"| {label} | {shown} | {k:g} | {row[0]:.3f} | {row[1]:.3f} | {row[2]:.3f} |")


def locomo(args: argparse.Namespace) -> int:
    conversations = [c for c in load_locomo() if c.tenant in args.tenants]
    spec = RecallSpec()
    print(
        f"LoCoMo: {len(conversations)} tenants, "
        f"{sum(len(c.turns) for c in conversations)} memories, "
        f"{sum(len(c.questions) for c in conversations)} questions (category 5 left out; "
        f"{sum(c.unresolved_evidence for c in conversations)} evidence entries name no turn)"
    )
    print(
        f"spec: weights {dict(spec.weights)}, rrf_k {spec.rrf_k:g}, depth {spec.depth}, "
        f"context {spec.context_keys} + date {spec.date_context}"
    )
    violations = 0
    summary: list[tuple[str, float, Mapping[str, Scores]]] = []
    memories = sum(len(c.turns) for c in conversations)
    for name in args.embedders:
        embedder = build_embedder(name, cache_size=4096)
        print(f"\n== embedder {name}")
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as workdir:
            answers, found, seconds = run_locomo(conversations, embedder, spec, Path(workdir))
            violations += found
            print(f"ingestion: {memories} memories in {seconds:.1f} s ({memories / seconds:.0f}/s)")
            scores = score(answers, spec)
            summary.append((name, memories / seconds, scores))
            print_scores(f"LoCoMo retrieval, {name} (all selected tenants)", scores)
            print_by_category(answers, spec)
            if args.tune:
                tune(answers, spec)
            if args.ablation:
                bare = replace(spec, context_keys=(), date_context=False)
                bare_answers, bare_violations, _ = run_locomo(
                    conversations, embedder, bare, Path(workdir) / "bare"
                )
                violations += bare_violations
                print_scores(
                    "ablation: bare turn text (no speaker/date header)", score(bare_answers, bare)
                )
    if len(summary) > 1:
        print("\nrecall@10 by embedder (same shards, same questions)")
        print("| embedder | engine ingest/s | " + " | ".join(MODES) + " |")
        print("| --- | ---: |" + " ---: |" * len(MODES))
        for name, rate, by_mode in summary:
            shown = " | ".join(f"{by_mode[mode].recall_at_10:.3f}" for mode in MODES)
            print(f"| {name} | {rate:.0f} | {shown} |")
    hybrid = summary[0][2]["hybrid+graph"].recall_at_10
    print(
        f"\nhybrid+graph recall@10 {hybrid:.3f} with {summary[0][0]} (goal >= {RECALL_TARGET}); "
        f"isolation: {violations} hits from another tenant over "
        f"{len(args.embedders)} embedders x {sum(len(c.questions) for c in conversations)} "
        f"questions x {len(MODES)} retrievals"
    )
    return 1 if violations else 0


# -- speed --------------------------------------------------------------------------------

_NAMES = ("Caroline", "Melanie", "Jon", "Gina", "Priya", "Tomas", "Aiko", "Omar", "Lena", "Raj")
_CHANNELS = ("Facebook", "TikTok", "Google Ads", "email", "YouTube", "podcast", "TV", "SEO")
_TOPICS = (
    "summer sale", "loyalty programme", "pottery class", "charity race", "adoption agency",
    "running shoes", "holiday promo", "retargeting", "price test", "new store", "brand lift",
    "creative refresh", "budget shift", "landing page", "checkout flow", "referral bonus",
)  # fmt: skip
_VERBS = ("raised", "cut", "doubled", "halved", "stalled", "improved", "hurt", "explained")
_METRICS = ("ROAS", "CPA", "conversions", "revenue", "CTR", "retention", "AOV")


def synthetic_items(count: int, *, seed: int = 7) -> list[MemoryItem]:
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    items = []
    for memory_id in range(1, count + 1):
        when = start + timedelta(hours=rng.randrange(24 * 720))
        name, channel, topic = rng.choice(_NAMES), rng.choice(_CHANNELS), rng.choice(_TOPICS)
        text = (
            f"{name} said the {topic} on {channel} {rng.choice(_VERBS)} "
            f"{rng.choice(_METRICS)} by {rng.randrange(1, 90)}% in week {rng.randrange(1, 53)}; "
            f"next step: {rng.choice(_TOPICS)} for {rng.choice(_NAMES)} (note {memory_id})."
        )
        items.append(
            MemoryItem(
                id=memory_id,
                memory_type=rng.choice(("note", "causal_analysis", "conversation_turn")),
                content=text,
                metadata={"speaker": name, "channel": channel.lower()},
                created_at=when,
                event_at=when,
            )
        )
    return items


def synthetic_queries(count: int, *, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    templates = (
        "What did {name} say about the {topic}?",
        "How did {channel} do for {metric} in {month} 2023?",
        "Which {topic} changes {verb} {metric}?",
        "{name} {channel} {topic}",
    )
    return [
        rng.choice(templates).format(
            name=rng.choice(_NAMES),
            topic=rng.choice(_TOPICS),
            channel=rng.choice(_CHANNELS),
            metric=rng.choice(_METRICS),
            verb=rng.choice(_VERBS),
            month=rng.choice(("March", "June", "October")),
        )
        + f" #{i}"
        for i in range(count)
    ]


def random_unit_vectors(count: int, dimension: int, seed: int) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((count, dimension), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


class PrecomputedDocuments:
    """Documents get pseudo-random unit vectors (seeded by their text); queries go to MiniLM.

    Isolates the engine's own ingestion and search cost from the document embedding, which on
    this machine alone would take hours at 100k; the query side stays real."""

    def __init__(self, model: MiniLMEmbedder) -> None:
        self._model = model

    @property
    def dimension(self) -> int:
        return self._model.dimension

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        rows = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
            rows[row] = np.random.default_rng(seed).standard_normal(self.dimension)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows

    def encode_query(self, query: str) -> NDArray[np.float32]:
        return self._model.encode_query(query)


def _percentiles(samples: Sequence[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(samples) * 1000.0, [50, 99])
    return float(p50), float(p99)


def _timed_searches(shard: MemoryShard, queries: Sequence[str]) -> list[float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        shard.search(query, limit=10)
        samples.append(time.perf_counter() - started)
    return samples


def _rss_mb() -> float:
    return float(psutil.Process(os.getpid()).memory_info().rss) / 2**20


def _ingest(shard: MemoryShard, items: Sequence[MemoryItem], batch: int) -> float:
    started = time.perf_counter()
    for begin in range(0, len(items), batch):
        shard.add(items[begin : begin + batch])
    return time.perf_counter() - started


def speed(args: argparse.Namespace) -> None:
    model = MiniLMEmbedder(batch_size=64, cache_size=4096)
    model.encode_query("warm up")
    print("\nspeed: synthetic corpus in one tenant (hybrid search = all four retrievers)")
    sample = synthetic_items(args.ingest_sample, seed=3)
    with tempfile.TemporaryDirectory(prefix="bench-memory-speed-") as workdir:
        shard = MemoryShard(embedder=model, graph=KuzuGraph(Path(workdir) / "sample"))
        seconds = _ingest(shard, sample, 256)
        shard.close()
        print(
            f"ingestion with MiniLM embedding ({len(sample)} memories, batches of 256): "
            f"{len(sample) / seconds:.0f} memories/s (target >= {INGEST_TARGET:g})"
        )
        print(
            "| memories | dense | engine ingest/s | p50 ms cold | p99 ms cold "
            "| p50 ms cached | p99 ms cached | RSS MB | dense MB | keyword MB | graph disk MB |"
        )
        print("| ---: | --- |" + " ---: |" * 9)
        for size in args.sizes:
            gc.collect()
            shard = MemoryShard(
                embedder=PrecomputedDocuments(model),
                graph=KuzuGraph(Path(workdir) / f"size-{size}", buffer_pool_size=256 << 20),
            )
            items = synthetic_items(size)
            seconds = _ingest(shard, items, 1024)
            queries = synthetic_queries(args.queries, seed=size)
            shard.search("warm the keyword index up", limit=10)
            cold = _percentiles(_timed_searches(shard, queries))  # every query embedded
            cached = _percentiles(_timed_searches(shard, queries))  # every query a cache hit
            stats = shard.stats()
            print(
                f"| {size} | {stats.dense_kind} | {size / seconds:.0f} | {cold[0]:.1f} "
                f"| {cold[1]:.1f} | {cached[0]:.1f} | {cached[1]:.1f} | {_rss_mb():.0f} "
                f"| {stats.dense_bytes / 2**20:.1f} | {stats.keyword_bytes / 2**20:.1f} "
                f"| {stats.graph_disk_bytes / 2**20:.1f} |",
                flush=True,
            )
            shard.close()
            del shard, items
    print(f"targets: p50 <= {P50_TARGET_MS:g} ms, p99 <= {P99_TARGET_MS:g} ms at 100k (via HTTP)")
    for corpus in args.dense_corpus:
        for size in args.dense_sizes:
            dense_only(size, args.queries, corpus)


def minilm_like_vectors(
    count: int, queries: int, *, base_count: int = 20_000, noise: float = 0.025
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``count`` unit vectors with the neighbourhood structure of real MiniLM embeddings, and
    ``queries`` real query embeddings. ``base_count`` synthetic memories are embedded for real
    (ONNX int8); vector i is memory i % base_count's embedding plus Gaussian noise of sd
    ``noise`` per dimension (cosine ~0.9 to it), renormalised: 1M real embeddings would take
    ~20 minutes to compute here, and random vectors (no structure at all) are HNSW's worst case
    rather than what a tenant stores."""
    embedder = build_embedder("onnx-int8")
    base = embedder.encode([item.text for item in synthetic_items(min(count, base_count))])
    rng = np.random.default_rng(3)
    vectors = np.empty((count, base.shape[1]), dtype=np.float32)
    for begin in range(0, count, 100_000):
        rows = np.arange(begin, min(begin + 100_000, count))
        chunk = base[rows % base.shape[0]] + rng.normal(0.0, noise, (rows.size, base.shape[1]))
        vectors[rows] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    asked = embedder.encode(synthetic_queries(queries, seed=4))
    return vectors, asked


def dense_only(size: int, query_count: int, corpus: str) -> None:
    """Exact against HNSW at ``size`` vectors of ``corpus``: ``random`` unit vectors (no
    structure: HNSW's worst case) or ``minilm`` (see ``minilm_like_vectors``)."""
    dimension = 384
    if corpus == "random":
        vectors = random_unit_vectors(size, dimension, seed=1)
        queries = random_unit_vectors(query_count, dimension, seed=2)
    else:
        vectors, queries = minilm_like_vectors(size, query_count)
    ids = np.arange(size, dtype=np.int64)
    print(f"\ndense only: {size} {corpus} unit vectors of dimension {dimension}, k=10")
    print("| index | build s | p50 ms | p99 ms | recall@10 vs exact | index MB | RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    exact_top: list[set[int]] = []
    for kind, exact_limit in (("flat", size), ("hnsw", 0)):
        gc.collect()
        index = DenseIndex(dimension, exact_limit=exact_limit)
        started = time.perf_counter()
        for begin in range(0, size, 100_000):
            index.add(ids[begin : begin + 100_000], vectors[begin : begin + 100_000])
        build = time.perf_counter() - started
        samples, tops = [], []
        for row in queries:
            began = time.perf_counter()
            [(found, _)] = index.search(row[None, :], 10)
            samples.append(time.perf_counter() - began)
            tops.append(set(found.tolist()))
        if kind == "flat":
            exact_top = tops
        recall = np.mean([len(t & e) / 10 for t, e in zip(tops, exact_top, strict=True)])
        p50, p99 = _percentiles(samples)
        print(
            f"| {index.kind} | {build:.1f} | {p50:.2f} | {p99:.2f} | {recall:.3f} "
            f"| {index.memory_bytes() / 2**20:.0f} | {_rss_mb():.0f} |",
            flush=True,
        )
        del index


def _tenants(value: str) -> list[int]:
    chosen: set[int] = set()
    for part in value.split(","):
        low, _, high = part.partition("-")
        chosen.update(range(int(low), int(high or low) + 1))
    return sorted(chosen)


def _embedders(value: str) -> list[EmbedderName]:
    known: dict[str, EmbedderName] = {name: name for name in EMBEDDER_NAMES}
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    if not chosen or any(name not in known for name in chosen):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(EMBEDDER_NAMES)}")
    return [known[name] for name in chosen]


def _sizes(value: str) -> list[int]:
    return [int(part.replace("_", "")) for part in value.split(",") if part]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tenants", type=_tenants, default=list(range(10)), help="e.g. 0-4,7")
    parser.add_argument("--tune", action="store_true", help="weight grid on 0-4, checked on 5-9")
    parser.add_argument("--ablation", action="store_true", help="also index the bare turn text")
    parser.add_argument("--speed", action="store_true", help="run the speed part")
    parser.add_argument("--no-locomo", action="store_true", help="skip the LoCoMo part")
    parser.add_argument("--sizes", type=_sizes, default=[10_000, 100_000])
    parser.add_argument(
        "--dense-sizes", type=_sizes, default=[10_000, 100_000, 1_000_000], help="'' skips it"
    )
    parser.add_argument(
        "--dense-corpus",
        type=lambda value: [part for part in value.split(",") if part],
        default=["minilm", "random"],
        help="minilm (real embeddings plus noise) and/or random unit vectors",
    )
    parser.add_argument("--queries", type=int, default=200, help="timed queries per size")
    parser.add_argument("--ingest-sample", type=int, default=1000, help="memories embedded")
    parser.add_argument(
        "--embedders",
        type=_embedders,
        default=["onnx-int8"],
        help=f"comma-separated, of {', '.join(EMBEDDER_NAMES)}; the first also runs --speed",
    )
    args = parser.parse_args(argv)
    status = 0
    if not args.no_locomo:
        status = locomo(args)
    if args.speed:
        speed(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
