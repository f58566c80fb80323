"""Reference-based quality metrics and paired bootstrap comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from rouge_score import rouge_scorer

from engine.llm.quality import (
    PairedComparison,
    QualityScores,
    UnicodeTokenizer,
    bleu_tokenizer,
    corpus_scores,
    cosine_similarity,
    paired_bootstrap,
    sentence_scores,
)


def test_identical_hypothesis_and_reference_score_perfectly() -> None:
    text = "Summer sale: forty percent off every running shoe this weekend only."
    scores = sentence_scores(text, [text])
    assert scores.bleu == pytest.approx(100.0)
    assert scores.chrf == pytest.approx(100.0)
    assert scores.rouge_l == pytest.approx(1.0)


def test_unrelated_output_scores_low() -> None:
    scores = sentence_scores("Fresh coffee delivered daily.", ["Winter tyres for every car."])
    assert scores.bleu is not None
    assert scores.bleu < 10
    assert scores.rouge_l == 0.0


def test_rouge_l_takes_the_best_reference() -> None:
    hypothesis = "free shipping on all orders"
    single = sentence_scores(hypothesis, ["free shipping on all orders"])
    several = sentence_scores(hypothesis, ["something else entirely", hypothesis])
    assert single.rouge_l == several.rouge_l == pytest.approx(1.0)


def test_no_references_means_not_measured() -> None:
    assert sentence_scores("anything", []) == QualityScores(None, None, None)


def test_japanese_scores_with_the_unicode_tokenizer_not_the_default() -> None:
    reference = "今日はいい天気です"
    hypothesis = "今日は悪い雨でした"  # shares 今, 日, は, い, で of 9 characters
    default = rouge_scorer.RougeScorer(["rougeL"]).score(reference, hypothesis)
    assert default["rougeL"].fmeasure == 0.0
    scores = sentence_scores(hypothesis, [reference], language="ja")
    assert scores.rouge_l is not None
    assert 0.0 < scores.rouge_l < 1.0
    assert scores.bleu is not None
    assert scores.bleu > 0.0


def test_tokenizer_splits_cjk_into_characters() -> None:
    tokens = UnicodeTokenizer().tokenize("東京タワーへ行く\uff01")
    assert tokens == ["東", "京", "タ", "ワ", "ー", "へ", "行", "く"]
    assert UnicodeTokenizer().tokenize("한국어") == ["한", "국", "어"]


def test_tokenizer_keeps_arabic_words_whole_with_their_diacritics() -> None:
    assert UnicodeTokenizer().tokenize("مرحبا بالعالم!") == ["مرحبا", "بالعالم"]
    assert UnicodeTokenizer().tokenize("مُحَمَّدٌ رَسُولُ") == ["مُحَمَّدٌ", "رَسُولُ"]


def test_tokenizer_casefolds_and_drops_punctuation_and_underscores() -> None:
    assert UnicodeTokenizer().tokenize("Straße, NAÏVE_café 42!") == [
        "strasse",
        "naïve",
        "café",
        "42",
    ]


def test_arabic_scores_are_measured() -> None:
    scores = sentence_scores("تخفيضات كبيرة اليوم", ["تخفيضات كبيرة هذا الأسبوع"], language="ar")
    assert scores.rouge_l is not None
    assert 0.0 < scores.rouge_l < 1.0


@pytest.mark.parametrize(
    ("language", "tokenizer"),
    [("en", "13a"), ("zh-Hans", "zh"), ("ja_JP", "char"), ("ar", "intl"), ("TH", "char")],
)
def test_bleu_tokenizer_per_language(language: str, tokenizer: str) -> None:
    assert bleu_tokenizer(language) == tokenizer


def test_corpus_scores_pad_missing_references() -> None:
    hypotheses = ["the cat sat on the mat", "a dog ran in the park"]
    references = [["the cat sat on the mat", "a cat was on the mat"], ["a dog ran in the park"]]
    scores = corpus_scores(hypotheses, references)
    assert scores.bleu == pytest.approx(100.0)
    assert scores.chrf == pytest.approx(100.0)
    assert scores.rouge_l == pytest.approx(1.0)


def test_corpus_rouge_is_the_mean_of_sentence_rouge() -> None:
    hypotheses = ["buy one get one free", "new arrivals in store"]
    references = [["buy one get one free today"], ["summer arrivals now in store"]]
    expected = np.mean(
        [sentence_scores(h, r).rouge_l for h, r in zip(hypotheses, references, strict=True)]
    )
    assert corpus_scores(hypotheses, references).rouge_l == pytest.approx(expected)


def test_corpus_scores_validation() -> None:
    assert corpus_scores([], []) == QualityScores(None, None, None)
    with pytest.raises(ValueError, match="pair up"):
        corpus_scores(["a"], [])
    with pytest.raises(ValueError, match="no reference"):
        corpus_scores(["a"], [[]])


def test_paired_bootstrap_detects_a_clearly_better_arm() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.8, size=60)
    better = base + 0.1 + rng.normal(0, 0.02, size=60)
    result = paired_bootstrap(better.tolist(), base.tolist(), metric="rouge_l", a="new", b="old")
    assert isinstance(result, PairedComparison)
    assert result.difference == pytest.approx(float(np.mean(better - base)))
    assert result.interval[0] > 0.0
    assert result.p_value < 0.01
    # The +1 correction keeps the smallest attainable p-value above 0.
    assert result.p_value == pytest.approx(2 / 10_001)
    assert (result.n, result.resamples, result.seed, result.level) == (60, 10_000, 0, 0.95)


def test_paired_bootstrap_on_identical_arms() -> None:
    scores = [0.1, 0.5, 0.3, 0.9, 0.7]
    result = paired_bootstrap(scores, scores, metric="bleu", a="x", b="y")
    assert result.difference == 0.0
    assert result.interval == (0.0, 0.0)
    assert result.p_value == 1.0


def test_paired_bootstrap_is_reproducible_for_a_seed() -> None:
    a = [0.2, 0.4, 0.5, 0.9, 0.3, 0.6]
    b = [0.3, 0.3, 0.6, 0.7, 0.35, 0.5]
    first = paired_bootstrap(a, b, metric="chrf", a="a", b="b", seed=7)
    assert first == paired_bootstrap(a, b, metric="chrf", a="a", b="b", seed=7)
    assert first.interval != paired_bootstrap(a, b, metric="chrf", a="a", b="b", seed=8).interval


def test_paired_bootstrap_pairs_the_items() -> None:
    # Item difficulty varies far more than the constant gap; pairing cancels it.
    a = np.linspace(0.0, 1.0, 20)
    result = paired_bootstrap((a + 0.01).tolist(), a.tolist(), metric="q", a="a", b="b")
    assert result.interval[0] == pytest.approx(0.01)
    assert result.interval[1] == pytest.approx(0.01)


def test_paired_bootstrap_validation() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([0.1, 0.2], [0.1], metric="m", a="a", b="b")
    with pytest.raises(ValueError, match="at least 2"):
        paired_bootstrap([0.1], [0.2], metric="m", a="a", b="b")
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap([0.1, 0.2], [0.2, 0.3], metric="m", a="a", b="b", level=1.0)
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([0.1, float("nan")], [0.2, 0.3], metric="m", a="a", b="b")


def test_cosine_similarity() -> None:
    assert cosine_similarity([1.0, 0.0], [0.0, 2.0]) == pytest.approx(0.0)
    assert cosine_similarity([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)
    assert cosine_similarity([1.0, 1.0], [-1.0, -1.0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="zero vector"):
        cosine_similarity([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="equal lengths"):
        cosine_similarity([1.0], [1.0, 2.0])
