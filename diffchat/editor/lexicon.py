"""What WordNet knows that the rule edits need: which words of a prompt are a kind of the thing the user
named ("no birds": the seagull), which are its kin ("make it a husky": the golden retriever is a dog too),
and which capitalised words are places ("move it to Seoul": Tokyo goes). Optional: without the NLTK data
every function answers "nothing found" and the rules leave such edits to the models."""
from __future__ import annotations

import logging
import threading
from functools import lru_cache

log = logging.getLogger(__name__)
_lock = threading.Lock()
_state: dict[str, object] = {}


def wordnet():
    """NLTK's WordNet reader, loaded once (about 3 s); None when the data cannot be had."""
    with _lock:
        if "wn" not in _state:
            try:
                from ..nltkdata import ensure
                ensure("wordnet")
                from nltk.corpus import wordnet as wn
                wn.ensure_loaded()
                _state["wn"] = wn
            except Exception as e:  # noqa: BLE001 - offline without data: the rules go on without it
                log.info("WordNet unavailable for rule edits (%s)", e)
                _state["wn"] = None
        return _state["wn"]


def tagger():
    """NLTK's English perceptron tagger, loaded once; None when the data cannot be had (the invariants,
    invariants.py, then check nothing)."""
    with _lock:
        if "tagger" not in _state:
            try:
                from ..scoring.ci import _tagger
                _state["tagger"] = _tagger()
            except Exception as e:  # noqa: BLE001 - offline without data: the editor goes on without it
                log.warning("DiffChat: the POS tagger is unavailable, so candidate edits are not checked (%s)", e)
                _state["tagger"] = None
        return _state["tagger"]


def cache_clear() -> None:
    """Forget every answer (after WordNet was swapped or removed, as tests do)."""
    _state.pop("tagger", None)
    for f in (_nouns, _synset_ancestors, _ancestors, is_word, is_name, is_named_thing, is_noun_only, _places,
              is_place_name):
        f.cache_clear()


def warm_up() -> None:
    """Load WordNet in the background so the first edit that needs it does not wait."""
    threading.Thread(target=wordnet, daemon=True).start()


@lru_cache(maxsize=4096)
def _nouns(word: str) -> tuple:
    wn = wordnet()
    if wn is None or not word.isascii():
        return ()
    # common nouns only: "Yosemite" (an instance of a waterfall) is a name, not a kind of thing
    return tuple(s for s in wn.synsets(word.lower().replace(" ", "_"), "n")[:4] if not s.instance_hypernyms())


def _up(synset) -> list:
    return synset.hypernyms() + synset.instance_hypernyms()


@lru_cache(maxsize=8192)
def _synset_ancestors(synset) -> frozenset:
    """Every kind the synset is (or, for a name like Tokyo, is an instance of), transitively."""
    return frozenset(synset.closure(_up))


@lru_cache(maxsize=4096)
def _ancestors(word: str) -> frozenset:
    return frozenset().union(*(_synset_ancestors(s) for s in _nouns(word)))


# categories too broad to make two words kin ("a dog and a cat are both animals": not the same thing)
_BROAD = frozenset("""entity physical_entity abstraction object whole artifact living_thing organism being
causal_agent animal chordate vertebrate mammal placental person adult matter substance thing unit
instrumentality device container structure location region area group event act food activity
geographical_area humanistic_discipline discipline knowledge_domain content communication attribute state relation
measure psychological_feature""".split())


@lru_cache(maxsize=4096)
def is_word(word: str) -> bool:
    """Does WordNet know the word (any part of speech)? False without WordNet."""
    wn = wordnet()
    return bool(wn is not None and word.isascii() and wn.synsets(word.lower()))


@lru_cache(maxsize=4096)
def is_name(word: str) -> bool:
    """A word that only names someone or something ('Launt', 'Monet', 'Sargent'): unknown to WordNet or
    known only as an instance. False without WordNet."""
    wn = wordnet()
    if wn is None or not word.isascii() or not word.isalpha():
        return False
    found = wn.synsets(word.lower())
    return not found or all(s.pos() == "n" and s.instance_hypernyms() for s in found)


@lru_cache(maxsize=4096)
def is_named_thing(words: str) -> bool:
    """'Golden Gate', 'White House', 'Red Square': a name WordNet knows (an instance), not a colour and a noun."""
    wn = wordnet()
    return bool(wn is not None and words.isascii() and any(
        s.instance_hypernyms() for s in wn.synsets(words.lower().replace(" ", "_"), "n")))


@lru_cache(maxsize=4096)
def is_noun_only(word: str) -> bool:
    """'ramen', 'coffee': a noun WordNet knows, never an adjective ('vintage', 'wooden' are)."""
    wn = wordnet()
    if wn is None or not word.isascii() or not word.isalpha():
        return False
    found = wn.synsets(word.lower())
    return all(s.pos() == "n" for s in found) and (bool(found) or word.islower())  # unknown "ramen": a noun


def is_kind_of(word: str, category: str) -> bool:
    """'seagull' is a kind of 'bird'; 'pigeons' of 'birds'."""
    cats = set(_nouns(category))
    return bool(cats) and word.lower() != category.lower() and bool(cats & _ancestors(word))


def kin(word: str, other: str, distance: int = 5) -> bool:
    """Two nouns with a close common kind ('husky' and 'retriever': dog; 'goats' and 'sheep': bovid;
    'lady' and 'girl': woman), not merely both animals or objects."""
    if word.lower() == other.lower():
        return False
    for a in _nouns(word)[:2]:
        for b in _nouns(other)[:2]:
            for common in a.lowest_common_hypernyms(b):
                name = common.name().split(".")[0]
                if common in (a, b) or name in _BROAD:
                    continue
                if a.shortest_path_distance(b) is not None and a.shortest_path_distance(b) <= distance:
                    return True
    return False


def is_person(word: str) -> bool:
    """'lady', 'fisherman', 'villain': a kind of person (by the word's first sense: not 'town')."""
    wn = wordnet()
    first = _nouns(word)[:1]
    return bool(wn is not None and first and wn.synset("person.n.01") in _synset_ancestors(first[0]))


@lru_cache(maxsize=1)
def _places() -> frozenset:
    wn = wordnet()
    return frozenset(wn.synset(n) for n in ("location.n.01", "geological_formation.n.01", "body_of_water.n.01",
                                            "land.n.04"))


@lru_cache(maxsize=8192)
def is_place_name(words: str, strict: bool = False) -> bool:
    """A named place WordNet knows ('Tokyo', 'New York', 'Sahara', 'Iceland')."""
    if words.islower():
        words = words.title()  # "in london" in a prompt written in lower case
    wn = wordnet()
    if wn is None:
        return False
    if strict and " " not in words and any(s.pos() in "avsr" for s in wn.synsets(words.lower())):
        return False  # in a prompt, also an everyday word: "Red" (the Red River), "Reading", "Nice"
    return words.isascii() and any(s.instance_hypernyms() and _places() & _synset_ancestors(s)
                                   for s in wn.synsets(words.lower().replace(" ", "_"), "n")[:4])
