"""ADM (action-space dynamic modification), negative side: hard negative target prompts.

A small share of target prompts (4 % in the paper) is perturbed at one keyword: the keyword is
removed (half the time) or replaced (the other half) by a word of the same part of speech, drawn
from the training vocabulary, that is not one of its WordNet synonyms. PPO appends these as extra
off-policy trajectories; their low reward teaches the policy what a lost or wrong keyword costs.

    sampler = NegativeSampler(target_prompts, rate=0.04, seed=0)
    for i, neg in sampler.sample(batch_targets, rng): ...

Needs the NLTK data the CI score needs (wordnet, averaged_perceptron_tagger_eng).
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from diffchat.errors import InvalidInput
from diffchat.scoring.ci import STOPWORDS, _tagged, synonyms

# Penn Treebank tags of the words we perturb: nouns, adjectives, verbs (the CI score's keywords).
KEYWORD_TAGS = ("NN", "JJ", "VB")


@dataclass(frozen=True)
class Negative:
    """One perturbed target prompt and what was done to it."""

    text: str
    op: str  # "remove" | "replace"
    word: str  # the keyword taken out (lowercase, as written)
    tag: str  # its Penn tag
    replacement: str | None = None


def _is_keyword(tok: str, tag: str, lemma: str) -> bool:
    return tag.startswith(KEYWORD_TAGS) and len(tok) > 2 and tok not in STOPWORDS and lemma not in STOPWORDS


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)  # "a , b" -> "a, b"
    text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)  # ", ," -> ","
    return re.sub(r"\s{2,}", " ", text).strip(" ,;:")


class NegativeSampler:
    """Makes hard negative target prompts from a training vocabulary (see the module docstring)."""

    def __init__(self, corpus: Iterable[str], rate: float = 0.04, remove_prob: float = 0.5, seed: int = 0):
        if not 0.0 <= rate <= 1.0 or not 0.0 <= remove_prob <= 1.0:
            raise InvalidInput("The negative-sample rate and removal probability must be between 0 and 1.")
        self.rate, self.remove_prob = rate, remove_prob
        self.rng = random.Random(seed)
        vocab: dict[str, set[str]] = defaultdict(set)
        for text in corpus:
            for tok, tag, lemma in _tagged(text or ""):
                if _is_keyword(tok, tag, lemma):
                    vocab[tag].add(tok)
        # sorted lists: sampling is reproducible for a seed
        self.vocab: dict[str, list[str]] = {tag: sorted(words) for tag, words in vocab.items()}

    def replacements(self, word: str, tag: str, lemma: str | None = None) -> list[str]:
        """Vocabulary words with the same tag that are neither `word` nor a WordNet synonym of it."""
        banned = synonyms(word) | synonyms(lemma or word) | {word, lemma or word}
        return [w for w in self.vocab.get(tag, []) if w not in banned and word not in synonyms(w)]

    def perturb(self, text: str, rng: random.Random | None = None) -> Negative | None:
        """Remove or replace one keyword of `text`; None when it has no keyword."""
        rng = rng or self.rng
        keys = [(tok, tag, lemma) for tok, tag, lemma in _tagged(text) if _is_keyword(tok, tag, lemma)]
        if not keys:
            return None
        tok, tag, lemma = rng.choice(keys)
        pattern = re.compile(rf"\b{re.escape(tok)}\b", re.IGNORECASE)
        if rng.random() >= self.remove_prob:
            choices = self.replacements(tok, tag, lemma)
            if choices:
                new = rng.choice(choices)
                return Negative(pattern.sub(new, text, count=1), "replace", tok, tag, new)
        out = _tidy(pattern.sub("", text, count=1))
        return Negative(out, "remove", tok, tag) if out else None

    def sample(self, targets: list[str], rng: random.Random | None = None) -> list[tuple[int, Negative]]:
        """Each target becomes a negative with probability `rate`: [(index, Negative), ...]."""
        rng = rng or self.rng
        out = []
        for i, target in enumerate(targets):
            if rng.random() < self.rate:
                neg = self.perturb(target, rng)
                if neg is not None and neg.text.strip() and neg.text != target:
                    out.append((i, neg))
        return out
