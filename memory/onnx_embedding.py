"""MiniLM through ONNX Runtime: the fast embedding path for ingestion.

sentence-transformers on two CPU cores embeds about 130 texts/s, short of the ingestion target.
The project exports the installed MiniLM weights to ONNX itself (mean pooling and L2
normalisation inside the graph) and quantises the matrix multiplications to int8, so nothing is
ever downloaded. The exported files are cached per source-weights hash and reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from memory.embedding import MINILM_DIMENSION, MINILM_NAME, QueryCache, minilm_model_dir

if TYPE_CHECKING:
    import onnxruntime
    import torch
    from tokenizers import Tokenizer

# Bump whenever the exported graph or the quantisation recipe changes, so stale caches are not
# reused: the cache key covers this recipe as well as the weights.
EXPORT_RECIPE_VERSION = 1
# all-MiniLM-L6-v2 was trained with 256-token inputs (sentence_bert_config.json); the
# tokenizer.json shipped with it says 128, which would silently cut long memories shorter.
MAX_TOKENS = 256
ONNX_OPSET = 17
FP32_FILE = "model.fp32.onnx"
INT8_FILE = "model.int8.onnx"
# fp32 texts per call: past ~16 the padding of mixed lengths costs more than the call overhead.
FP32_BATCH_SIZE = 16
# The files whose bytes determine the exported graph; the tokenizer is read at run time instead.
_GRAPH_SOURCES = ("config.json", "model.safetensors", "1_Pooling/config.json")


class OnnxPrecision(StrEnum):
    FP32 = "fp32"
    INT8 = "int8"


@dataclass(frozen=True)
class OnnxModelFiles:
    """One cached export: the fp32 graph and its int8 quantisation, side by side."""

    directory: Path

    @property
    def fp32(self) -> Path:
        return self.directory / FP32_FILE

    @property
    def int8(self) -> Path:
        return self.directory / INT8_FILE

    def path(self, precision: OnnxPrecision) -> Path:
        return self.int8 if precision is OnnxPrecision.INT8 else self.fp32

    def is_complete(self) -> bool:
        return self.fp32.is_file() and self.int8.is_file()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/liftos/embeddings``, falling back to ``~/.cache/liftos/embeddings``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "liftos" / "embeddings"


def source_fingerprint(model_dir: Path) -> str:
    """SHA-256 over the export recipe and the weight/config files that shape the graph."""
    digest = hashlib.sha256(f"recipe={EXPORT_RECIPE_VERSION};opset={ONNX_OPSET}".encode())
    for relative in _GRAPH_SOURCES:
        source = model_dir / relative
        digest.update(relative.encode())
        with source.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def ensure_onnx_minilm(
    *, model_dir: Path | None = None, cache_dir: Path | None = None
) -> OnnxModelFiles:
    """Return the cached ONNX export of the installed MiniLM, exporting it first if missing.

    The export is built in a private temporary directory and renamed into place, so a reader
    never sees half-written files and two processes racing to export both end up with one
    complete copy.
    """
    source = model_dir if model_dir is not None else minilm_model_dir()
    root = cache_dir if cache_dir is not None else default_cache_dir()
    files = OnnxModelFiles(root / f"{MINILM_NAME}-{source_fingerprint(source)[:16]}")
    if files.is_complete():
        return files
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    try:
        built = OnnxModelFiles(staging)
        _export_fp32(source, built.fp32)
        _quantise_int8(built.fp32, built.int8)
        try:
            staging.replace(files.directory)
        except OSError:
            # Another process renamed its finished export into place first; theirs is as good.
            if not files.is_complete():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return files


def _export_fp32(model_dir: Path, target: Path) -> None:
    # Imported lazily: torch and transformers take seconds to import and are only needed once
    # per weights version, when the cache is cold.
    import torch
    from transformers import AutoModel

    # Eager attention traces to plain MatMul/Softmax, which ONNX Runtime fuses into its own
    # Attention kernel; SDPA traces to a longer graph with shape-dependent branches.
    bert = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager"
    )
    pooled = _mean_pooled_normalised(bert).eval()
    # The tracer records one code path; transformers shortcuts all-ones masks, so a padded example
    # row keeps the masking in the graph even if that shortcut ever stops checking for tracing.
    input_ids = torch.full((2, 8), 1000, dtype=torch.int64)
    attention_mask = torch.ones((2, 8), dtype=torch.int64)
    attention_mask[1, 5:] = 0
    batch_and_tokens = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        # The dynamo exporter needs onnxscript, which is not a dependency, so this uses the
        # TorchScript exporter; its deprecation notice and tracer notes about shape checks (fixed
        # for this architecture, and the tests compare against sentence-transformers on padded
        # batches) are not actionable here.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based")
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        torch.onnx.export(
            pooled,
            (input_ids, attention_mask),
            str(target),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": batch_and_tokens,
                "attention_mask": batch_and_tokens,
                "embedding": {0: "batch"},
            },
            opset_version=ONNX_OPSET,
        )


def _quantise_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales keep the mean cosine to the fp32 vectors at ~0.99; one scale per
    # tensor measured ~0.95 with outliers near 0.8, because a few output channels dominate range.
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)


def _mean_pooled_normalised(bert: torch.nn.Module) -> torch.nn.Module:
    """Wrap BertModel so the graph outputs finished sentence embeddings, not token states."""
    import torch

    class MeanPooledNormalised(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return MeanPooledNormalised()


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return os.cpu_count() or 1


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 exported to ONNX and run by ONNX Runtime on CPU.

    Documents are tokenised once, sorted by token count and cut into batches that pad only to
    their own longest text; ``workers`` threads run batches concurrently through one session,
    each call on one core (BERT-sized operators on short texts parallelise poorly inside a call:
    two single-threaded calls side by side measured 1.8x one call on two threads).

    int8 quantises activations dynamically, with one scale per call, so a text's int8 vector
    would depend on the texts batched with it (cosine ~0.99 to its vector alone). That breaks
    "an index rebuilt from the database equals the live one", so int8 encodes one text per call:
    its vector is then a function of the text alone, bit for bit. fp32 vectors do not depend on
    the batch (to ~1e-7), so fp32 batches.

    Query embeddings go through the same LRU cache as ``MiniLMEmbedder``.
    """

    def __init__(
        self,
        *,
        precision: OnnxPrecision | str = OnnxPrecision.INT8,
        model_dir: Path | None = None,
        cache_dir: Path | None = None,
        batch_size: int | None = None,
        cache_size: int = 1024,
        workers: int | None = None,
        intra_op_threads: int = 1,
        spin_wait: bool = False,
    ) -> None:
        self.precision = OnnxPrecision(precision)
        if batch_size is None:
            batch_size = 1 if self.precision is OnnxPrecision.INT8 else FP32_BATCH_SIZE
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if batch_size > 1 and self.precision is OnnxPrecision.INT8:
            raise ValueError(
                "batch_size must be 1 for int8: its activation scales are per call, so batched "
                "texts would get vectors that depend on their neighbours"
            )
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be at least 1")
        source = model_dir if model_dir is not None else minilm_model_dir()
        self.files = ensure_onnx_minilm(model_dir=source, cache_dir=cache_dir)
        self._tokenizer = _load_tokenizer(source)
        self._session = _open_session(
            self.files.path(self.precision), intra_op_threads, spin_wait=spin_wait
        )
        self.batch_size = batch_size
        self.workers = workers if workers is not None else available_cores()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = Lock()
        self._queries = QueryCache(cache_size)

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    @property
    def name(self) -> str:
        # int8 vectors differ slightly from the reference ones; an index built with one must not
        # be searched with queries from the other without knowing it.
        return f"{MINILM_NAME}-onnx-{self.precision.value}"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode documents in input order; not cached, since documents are encoded once."""
        result = np.empty((len(texts), MINILM_DIMENSION), dtype=np.float32)
        if len(texts) == 0:
            return result
        token_ids = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        by_length = sorted(range(len(texts)), key=lambda position: len(token_ids[position]))
        batches = [
            by_length[start : start + self.batch_size]
            for start in range(0, len(by_length), self.batch_size)
        ]

        def run(positions: list[int]) -> None:
            input_ids, attention_mask = _pad([token_ids[position] for position in positions])
            (rows,) = self._session.run(
                ["embedding"], {"input_ids": input_ids, "attention_mask": attention_mask}
            )
            result[positions] = rows  # disjoint rows per batch, so threads never collide

        if len(batches) == 1 or self.workers == 1:
            for batch in batches:
                run(batch)
        else:
            # Several concurrent callers share the pool; ORT runs one session from many threads.
            list(self._executor().map(run, batches))
        return result

    def encode_queries(self, queries: Sequence[str]) -> NDArray[np.float32]:
        """Encode query texts through the LRU cache; the returned rows are read-only copies."""
        return self._queries.encode(queries, self.encode, MINILM_DIMENSION)

    def encode_query(self, query: str) -> NDArray[np.float32]:
        row: NDArray[np.float32] = self.encode_queries([query])[0]
        return row

    def cache_info(self) -> tuple[int, int, int]:
        """(hits, misses, current entries)."""
        return self._queries.info()

    def close(self) -> None:
        """Stop the worker threads (they are started on the first multi-batch encode)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="onnx-embed")
            return self._pool


def _pad(batch: Sequence[Sequence[int]]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    # BERT's [PAD] id is 0, so zero-filled arrays are already padded.
    width = max(len(ids) for ids in batch)
    input_ids = np.zeros((len(batch), width), dtype=np.int64)
    attention_mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def _load_tokenizer(model_dir: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    # Padding is done per sorted batch in `_pad`; the file's fixed 128-token padding is dropped.
    tokenizer.no_padding()
    if tokenizer.token_to_id("[PAD]") != 0:
        raise ValueError(f"{model_dir} tokenizer does not pad with id 0, which `_pad` assumes")
    return tokenizer


def _open_session(
    model: Path, intra_op_threads: int, *, spin_wait: bool
) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    # Parallelism comes from concurrent calls (the embedder's workers), not from within one.
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle ORT workers busy-wait for the next operator by default. On a few cores shared with
    # other actors that steals the CPU they need: int8 throughput under load measured ~2x higher
    # with spinning off.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait else "0")
    return onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
