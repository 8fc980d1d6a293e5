import nltk
import pytest

from diffchat.errors import InvalidInput, ModelLoadError
from diffchat.scoring import ci
from diffchat.scoring.ci import ci_score, keyword_match, keywords, lemma_set


def test_keywords_are_lemmas_of_content_words():
    kws = keywords("Two red cats sitting on the wooden chairs, highly detailed")
    assert kws[:3] == ["red", "cat", "sit"]
    assert "chair" in kws and "wooden" in kws
    assert not {"the", "on", "two", "highly"} & set(kws)
    assert keywords("the of and") == [] and keywords("") == []


def test_keyword_match_by_lemma_and_synonym():
    assert keyword_match("car", lemma_set("an automobile on the road"))
    assert keyword_match("cat", lemma_set("three cats"))
    assert not keyword_match("car", lemma_set("a bicycle on the road"))


def test_perfect_prediction_scores_one_and_empty_scores_zero():
    src, ins, ref = "a cat on a sofa", "give the cat a hat", "a cat wearing a hat on a sofa"
    assert ci_score(src, ins, ref, ref) == 1.0
    assert ci_score(src, ins, ref, "") == 0.0
    assert ci_score(src, ins, ref, "a dog in a garden") == 0.0


def test_instructed_new_keyword_counts_double():
    src, ins, ref = "a cat on a sofa", "give the cat a hat", "a cat wearing a hat on a sofa"
    kws = keywords(ref)
    assert set(kws) == {"cat", "wear", "hat", "sofa"}
    # hat is new and instructed: weight 2 of 4 keywords; sofa is old: weight 1
    assert ci_score(src, ins, ref, "a hat") == pytest.approx(2 / 4)
    assert ci_score(src, ins, ref, "a sofa") == pytest.approx(1 / 4)
    # the unchanged source keeps cat + sofa only
    assert ci_score(src, ins, ref, src) == pytest.approx(2 / 4)
    # matching by synonym: "couch" for sofa
    assert ci_score(src, ins, ref, "a cat with a hat on a couch") == 1.0  # 1 + 2 + 1 = 4/4, capped
    assert ci_score(src, ins, ref, "a cat with a hat") == pytest.approx(3 / 4)


def test_score_is_capped_at_one():
    # all four keywords new and instructed (weight 2): all found = 8/4 -> capped to 1; half found = 4/4
    ref = "a red hat and blue scarf"
    assert ci_score("a portrait", "add a red hat and a blue scarf", ref, "red hat, blue scarf") == 1.0
    assert ci_score("a portrait", "add a red hat and a blue scarf", ref, "a red hat") == 1.0
    assert ci_score("a portrait", "add a red hat and a blue scarf", ref, "a hat") == pytest.approx(2 / 4)


def test_reference_without_keywords_and_empty_reference():
    assert ci_score("x", "y", "the of and", "anything") == 1.0
    with pytest.raises(InvalidInput):
        ci_score("a cat", "add a hat", "  ", "a cat")


def test_missing_nltk_data_offline_gives_clear_error(monkeypatch, tmp_path):
    from diffchat import nltkdata

    def offline(*args, **kwargs):
        raise ValueError("Error loading: <urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk"))
    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(nltk, "download", offline)
    monkeypatch.setattr(nltkdata, "_failed", {})
    ci._tagger.cache_clear()
    ci._wordnet.cache_clear()
    try:
        with pytest.raises(ModelLoadError, match="averaged_perceptron_tagger_eng.*could not be downloaded"):
            ci._tagger()
        with pytest.raises(ModelLoadError, match="set NLTK_DATA to a folder that holds corpora/wordnet.zip"):
            ci._wordnet()
    finally:
        ci._tagger.cache_clear()
        ci._wordnet.cache_clear()
