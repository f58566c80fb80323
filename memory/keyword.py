"""Keyword (BM25) recall over bm25s.

bm25s builds a static sparse score matrix: documents cannot be added to or removed from a built
index. Writes therefore only update the kept token lists and mark the index stale; the next search
rebuilds it once. Bursts of writes (an ingest batch, a tenant rebuild) then cost one rebuild, and
an index that is written but never searched costs none.

No stemmer ships with the installed dependencies (bm25s expects PyStemmer for that), so terms
match on their lower-cased surface form with bm25s's bundled English stopwords removed.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable, Sequence
from threading import Lock
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import bm25s


def _bm25s() -> ModuleType:
    """bm25s, imported on first use. Importing it runs a JAX computation when JAX is installed
    (it probes ``jax.lax.top_k``), which starts JAX's thread pool; a process that imports this
    module and later forks (``ray.init`` starting a local cluster, for one) would then fork a
    multithreaded process. Deferring the import keeps merely importing memory code inert."""
    return importlib.import_module("bm25s")


# bm25s's default token pattern, as scikit-learn's CountVectorizer: words of 2+ characters.
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stopword-free tokens per text, as bm25s indexes them."""
    if not texts:
        return []
    tokens = _bm25s().tokenize(
        list(texts),
        lower=True,
        token_pattern=_TOKEN_PATTERN,
        stopwords="en",
        return_ids=False,
        show_progress=False,
        allow_empty=False,
    )
    return [list(doc) for doc in tokens]


class KeywordIndex:
    """Per-tenant BM25 index keyed by stable int64 memory ids."""

    def __init__(self, *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._tokens: dict[int, list[str]] = {}
        self._retriever: bm25s.BM25 | None = None
        self._row_ids: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._stale = False
        # Searches may come from several threads of one actor; only one may rebuild.
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, memory_id: object) -> bool:
        return memory_id in self._tokens

    def ids(self) -> NDArray[np.int64]:
        return np.array(sorted(self._tokens), dtype=np.int64)

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        """Insert a batch; an id already present is replaced (an update)."""
        if len(ids) != len(texts):
            raise ValueError("ids and texts must have the same length")
        tokenized = tokenize(texts)
        with self._lock:
            for memory_id, tokens in zip(ids, tokenized, strict=True):
                self._tokens[int(memory_id)] = tokens
            self._stale = True

    def delete(self, ids: Iterable[int]) -> int:
        """Remove ids (unknown ids are ignored); returns how many were present."""
        removed = 0
        with self._lock:
            for memory_id in set(ids):
                if self._tokens.pop(int(memory_id), None) is not None:
                    removed += 1
            self._stale = self._stale or removed > 0
        return removed

    def rebuild(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        """Replace the whole contents, e.g. from the PostgreSQL source of truth."""
        if len(ids) != len(texts):
            raise ValueError("ids and texts must have the same length")
        tokenized = tokenize(texts)
        with self._lock:
            self._tokens = {
                int(memory_id): tokens for memory_id, tokens in zip(ids, tokenized, strict=True)
            }
            self._stale = True

    def search(
        self, query: str, k: int, *, allowed_ids: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, score) with a positive BM25 score, best first; ties go to the smaller id."""
        if k < 1:
            raise ValueError("k must be at least 1")
        with self._lock:
            self._ensure_built()
            retriever, row_ids = self._retriever, self._row_ids
        if retriever is None or row_ids.size == 0:
            return []
        query_tokens = [t for t in tokenize([query])[0] if t in retriever.vocab_dict]
        if not query_tokens:
            return []
        scores = np.asarray(retriever.get_scores(query_tokens), dtype=np.float64)
        candidates = scores > 0
        if allowed_ids is not None:
            candidates &= np.isin(row_ids, np.fromiter(allowed_ids, dtype=np.int64))
        positions = np.flatnonzero(candidates)
        order = np.lexsort((row_ids[positions], -scores[positions]))[:k]
        chosen = positions[order]
        return [
            (int(memory_id), float(score))
            for memory_id, score in zip(row_ids[chosen], scores[chosen], strict=True)
        ]

    def memory_bytes(self) -> int:
        """Approximate resident size: kept tokens plus the built sparse score matrix."""
        total = sum(sum(len(token) + 49 for token in doc) + 56 for doc in self._tokens.values())
        total += self._row_ids.nbytes
        retriever = self._retriever
        if retriever is not None:
            total += sum(
                value.nbytes for value in retriever.scores.values() if isinstance(value, np.ndarray)
            )
            total += sum(len(token) + 80 for token in retriever.vocab_dict)
        return total

    def _ensure_built(self) -> None:
        if not self._stale:
            return
        self._stale = False
        # bm25s divides by the average document length, which is zero when no document has a term.
        if not any(self._tokens.values()):
            self._retriever, self._row_ids = None, np.empty(0, dtype=np.int64)
            return
        row_ids = np.array(sorted(self._tokens), dtype=np.int64)
        retriever = _bm25s().BM25(k1=self.k1, b=self.b)
        retriever.index([self._tokens[int(i)] for i in row_ids], show_progress=False)
        self._retriever, self._row_ids = retriever, row_ids
