"""Embedding throughput and quality: sentence-transformers MiniLM vs ONNX fp32 vs ONNX int8.

Documents are ~2,000 conversation turns of 5-60 words from LoCoMo (generated sentences when the
data set is absent); queries are LoCoMo questions. Throughput is texts/s through each embedder's
public ``encode`` (tokenisation included), best of ``--repeats`` interleaved timed runs after a
warm-up batch, all limited to ``--threads`` CPU threads (issue 5: >= 500 memories/s on 2 cores).
Quality is measured against the sentence-transformers vectors: the mean and minimum cosine of
each document's vector, and the mean overlap@10 of the nearest documents for each query.

Run: ``.venv/bin/python bench/embedding.py`` (``--help`` for options). On a shared machine the
timings include other processes' load; the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from memory.embedding import Embedder, MiniLMEmbedder
from memory.onnx_embedding import OnnxMiniLMEmbedder, OnnxPrecision, ensure_onnx_minilm

LOCOMO = Path("/work/shared/data/retrieval/locomo/locomo10.json")
TARGET_TEXTS_PER_SECOND = 500.0
MIN_WORDS, MAX_WORDS = 5, 60
REFERENCE = "sentence-transformers"


@dataclass(frozen=True)
class Corpus:
    documents: list[str]
    queries: list[str]
    source: str


def load_corpus(documents: int, queries: int, seed: int) -> Corpus:
    rng = random.Random(seed)
    if LOCOMO.is_file():
        conversations = json.loads(LOCOMO.read_text())
        turns = [
            turn["text"]
            for conversation in conversations
            for key, session in conversation["conversation"].items()
            if key.startswith("session_") and isinstance(session, list)
            for turn in session
            if MIN_WORDS <= len(turn.get("text", "").split()) <= MAX_WORDS
        ]
        questions = [qa["question"] for conversation in conversations for qa in conversation["qa"]]
        return Corpus(
            documents=rng.sample(turns, min(documents, len(turns))),
            queries=rng.sample(questions, min(queries, len(questions))),
            source=f"LoCoMo turns ({len(turns)} of {MIN_WORDS}-{MAX_WORDS} words)",
        )
    return Corpus(
        documents=[_generated_sentence(rng) for _ in range(documents)],
        queries=[_generated_sentence(rng, words=rng.randint(5, 12)) for _ in range(queries)],
        source="generated sentences",
    )


_SUBJECTS = ["Caroline", "Melanie", "the CMO", "our team", "my sister", "the agency", "Jon"]
_VERBS = ["said", "noticed", "planned", "reported", "remembered", "argued", "decided"]
_TOPICS = [
    "TV spend in May rose after the spring campaign",
    "the loyalty programme cut churn in northern stores",
    "a pottery class helped her relax after work",
    "the support group meeting last Tuesday was powerful",
    "paid search looked saturated by the end of the quarter",
    "they adopted a rescue dog and named it Biscuit",
    "the new store opening drew a bigger crowd than expected",
    "radio ads barely moved weekly revenue",
]


def _generated_sentence(rng: random.Random, words: int | None = None) -> str:
    target = words if words is not None else rng.randint(MIN_WORDS, MAX_WORDS)
    parts: list[str] = []
    while len(" ".join(parts).split()) < target:
        parts.append(f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} that {rng.choice(_TOPICS)}.")
    return " ".join(" ".join(parts).split()[:target])


def best_rates(
    embedders: dict[str, Embedder], texts: list[str], repeats: int
) -> tuple[dict[str, float], dict[str, NDArray[np.float32]]]:
    """Best texts/s per embedder; repeats are interleaved so load spikes hit every embedder."""
    best = dict.fromkeys(embedders, float("inf"))
    rows: dict[str, NDArray[np.float32]] = {}
    for embedder in embedders.values():
        embedder.encode(texts[:64])  # warm-up: first-call allocations and thread-pool start
    for _ in range(repeats):
        for label, embedder in embedders.items():
            started = time.perf_counter()
            rows[label] = embedder.encode(texts)
            best[label] = min(best[label], time.perf_counter() - started)
    return {label: len(texts) / seconds for label, seconds in best.items()}, rows


def overlap_at_k(
    reference_queries: NDArray[np.float32],
    reference_documents: NDArray[np.float32],
    queries: NDArray[np.float32],
    documents: NDArray[np.float32],
    k: int,
) -> float:
    expected = np.argsort(-(reference_queries @ reference_documents.T), axis=1)[:, :k]
    found = np.argsort(-(queries @ documents.T), axis=1)[:, :k]
    shared = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(expected, found, strict=True)]
    return float(np.mean(shared)) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--spin-wait", action="store_true", help="let idle ONNX Runtime threads busy-wait"
    )
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    corpus = load_corpus(args.documents, args.queries, args.seed)
    lengths = [len(text.split()) for text in corpus.documents]
    print(
        f"{len(corpus.documents)} documents from {corpus.source}: words min {min(lengths)} "
        f"median {int(np.median(lengths))} max {max(lengths)}; {len(corpus.queries)} queries; "
        f"{args.threads} threads, batch {args.batch_size}, best of {args.repeats}"
    )
    started = time.perf_counter()
    files = ensure_onnx_minilm(cache_dir=args.cache_dir)
    print(f"ONNX files ready in {time.perf_counter() - started:.1f} s: {files.directory}")

    import torch

    torch.set_num_threads(args.threads)
    reference = MiniLMEmbedder(batch_size=args.batch_size, cache_size=0)
    embedders: dict[str, Embedder] = {REFERENCE: reference}
    for precision in OnnxPrecision:
        embedders[f"onnx {precision.value}"] = OnnxMiniLMEmbedder(
            precision=precision,
            cache_dir=args.cache_dir,
            batch_size=args.batch_size,
            cache_size=0,
            intra_op_threads=args.threads,
            spin_wait=args.spin_wait,
        )

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(
        f"{'embedder':<22} {'texts/s':>8} {'speed-up':>8} {'mean cos':>9} {'min cos':>8} "
        f"{'overlap@10':>10}"
    )
    rates, documents = best_rates(embedders, corpus.documents, args.repeats)
    reference_documents = documents[REFERENCE]
    reference_queries = reference.encode(corpus.queries)
    for label, embedder in embedders.items():
        queries = embedder.encode(corpus.queries)
        cosines = np.sum(documents[label] * reference_documents, axis=1)
        overlap = overlap_at_k(
            reference_queries, reference_documents, queries, documents[label], k=10
        )
        print(
            f"{label:<22} {rates[label]:>8.0f} {rates[label] / rates[REFERENCE]:>7.2f}x "
            f"{cosines.mean():>9.4f} {cosines.min():>8.4f} {overlap:>10.3f}"
            + ("  (meets target)" if rates[label] >= TARGET_TEXTS_PER_SECOND else "")
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}; target {TARGET_TEXTS_PER_SECOND:.0f}/s")


if __name__ == "__main__":
    main()
