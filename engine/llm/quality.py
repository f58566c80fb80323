"""Output quality against references (BLEU, chrF, ROUGE-L) and paired comparisons of two arms.

BLEU and chrF come from sacrebleu on its 0..100 scale; ROUGE-L is rouge-score's F-measure on
0..1, computed with :class:`UnicodeTokenizer` because rouge-score's default tokenizer keeps only
``[a-z0-9]`` and so scores every Japanese, Chinese or Arabic output 0.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

# `regex` (a dependency of nltk, which rouge-score needs) is used over `re` for its Unicode
# classes: `re`'s \w excludes combining marks, so it cuts Arabic words at every diacritic and
# Devanagari words at every vowel sign.
import regex
from rouge_score import rouge_scorer
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.metrics.chrf import CHRF

__all__ = [
    "PairedComparison",
    "QualityScores",
    "UnicodeTokenizer",
    "bleu_tokenizer",
    "corpus_scores",
    "cosine_similarity",
    "paired_bootstrap",
    "sentence_scores",
]


@dataclass(frozen=True)
class QualityScores:
    """BLEU and chrF on sacrebleu's 0..100 scale, ROUGE-L F-measure on 0..1.

    A field is None when there was nothing to measure against (no reference, empty corpus).
    """

    bleu: float | None
    chrf: float | None
    rouge_l: float | None


_UNMEASURED = QualityScores(bleu=None, chrf=None, rouge_l=None)

# Scripts written without spaces between words: each character is its own ROUGE token. Script
# extensions (scx) rather than scripts so that marks shared by kana, such as the prolonged sound
# mark, count as kana.
_CJK = r"\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}"
_TOKEN = regex.compile(rf"(?V1)[{_CJK}]|[[\p{{L}}\p{{M}}\p{{N}}]--[{_CJK}]]+")


class UnicodeTokenizer:
    """ROUGE tokenizer that keeps every script, for ``RougeScorer(tokenizer=...)``.

    Text is casefolded and NFKC-normalised (so full-width Latin and digits in Japanese text match
    their ASCII forms); words are runs of Unicode letters, marks and digits; CJK ideographs,
    hiragana, katakana and Hangul are split into single characters; punctuation, symbols and
    underscores separate tokens and are dropped.
    """

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = _TOKEN.findall(unicodedata.normalize("NFKC", text.casefold()))
        return tokens


_ROUGE = rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer())

# Languages written without spaces between words, which sacrebleu splits into characters.
_CHARACTER_LANGUAGES = frozenset({"ja", "th", "lo", "km", "my"})


def bleu_tokenizer(language: str) -> str:
    """The sacrebleu tokenizer for a language code (``"en"``, ``"zh-Hans"``, ``"ja_JP"``, ...).

    ``13a`` for English (sacrebleu's default, comparable with published scores), ``zh`` for
    Chinese, ``char`` for Japanese and other scripts without spaces (``ja-mecab`` would need
    MeCab, which is not installed), ``intl`` (Unicode-aware punctuation splitting) otherwise.
    """
    primary = language.replace("_", "-").split("-", 1)[0].strip().lower()
    if primary in ("", "en"):
        return "13a"
    if primary == "zh":
        return "zh"
    if primary in _CHARACTER_LANGUAGES:
        return "char"
    return "intl"


@cache
def _bleu(tokenize: str) -> BLEU:
    # effective_order so a short sentence missing some 4-grams is not scored 0 outright.
    return BLEU(effective_order=True, tokenize=tokenize)


@cache
def _corpus_bleu(tokenize: str) -> BLEU:
    return BLEU(tokenize=tokenize)


_CHRF = CHRF()


def _rouge_l(hypothesis: str, references: Sequence[str]) -> float:
    return float(_ROUGE.score_multi(list(references), hypothesis)["rougeL"].fmeasure)


def sentence_scores(
    hypothesis: str, references: Sequence[str], *, language: str = "en"
) -> QualityScores:
    """BLEU, chrF and ROUGE-L of one output against its references (ROUGE-L: best reference).

    With no references every field is None: the output was not measured.
    """
    if isinstance(references, str):
        raise TypeError("references must be a sequence of strings, not one string")
    refs = list(references)
    if not refs:
        return _UNMEASURED
    return QualityScores(
        bleu=float(_bleu(bleu_tokenizer(language)).sentence_score(hypothesis, refs).score),
        chrf=float(_CHRF.sentence_score(hypothesis, refs).score),
        rouge_l=_rouge_l(hypothesis, refs),
    )


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], *, language: str = "en"
) -> QualityScores:
    """Corpus BLEU and chrF (sacrebleu) and the mean sentence ROUGE-L F-measure.

    ``references[i]`` holds the references of ``hypotheses[i]``. sacrebleu wants one stream per
    reference position, so hypotheses with fewer references are padded by repeating their last
    one. An empty corpus gives all None; a hypothesis without any reference is a ValueError,
    because a corpus score over partly referenced outputs would be silently misleading.
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference lists; they must pair up"
        )
    if not hypotheses:
        return _UNMEASURED
    refs: list[list[str]] = []
    for i, group in enumerate(references):
        if isinstance(group, str):
            raise TypeError(f"references[{i}] must be a sequence of strings, not one string")
        if not group:
            raise ValueError(f"hypothesis {i} has no reference")
        refs.append(list(group))
    width = max(len(group) for group in refs)
    padded = [group + [group[-1]] * (width - len(group)) for group in refs]
    streams = [list(stream) for stream in zip(*padded, strict=True)]
    hyps = list(hypotheses)
    rouge = [_rouge_l(h, group) for h, group in zip(hyps, refs, strict=True)]
    return QualityScores(
        bleu=float(_corpus_bleu(bleu_tokenizer(language)).corpus_score(hyps, streams).score),
        chrf=float(_CHRF.corpus_score(hyps, streams).score),
        rouge_l=float(np.mean(rouge)),
    )


@dataclass(frozen=True)
class PairedComparison:
    """Arm ``a`` against arm ``b`` on the same items; ``difference`` is ``mean(a - b)``."""

    metric: str
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    difference: float
    interval: tuple[float, float]
    level: float
    p_value: float
    resamples: int
    seed: int


def _as_scores(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def paired_bootstrap(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    *,
    metric: str,
    a: str,
    b: str,
    resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Paired bootstrap of the mean difference between two arms scored on the same items.

    Items are resampled with one ``resamples x n`` index matrix applied to both arms, so each
    resample keeps the pairing (and the per-item difficulty that it cancels). The interval is the
    percentile interval of the resampled mean differences. The two-sided p-value is twice the
    share of resampled means on the far side of 0 from the observed difference (0 included),
    with the +1 correction so it is never 0, clipped to 1; it is 1 when the difference is 0.
    Memory is ``resamples * n`` indices. Raises ValueError for unequal lengths, fewer than two
    items, non-finite scores, ``resamples < 1`` or a level outside (0, 1).
    """
    x = _as_scores(scores_a, "scores_a")
    y = _as_scores(scores_b, "scores_b")
    if x.size != y.size:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"a paired bootstrap needs at least 2 items, got {x.size}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")

    rng = np.random.default_rng(seed)
    index = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[index].mean(axis=1) - y[index].mean(axis=1)
    difference = float(np.mean(x - y))
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    if difference == 0.0:
        p_value = 1.0
    else:
        far_side = np.count_nonzero(means <= 0.0 if difference > 0 else means >= 0.0)
        p_value = min(1.0, 2.0 * (far_side + 1) / (resamples + 1))
    return PairedComparison(
        metric=metric,
        a=a,
        b=b,
        n=int(x.size),
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        difference=difference,
        interval=(float(low), float(high)),
        level=level,
        p_value=p_value,
        resamples=resamples,
        seed=seed,
    )


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of the angle between two vectors, in [-1, 1].

    Raises ValueError for unequal lengths, empty or non-finite vectors, or a zero vector, whose
    direction (and so similarity) is undefined.
    """
    x = _as_scores(a, "a")
    y = _as_scores(b, "b")
    if x.size != y.size:
        raise ValueError(f"vectors need equal lengths, got {x.size} and {y.size}")
    if x.size == 0:
        raise ValueError("vectors must not be empty")
    norms = float(np.linalg.norm(x)) * float(np.linalg.norm(y))
    if norms == 0.0:
        raise ValueError("cosine similarity is undefined for a zero vector")
    # Rounding can push |cos| a hair past 1, which breaks arccos and threshold checks downstream.
    return float(np.clip(np.dot(x, y) / norms, -1.0, 1.0))
