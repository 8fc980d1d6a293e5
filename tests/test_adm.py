"""ADM negative samples: removal / replacement, same part of speech, never a WordNet synonym, 4 % rate."""
import random
import re

import pytest

from diffchat.errors import InvalidInput
from diffchat.scoring.ci import _tagged, synonyms
from train.adm import NegativeSampler

CORPUS = [
    "a red car parked near a tall house",
    "an old automobile on a dusty road",
    "a small auto beside a green tree",
    "a happy dog running across a field",
    "a blue boat floating on a calm lake",
    "a cat sleeping under a wooden table",
]


@pytest.fixture(scope="module")
def sampler():
    return NegativeSampler(CORPUS, rate=0.04, seed=0)


def test_replacements_same_tag_and_never_synonyms(sampler):
    nouns = sampler.vocab["NN"]
    assert {"car", "automobile", "house", "tree"} <= set(nouns)
    options = sampler.replacements("car", "NN")
    assert "automobile" not in options and "auto" not in options and "car" not in options  # WordNet synonyms
    assert "house" in options and "tree" in options
    assert set(options) <= set(nouns)


def test_perturb_removes_or_replaces_one_keyword(sampler):
    text = "a red car parked near a tall house"
    ops = {"remove": 0, "replace": 0}
    for seed in range(200):
        neg = sampler.perturb(text, random.Random(seed))
        ops[neg.op] += 1
        words, new_words = text.split(), neg.text.split()
        assert neg.word in words
        if neg.op == "remove":
            assert len(new_words) == len(words) - 1 and neg.word not in new_words
        else:
            assert neg.replacement in sampler.vocab[neg.tag]  # same part of speech (Penn tag)
            assert neg.replacement not in synonyms(neg.word) and neg.word not in synonyms(neg.replacement)
            assert neg.replacement != neg.word
            assert len(new_words) == len(words)
            assert re.search(rf"\b{neg.replacement}\b", neg.text)
        tags = {tok: tag for tok, tag, _ in _tagged(text)}
        assert tags[neg.word] == neg.tag and neg.tag.startswith(("NN", "JJ", "VB"))
    assert 70 < ops["remove"] < 130 and 70 < ops["replace"] < 130  # 50 / 50


def test_removal_keeps_punctuation_tidy():
    s = NegativeSampler(["dog"], rate=1.0, remove_prob=1.0)
    neg = s.perturb("portrait, dog, oil painting", random.Random(1))
    assert neg.op == "remove"
    assert ", ," not in neg.text and not neg.text.startswith(",") and "  " not in neg.text


def test_rate_is_four_percent(sampler):
    targets = [CORPUS[i % len(CORPUS)] for i in range(5000)]
    picked = sampler.sample(targets, random.Random(0))
    assert 150 <= len(picked) <= 250  # 4 % of 5000 = 200
    assert all(neg.text != targets[i] for i, neg in picked)


def test_no_keyword_no_negative(sampler):
    assert sampler.perturb("of the and", random.Random(0)) is None
    assert sampler.sample(["of the and"] * 50, random.Random(0)) == []


def test_bad_rate():
    with pytest.raises(InvalidInput):
        NegativeSampler(CORPUS, rate=1.5)
