"""Keyword (BM25) recall over bm25s.

bm25s builds a static sparse score matrix: documents cannot be added to or removed from a built
index, and rebuilding one of 100k memories takes ~1.2 s on this machine class. So the index is
kept as two bm25s segments, as a log-structured store would:

- the **main** segment, built from a snapshot of every document, with a mask over the rows of
  documents updated or deleted since;
- the **recent** segment: the documents written since that snapshot, rebuilt (small, fast) on
  the first search after a write.

When the recent writes pass ``merge_fraction`` of the main segment (and at least
``merge_floor``), a search starts a background merge that builds a new main segment from a fresh
snapshot and swaps it in; searches meanwhile go on with the old segments. A search therefore
never rebuilds more than the recent writes, except the very first search of an index, which
builds the main segment it has none of. While there are two segments, each term is weighted by
its inverse document frequency over both together (exactly what one index of all documents
would use, except that masked rows still count); only the document-length normalisation stays
per segment until the next merge folds the recent writes in.

Terms are lower-cased, bm25s's bundled English stopwords are dropped, and by default the index
reduces them to their Snowball English stems (PyStemmer), so "campaigns" finds "campaign" and
"painted" finds "paint". Documents and queries of one index always go through the same
tokenization. ``tokenize`` leaves words unstemmed unless asked: its other callers show terms to
people (cluster labels), and stems such as "carolin" read badly.
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Segment:
    """One built bm25s index and the memory id of each of its rows (ascending)."""

    retriever: bm25s.BM25
    row_ids: NDArray[np.int64]

    @staticmethod
    def build(documents: Mapping[int, list[str]], *, k1: float, b: float) -> _Segment | None:
        # bm25s divides by the average document length: zero when no document has a term.
        if not any(documents.values()):
            return None
        row_ids = np.array(sorted(documents), dtype=np.int64)
        retriever = _bm25s().BM25(k1=k1, b=b)
        retriever.index([documents[int(i)] for i in row_ids], show_progress=False)
        return _Segment(retriever, row_ids)

    @property
    def num_docs(self) -> int:
        return int(self.retriever.scores["num_docs"])

    def doc_freq(self, token: str) -> int:
        # The score matrix is stored by term (CSC): a term's column holds one entry per
        # document containing it.
        column = self.retriever.vocab_dict.get(token)
        if column is None:
            return 0
        indptr = self.retriever.scores["indptr"]
        return int(indptr[column + 1] - indptr[column])

    def scores(self, query_tokens: Sequence[str]) -> NDArray[np.float64] | None:
        known = [token for token in query_tokens if token in self.retriever.vocab_dict]
        if not known:
            return None
        return np.asarray(self.retriever.get_scores(known), dtype=np.float64)

    def nbytes(self) -> int:
        matrix = sum(
            value.nbytes
            for value in self.retriever.scores.values()
            if isinstance(value, np.ndarray)
        )
        vocabulary = sum(len(token) + 80 for token in self.retriever.vocab_dict)
        return int(matrix + vocabulary + self.row_ids.nbytes)


def _lucene_idf(num_docs: int, doc_freq: int) -> float:
    """bm25s's default ("lucene") inverse document frequency."""
    return math.log(1 + (num_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def _scores_on_shared_idf(
    segments: Sequence[_Segment], query_tokens: Sequence[str]
) -> list[NDArray[np.float64]]:
    """Each segment's BM25 scores with every term weighted by its idf over all segments
    together. A segment's own idf is rescaled term by term (BM25 is a sum over query terms of
    idf times a term-frequency part), so a term that every recent document shares is not
    discounted as if it were common everywhere. Empty if no segment knows any query term."""
    total_docs = sum(segment.num_docs for segment in segments)
    totals = [np.zeros(segment.row_ids.size, dtype=np.float64) for segment in segments]
    found = False
    for token in query_tokens:
        doc_freqs = [segment.doc_freq(token) for segment in segments]
        if not any(doc_freqs):
            continue
        shared = _lucene_idf(total_docs, sum(doc_freqs))
        for segment, doc_freq, total in zip(segments, doc_freqs, totals, strict=True):
            if doc_freq:
                own = segment.scores([token])
                assert own is not None  # the segment has the term
                total += own * (shared / _lucene_idf(segment.num_docs, doc_freq))
                found = True
    return totals if found else []


class KeywordIndex:
    """Per-tenant BM25 index keyed by stable int64 memory ids.

    ``stem`` matches words on their English stems (documents and queries alike); off, only the
    lower-cased surface forms match. ``merge_fraction`` and ``merge_floor`` set when recent
    writes are merged into the main segment (see the module docstring); ``background_merge``
    off merges inside the search that finds the threshold passed (deterministic, for tests).
    """

    def __init__(
        self,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        stem: bool = True,
        merge_fraction: float = 0.05,
        merge_floor: int = 1000,
        background_merge: bool = True,
    ) -> None:
        if not 0 < merge_fraction <= 1:
            raise ValueError("merge_fraction must be in (0, 1]")
        if merge_floor < 0:
            raise ValueError("merge_floor must not be negative")
        self.k1 = k1
        self.b = b
        self.stem = stem
        self.merge_fraction = merge_fraction
        self.merge_floor = merge_floor
        self.background_merge = background_merge
        self._tokens: dict[int, list[str]] = {}
        self._main: _Segment | None = None
        self._has_main = False  # False: the next search builds the main segment from everything
        self._main_live: NDArray[np.bool_] = np.empty(0, dtype=bool)
        self._recent_ids: set[int] = set()  # written or deleted since the main snapshot
        self._recent: _Segment | None = None
        self._recent_stale = False
        self._merging: threading.Thread | None = None
        self._written_while_merging: set[int] = set()
        self._generation = 0  # bumped by rebuild(), so a merge of older contents is dropped
        # Searches may come from several threads of one actor; writes and swaps take the lock.
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
            self._written([int(memory_id) for memory_id in ids])

    def delete(self, ids: Iterable[int]) -> int:
        """Remove ids (unknown ids are ignored); returns how many were present."""
        with self._lock:
            removed = [i for i in {int(memory_id) for memory_id in ids} if i in self._tokens]
            for memory_id in removed:
                del self._tokens[memory_id]
            self._written(removed)
        return len(removed)

    def rebuild(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        """Replace the whole contents, e.g. from the PostgreSQL source of truth."""
        if len(ids) != len(texts):
            raise ValueError("ids and texts must have the same length")
        tokenized = tokenize(texts, stem=self.stem)
        with self._lock:
            self._tokens = {
                int(memory_id): tokens for memory_id, tokens in zip(ids, tokenized, strict=True)
            }
            self._has_main = False
            self._generation += 1

    def search(
        self, query: str, k: int, *, allowed_ids: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, score) with a positive BM25 score, best first; ties go to the smaller id."""
        if k < 1:
            raise ValueError("k must be at least 1")
        with self._lock:
            self._ensure_segments()
            main, main_live, recent = self._main, self._main_live, self._recent
        # A query with no indexable word tokenizes to [""], a placeholder bm25s keeps out of
        # its score matrix.
        query_tokens = [token for token in tokenize([query], stem=self.stem)[0] if token]
        segments = [segment for segment in (main, recent) if segment is not None]
        if not segments or not query_tokens:
            return []
        if len(segments) == 1:
            found = segments[0].scores(query_tokens)
            per_segment = [found] if found is not None else []
        else:
            per_segment = _scores_on_shared_idf(segments, query_tokens)
        if not per_segment:
            return []
        row_ids = np.concatenate([segment.row_ids for segment in segments])
        scores = np.concatenate(per_segment)
        if main is not None:
            scores[: main.row_ids.size] *= main_live
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

    def wait_for_merge(self) -> None:
        """Block until a background merge running now (if any) has been swapped in."""
        merging = self._merging
        if merging is not None:
            merging.join()

    @property
    def recent_count(self) -> int:
        """Documents written or deleted since the main segment's snapshot."""
        return len(self._recent_ids)

    def memory_bytes(self) -> int:
        """Approximate resident size: kept tokens plus the built segments."""
        with self._lock:  # a write meanwhile would change the dict being summed over
            total = sum(sum(len(token) + 49 for token in doc) + 56 for doc in self._tokens.values())
            total += self._main_live.nbytes
            total += sum(segment.nbytes() for segment in (self._main, self._recent) if segment)
        return total

    # -- segments (called with the lock held) -------------------------------------------------

    def _written(self, memory_ids: Sequence[int]) -> None:
        if not memory_ids:
            return
        self._recent_ids.update(memory_ids)
        self._recent_stale = True
        if self._merging is not None:
            self._written_while_merging.update(memory_ids)
        main = self._main
        if main is not None and self._has_main:
            written = np.asarray(memory_ids, dtype=np.int64)
            rows = np.searchsorted(main.row_ids, written)
            inside = rows < main.row_ids.size
            rows, written = rows[inside], written[inside]
            rows = rows[main.row_ids[rows] == written]
            if rows.size:
                # A new array, not an in-place edit: a search that already took the old mask
                # keeps a consistent view.
                live = self._main_live.copy()
                live[rows] = False
                self._main_live = live

    def _ensure_segments(self) -> None:
        if not self._has_main:
            self._install_main(_Segment.build(self._tokens, k1=self.k1, b=self.b), set())
        if self._recent_stale:
            recent = {i: self._tokens[i] for i in self._recent_ids if i in self._tokens}
            self._recent = _Segment.build(recent, k1=self.k1, b=self.b)
            self._recent_stale = False
        main_size = self._main.row_ids.size if self._main is not None else 0
        threshold = max(self.merge_floor, self.merge_fraction * main_size)
        if self._merging is None and len(self._recent_ids) > threshold:
            self._start_merge()

    def _install_main(self, main: _Segment | None, recent_ids: set[int]) -> None:
        """Make ``main`` the main segment; ``recent_ids`` were written after its snapshot."""
        self._main, self._has_main = main, True
        self._recent_ids = recent_ids
        self._recent_stale = bool(recent_ids)
        live = np.ones(main.row_ids.size if main is not None else 0, dtype=bool)
        if main is not None and recent_ids:
            live &= ~np.isin(main.row_ids, np.fromiter(recent_ids, dtype=np.int64))
        self._main_live = live
        self._recent = None

    def _start_merge(self) -> None:
        snapshot = dict(self._tokens)
        if not self.background_merge:
            # Under the lock: nothing can be written between the snapshot and the swap.
            self._install_main(_Segment.build(snapshot, k1=self.k1, b=self.b), set())
            return
        generation = self._generation
        self._written_while_merging = set()

        def merge() -> None:
            built = _Segment.build(snapshot, k1=self.k1, b=self.b)
            with self._lock:
                # rebuild() replaced the contents meanwhile: this snapshot is not theirs.
                if self._generation == generation:
                    self._install_main(built, self._written_while_merging)
                self._merging = None

        thread = threading.Thread(target=merge, name="bm25-merge", daemon=True)
        self._merging = thread
        thread.start()
