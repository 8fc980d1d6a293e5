"""Content-integrity (CI) score of the DiffChat paper (its Listing 1), on NLTK + WordNet.

The keywords of the reference target prompt (lemmas of its nouns, adjectives and verbs, stop
words removed) are looked up in the predicted prompt, by lemma or by WordNet synonym. A keyword
that is new in the target (absent from the source prompt) and named by the instruction is the
point of the edit, so finding it counts double:

    ci = min(1, sum(w_k for matched keywords k) / number of keywords),  w_k = 2 or 1

A reference with no keywords scores 1 (nothing can be lost). Thresholding (the paper's CI reward
is 1 above a threshold) is left to the caller.

NLTK data needed: `wordnet` and `averaged_perceptron_tagger_eng`, fetched on first use
(diffchat/nltkdata.py; NLTK_DATA is honoured).
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..errors import InvalidInput
from ..nltkdata import ensure as ensure_nltk

# Closed-class and filler words that never count as content (NLTK's English list, trimmed,
# plus auxiliaries and prompt filler). Kept here so no `stopwords` corpus download is needed.
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren as at be because been before being
below between both but by can cannot could couldn did didn do does doesn doing don down during
each few for from further had hadn has hasn have haven having he her here hers herself him
himself his how i if in into is isn it its itself just ll me more most mustn my myself needn no
nor not now of off on once only or other our ours ourselves out over own re same shan she
should shouldn so some such than that the their theirs them themselves then there these they
this those through to too under until up ve very was wasn we were weren what when where which
while who whom why will with won would wouldn you your yours yourself yourselves get got make
made let lets s t d m o y also gets getting
""".split())

CONTENT_TAGS = ("NN", "JJ", "VB")  # nouns, adjectives, verbs (Penn Treebank prefixes)
_WN_POS = {"N": "n", "J": "a", "V": "v", "R": "r"}
_TOKEN = re.compile(r"[a-z]+")
@lru_cache(maxsize=1)
def _tagger():
    from nltk.tag.perceptron import PerceptronTagger

    ensure_nltk("averaged_perceptron_tagger_eng")
    return PerceptronTagger(lang="eng")


@lru_cache(maxsize=1)
def _wordnet():
    from nltk.corpus import wordnet
    from nltk.stem import WordNetLemmatizer

    ensure_nltk("wordnet")
    wordnet.synsets("dog")  # load now, not in the middle of scoring
    return wordnet, WordNetLemmatizer()


@lru_cache(maxsize=65536)
def _lemma(word: str, pos: str) -> str:
    return _wordnet()[1].lemmatize(word, pos)


@lru_cache(maxsize=65536)
def synonyms(word: str) -> frozenset[str]:
    """Every WordNet lemma name sharing a synset with `word` (lowercased, '_' -> ' ')."""
    wn = _wordnet()[0]
    return frozenset(n.lower().replace("_", " ") for s in wn.synsets(word) for n in s.lemma_names())


@lru_cache(maxsize=8192)
def _tagged(text: str) -> tuple[tuple[str, str, str], ...]:
    """(token, Penn tag, lemma) for every alphabetic token of `text`."""
    tokens = _TOKEN.findall(text.lower())
    if not tokens:
        return ()
    out = []
    for tok, tag in _tagger().tag(tokens):
        pos = _WN_POS.get(tag[:1], "n")
        out.append((tok, tag, _lemma(tok, pos)))
    return tuple(out)


def keywords(text: str) -> list[str]:
    """Lowercased lemmas of the content words (nouns, adjectives, verbs) of `text`, in order, unique."""
    seen: dict[str, None] = {}
    for tok, tag, lemma in _tagged(text):
        if tag.startswith(CONTENT_TAGS) and len(tok) > 1 and tok not in STOPWORDS and lemma not in STOPWORDS:
            seen.setdefault(lemma)
    return list(seen)


def lemma_set(text: str) -> frozenset[str]:
    """Every token of `text`, its lemma for its tag, and its noun lemma: what keywords are matched against."""
    out = set()
    for tok, _, lemma in _tagged(text):
        out.update((tok, lemma, _lemma(tok, "n")))
    return frozenset(out)


def keyword_match(word: str, lemmas: frozenset[str] | set[str]) -> bool:
    """True when `word` or one of its WordNet synonyms is in `lemmas`."""
    return word in lemmas or not synonyms(word).isdisjoint(lemmas)


def ci_score(source: str, instruction: str, reference: str, prediction: str) -> float:
    """Content integrity of `prediction` against the `reference` target prompt, in [0, 1]."""
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInput("The reference target prompt is empty: the CI score needs one to compare with.")
    kws = keywords(reference)
    if not kws:
        return 1.0
    src, ins, pred = lemma_set(source or ""), lemma_set(instruction or ""), lemma_set(prediction or "")
    total = 0
    for k in kws:
        if keyword_match(k, pred):
            total += 2 if (not keyword_match(k, src) and keyword_match(k, ins)) else 1
    return min(1.0, total / len(kws))
