import pytest

from engine.llm.bertscore import BertScore, packaged_model


@pytest.fixture(scope="module")
def scorer() -> BertScore:
    model = packaged_model()
    assert model is not None, "the MiniLM wheel is a dependency; it must be installed"
    return BertScore(model)


def test_identical_text_scores_one_and_a_paraphrase_beats_an_unrelated_sentence(
    scorer: BertScore,
) -> None:
    identical, paraphrase, unrelated = scorer.f1(
        ["waterproof trail shoes", "Waterproof trail shoes for runners", "The cat sat on the mat"],
        [
            ["waterproof trail shoes"],
            ["Trail running shoes that keep water out"],
            ["Trail running shoes that keep water out"],
        ],
    )
    assert identical == pytest.approx(1.0, abs=1e-4)
    assert paraphrase > unrelated + 0.3


def test_the_best_of_several_references_counts(scorer: BertScore) -> None:
    (single,) = scorer.f1(["wireless headphones"], [["a kitchen knife"]])
    (best,) = scorer.f1(["wireless headphones"], [["a kitchen knife", "wireless headphones"]])
    assert best == pytest.approx(1.0, abs=1e-4)
    assert best > single


def test_an_empty_output_scores_zero_and_references_are_required(scorer: BertScore) -> None:
    assert scorer.f1(["", "  "], [["hello"], ["hello"]]) == [0.0, 0.0]
    with pytest.raises(ValueError, match="reference"):
        scorer.f1(["hello"], [[""]])
    with pytest.raises(ValueError, match="one list"):
        scorer.f1(["hello"], [])


def test_the_model_is_named_with_its_layer_and_the_missing_rescaling(scorer: BertScore) -> None:
    assert "all-MiniLM-L6-v2 (layer 6" in scorer.model.description
    assert "no baseline rescaling" in scorer.model.description
