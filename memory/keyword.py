"""Keyword (BM25) recall over bm25s.

bm25s builds a static sparse score matrix: documents cannot be added to or removed from a built
index. Writes therefore only update the kept token lists and mark the index stale; the next search
rebuilds it once. Bursts of writes (an ingest batch, a tenant rebuild) then cost one rebuild, and
an index that is written but never searched costs none.

Terms are lower-cased, bm25s's bundled English stopwords are dropped, and by default the index
reduces them to their Snowball English stems (PyStemmer), so "campaigns" finds "campaign" and
"painted" finds "paint". Documents and queries of one index always go through the same
tokenization. ``tokenize`` leaves words unstemmed unless asked: its other callers show terms to
people (cluster labels), and stems such as "carolin" read badly.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable, Sequence
from threading import Lock, local
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import Stemmer
from numpy.typing import NDArray

if TYPE_CHECKING:
    import bm25s


def _bm25s() -> ModuleType:
    """bm25s, imported on first use. Importing it runs a JAX computation when JAX is installed
    (it probes ``jax.lax.top_k``), which starts JAX's thread pool; a process that imports this
    module and later forks (``ray.init`` starting a local cluster, for one) would then fork a
    multithreaded process. Deferring the import keeps merely importing memory code inert."""
    return importlib.import_module("bm25s")


def _kth_best_score(scores: NDArray[np.float64], k: int) -> float:
    """The k-th highest score, by bm25s's top-k on its numpy backend: its "auto" choice is JAX
    whenever JAX is installed, which would put JAX dispatch on every keyword search."""
    selection = importlib.import_module("bm25s.selection")
    top_scores, _ = selection.topk(scores, k, backend="numpy", sorted=False)
    return float(np.min(top_scores))


# bm25s's default token pattern, as scikit-learn's CountVectorizer: words of 2+ characters.
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"

# A PyStemmer stemmer keeps internal state and must not be used by two threads at once, and
# searches of one index may run on several threads: each thread gets its own.
_stemmers = local()


def _english_stemmer() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _stemmers.english = stemmer
    return stemmer


def tokenize(texts: Sequence[str], *, stem: bool = False) -> list[list[str]]:
    """Lower-cased, stopword-free tokens per text, as bm25s indexes them; with ``stem``, each
    reduced to its Snowball English stem."""
    if not texts:
        return []
    tokens = _bm25s().tokenize(
        list(texts),
        lower=True,
        token_pattern=_TOKEN_PATTERN,
        stopwords="en",
        stemmer=_english_stemmer() if stem else None,
        return_ids=False,
        show_progress=False,
        allow_empty=False,
    )
    return [list(doc) for doc in tokens]


class KeywordIndex:
    """Per-tenant BM25 index keyed by stable int64 memory ids.

    ``stem`` matches words on their English stems (documents and queries alike); off, only the
    lower-cased surface forms match."""

    def __init__(self, *, k1: float = 1.5, b: float = 0.75, stem: bool = True) -> None:
        self.k1 = k1
        self.b = b
        self.stem = stem
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
        tokenized = tokenize(texts, stem=self.stem)
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
        tokenized = tokenize(texts, stem=self.stem)
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
        query_tokens = [
            t for t in tokenize([query], stem=self.stem)[0] if t in retriever.vocab_dict
        ]
        if not query_tokens:
            return []
        scores = np.asarray(retriever.get_scores(query_tokens), dtype=np.float64)
        candidates = scores > 0
        if allowed_ids is not None:
            candidates &= np.isin(row_ids, np.fromiter(allowed_ids, dtype=np.int64))
        positions = np.flatnonzero(candidates)
        if positions.size > k:
            # The numpy top-k breaks ties at the k-th score arbitrarily; every document scoring
            # at least that much is kept so the sort below can prefer the smaller ids.
            positions = positions[scores[positions] >= _kth_best_score(scores[positions], k)]
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
