"""Invariants every candidate edit must keep, whatever proposed it (a rule, the script model, the rewrite
model, a future model).

    from diffchat.editor.invariants import check
    check("a lion resting in tall grass", "make the lion a cub", "a cub resting in tall grass")
    # [Violation(name='subject_lost', severe=True, detail='lion')]: a lion cub is asked for (repair() writes it)

The checks read a parse of the prompts' words (NLTK's perceptron tagger: nouns are NN*), not one
pattern per phrasing:

    subject_lost       the prompt's subject (its first noun) is gone, and the instruction neither replaces
                       nor removes it nor swaps it for one of its kind ("make him a girl")      severe
    nouns_lost         other nouns the instruction does not touch are gone: half of them or more is severe
    attribute_misplaced "make the umbrella blue": blue is not on the umbrella (on a neighbour, or the
                       umbrella itself gone) is severe; written after it ("umbrella blue") is mild
    attribute_kept     the umbrella's old colour is still on it beside the new one             mild
    content_missing    the new thing the instruction names is not there: none of it is severe
                       ("put the Eiffel tower in the distance" -> only "in the distance"), some of it mild
    removed_kept       "no goggles", and the goggles are all still there: severe; said "without goggles", mild
                       (a text-to-image model draws what a prompt negates)
    request_words      words of the request itself pasted in ("can you", "instead", "a bit", "like 15")
    dangling           a word left without what it leads: "bowl of on a table", a trailing "with"    mild
    duplicated         a noun said more often than the prompt and the instruction say it   mild

`check` returns the violations; rerank.py ranks candidates by them (any severe one loses to every
candidate without) and declines when every candidate breaks a severe one. The thresholds were set on
4 815 judged candidates of earlier rounds (see `calibrate`): the human references break a severe check
rarely, failed edits often.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from . import lexicon
from .scene import MOODS
from .direct import (DETERMINERS, AGES, tidy, COLORS, CONDITIONS, LENGTHS, MATERIALS, MEDIUM_HEADS, SEASONS, SIZES, TIMES, WEATHER,
                     normalise, plural_of, stem)

ATTRIBUTES = {"color": COLORS, "size": SIZES, "age": AGES, "material": MATERIALS, "condition": CONDITIONS,
              "length": LENGTHS}
_ATTRIBUTE_WORDS = frozenset().union(*ATTRIBUTES.values())
# Nouns that name the picture, not a thing in it: the first noun after them is the subject.
_FRAME = frozenset("""photo photograph photography picture image pic shot snapshot portrait closeup close-up view
painting illustration drawing sketch render rendering art artwork poster wallpaper print stock scene still
version style background foreground detail details quality masterpiece hd 4k 8k k resolution cover concept
vector clipart clip stock royalty free panorama footage canvas acrylic gelatin oil pencil ink charcoal
watercolor watercolour gouache pastel paper board panel linen film camera lens""".split()) | MEDIUM_HEADS
# Words of a scene's time, weather, season and light: an edit of one of these may clear the others.
_SCENE = (frozenset(TIMES) | frozenset(SEASONS) | frozenset(WEATHER) | frozenset(w for v in WEATHER.values() for w in v)
          | frozenset("""day night sun sunlight moonlight moon stars star sky clouds cloud light lighting shadows
          shadow rainbow snowflakes puddles puddle leaves foliage blossoms blossom flowers bloom lightning thunder
          thunderstorm weather season time mood atmosphere glow sunshine rays haze aurora lanterns lights""".split())
          | frozenset(w for words in MOODS.values() for w in words.split()))
# Nouns an instruction uses about the edit itself, never content to add.
_ABSTRACT = frozenset("""mood atmosphere vibe vibes feel feeling look style tone version way bit lot kind sort thing
things one ones color colour colors colours scene image picture photo time something everything nothing
anything rest side left right top bottom middle center centre front back distance background foreground
instead place setting theme shade hue texture lighting light part pls plz please lol idk size age couple pair
bunch lot lots group few dozen number sit stand drama paint insert put view shot angle closeup close""".split())
_GENDER = {"woman": "female", "women": "female", "girl": "female", "lady": "female", "man": "male", "men": "male",
           "boy": "male", "guy": "male"}
REQUEST_WORDS = frozenset("""can could would you u please pls plz instead want wanna i me let lets let's should
make makes turn change add remove replace swap delete erase actually hmm hmmm ok okay bit maybe try""".split())
_PLACE = frozenset("""in on at under behind near beside next above below over into onto inside outside across along
around through between among against than by from of for with without""".split())
_COMMANDS = frozenset("""make paint colour color turn change add put place insert give have get set move swap
replace remove delete erase drop lose take show let include""".split())
_SOMEONE = frozenset("people person everyone everybody someone somebody friend friends crowd folks".split())
_PRONOUN = frozenset("him her them it they he she his its their".split())
_GONE = [  # what an instruction replaces or removes (its object)
    re.compile(r"\b(?:turn|change|convert|transform|make)\s+(?:the\s+|a\s+|an\s+|his\s+|her\s+|their\s+)?(.+?)\s+"
               r"(?:into|to|in)\b"),
    re.compile(r"\b(?:replace|swap|switch|trade|exchange)\s+(?:out\s+)?(?:the\s+|a\s+|an\s+)?(.+?)\s+"
               r"(?:with|for|by|to)\b"),
    re.compile(r"\binstead\s+of\s+(?:the\s+|a\s+|an\s+)?(.+)$"),
    re.compile(r"\b(?:rather|not)\s+(?:than\s+)?(?:the\s+|a\s+|an\s+)?([a-z]+(?:\s[a-z]+)?)$"),
    re.compile(r"^(?:the\s+)?([a-z]+(?:\s[a-z]+)?)\s+(?:to|->|→|=>|becomes?|is now|are now)\s"),
    re.compile(r"\b(?:remove|delete|erase|get\s+rid\s+of|take\s+out|take\s+away|take\s+off|without|no|lose|drop|"
               r"hide|minus|cut|ditch|shave)\s+(?:the\s+|a\s+|an\s+|all\s+|his\s+|her\s+|their\s+)?(.+)$"),
    re.compile(r"\bmake\s+(?:the\s+|his\s+|her\s+|their\s+)?([a-z]+)\s+(?:an?|into)\s"),  # "make the cat a dog"
]
_REMOVE = re.compile(r"\b(?:remove|delete|erase|get\s+rid\s+of|take\s+out|take\s+away|take\s+off|without|no|no\s+more|"
                     r"lose|drop|ditch|shave\s+off|shave|cut\s+out|minus)\s+(?:the\s+|a\s+|an\s+|all\s+(?:the\s+)?|his\s+|"
                     r"her\s+|their\s+|its\s+|any\s+)?(.+)$")
_YOUNG = re.compile(r"\bmake\s+(?:the\s+|his\s+|her\s+|their\s+)?([a-z]+)\s+(?:an?\s+)?(?:baby\s+|little\s+|young\s+)?"
                    r"([a-z]+)\b")  # "make the lion a cub"
_PARTIAL = re.compile(r"\b(?:one|some|half|few|fewer|less|only|just|most|two|three|several|but|except|keep|leave)\b")
_ATTRIBUTE_ASKS = [re.compile(  # "make the umbrella blue", "paint his car bright red", "the dress should be gold"
    r"^(?:make|paint|colou?r|turn|change|dye|have|get|give)?\s*(?:the|his|her|their|its|my|that|this)\s+"
    rf"([a-z][a-z-]*{two})(?:'s)?\s+(?:(?:to|into|be|should be|is|are|look|looks|all)\s+)?"
    r"((?:(?:more|very|really|super|bright|dark|light|pale|deep)\s+)?[a-z-]+)\b", re.I)
    for two in (r"(?:\s(?!(?:to|into|be|should|is|are|look|looks|all)\b)[a-z][a-z-]*)", "")]
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]*|\d+")  # "snow-covered-cabin": snow, covered, cabin
_FORMS = ("er", "est", "r", "st", "y", "ful", "ed", "d", "ing", "ly", "en", "n", "ish", "ern", "tic", "ic", "al",
          "ous", "e", "es")
_PARTICLES = frozenset("van de von da del la le der den di du".split())  # "Jan van Goyen"


@dataclass(frozen=True)
class Violation:
    name: str
    severe: bool
    detail: str = ""


@lru_cache(maxsize=16384)
def _parse(text: str) -> tuple[tuple[str, str, str], ...]:
    """(word, Penn tag, stem) for every word of `text`, lower case. Tagged in lower case, as the CI score
    does: title-like prompts capitalise every word, which would make every word a proper noun."""
    words = [w.strip("'’").lower() for w in _TOKEN.findall(text)]
    words = [w for w in words if w]
    if not words:
        return ()
    tagged = lexicon.tagger().tag(words)
    return tuple((w, tag, stem(w)) for w, tag in tagged)


@lru_cache(maxsize=16384)
def _capitalised(text: str) -> frozenset[str]:
    """The words `text` writes with a capital past its first word (names, places, titles)."""
    words = [w.strip("'’") for w in _TOKEN.findall(text)]
    return frozenset(w.lower() for w in words[1:] if w[:1].isupper())


def _is_noun(word: str, tag: str) -> bool:
    return (tag.startswith("NN") and len(word) > 1 and word not in _ATTRIBUTE_WORDS and word not in REQUEST_WORDS
            and word not in _PARTICLES and not word.isdigit())


def _synonyms(word: str) -> frozenset[str]:
    from ..scoring.ci import synonyms

    try:
        return frozenset(stem(w) for w in synonyms(word) if " " not in w)
    except Exception:  # noqa: BLE001 - without WordNet: the word itself
        return frozenset()


def _there(word: str, stems: set[str]) -> bool:
    """`word` in `stems`: as another form of it, a synonym ("bike": bicycle), the head of a compound
    ("fisherwoman": woman), "female" for "woman", or misspelled ("thunderstrom": thunderstorm)."""
    if said(word, stems) or not _synonyms(word).isdisjoint(stems) or _GENDER.get(word) in stems:
        return True
    if len(word) >= 4 and any(len(w) > len(word) + 2 and w.endswith(word) for w in stems):
        return True
    if word in _SOMEONE and any(lexicon.is_person(w) for w in stems if len(w) > 2):
        return True
    if any(h in stems or lexicon.is_kind_of(w, h) for w in stems if len(w) > 2 for h in _hypernyms(word)):
        return True  # "add its mom": mother
    return len(word) >= 6 and bool(difflib.get_close_matches(word, [w for w in stems if len(w) >= 5], n=1, cutoff=0.8))


def nouns(text: str) -> list[str]:
    """The stems of the nouns of `text`, in order."""
    return [s for w, tag, s in _parse(text) if _is_noun(w, tag)]


def _stems(text: str) -> set[str]:
    return {s for _, _, s in _parse(text)} | {w for w, _, _ in _parse(text)}


def said(word: str, stems: set[str]) -> bool:
    """Is `word` there, as written or as another form of it (young-er, snow-y, gold-en, autumn-al)?"""
    def form(a: str, b: str) -> bool:
        return len(b) >= 3 and a.startswith(b) and a[len(b):] in _FORMS
    return word in stems or any(form(w, word) or form(word, w) for w in stems)


@dataclass
class Ask:
    """What an instruction asks, as the invariants need it."""
    text: str                 # normalised, lower case
    words: set[str]           # every stem and word of it
    gone: set[str]            # stems it replaces or removes
    nouns: list[str]          # its nouns' stems
    things: list[str]         # the nouns of what it adds (not of a place phrase, not abstract)
    target: str | None        # "make the umbrella blue": umbrella
    attribute: str | None     # ... blue
    attribute_phrase: str | None  # ... "bright red" for "make the car bright red"
    scene: bool               # about the time, weather, season, light or mood
    style: bool               # about the medium, style or artist
    refers: bool              # names a thing of the prompt or points at one (him, her, it)
    adds: bool                # adds or substitutes a thing ("add", "put", "give", "X instead", "turn into")
    removed: set[str]         # the nouns' stems of what it removes outright ("no goggles"; not "one of the men")
    pronoun: bool             # points at a thing without naming it ("make them kittens")
    young: str | None = None  # "make the lion a cub": the animal stays (a lion cub), its young is asked for


@lru_cache(maxsize=4096)
def ask(instruction: str) -> Ask:
    text = normalise(instruction).lower()
    text = re.sub(r"\b(?:can|could|would|will) (?:you|u)\b|\bplease\b|\bpls\b|\bplz\b", " ", text)
    text = " ".join(text.split())
    parsed = _parse(text)
    gone: set[str] = set()
    young = None
    m = _YOUNG.search(text)
    if m and m.group(1) not in _PRONOUN and lexicon.is_kind_of(m.group(2), "young") \
            and not lexicon.is_kind_of(m.group(2), m.group(1)):  # a puppy is a dog already
        young = stem(m.group(1))  # a cub, a foal, a puppy: the young of the named animal, not another animal
    for pattern in _GONE:
        m = pattern.search(text)
        if m:
            gone |= {s for w, tag, s in _parse(m.group(1)) if w not in _PRONOUN and s != young}
    things, place = [], False
    for k, (w, tag, s) in enumerate(parsed):
        if k == 0 and (tag.startswith("VB") or w in _COMMANDS):
            continue  # the command's verb, whatever the tagger says ("paint it pink")
        if w in _PLACE:
            place = True
        elif tag.startswith("VB") and w not in ("add", "put", "give", "include", "show"):
            place = False
        if (_is_noun(w, tag) and not place and s not in gone and w not in _ABSTRACT and s not in _ABSTRACT
                and not w.endswith("ing") and _noun_first(w)):
            things.append(s)
    target = attribute = phrase = None
    for pattern in _ATTRIBUTE_ASKS:  # "the hot air balloon red", then "the umbrella blue instead"
        m = pattern.match(text)
        if not m:
            continue
        head = m.group(1).split()[-1]
        word = m.group(2).split()[-1]
        if word in _ATTRIBUTE_WORDS and head not in _PRONOUN and head not in _ABSTRACT and head not in _ATTRIBUTE_WORDS:
            target, attribute, phrase = stem(head), word, m.group(2)
            break
    words = {s for _, _, s in parsed} | {w for w, _, _ in parsed}
    scene = bool(words & _SCENE) or bool(re.search(r"\b(?:mood|feel|vibe|atmosphere|spooky|creepy|cheerful|cozy|"
                                                   r"dramatic|gloomy|happy|sad|calm|lighten|darker|brighter)\b", text))
    style = bool(words & MEDIUM_HEADS) or bool(re.search(r"\b(?:by|style|artist|photographer|painted|drawn|"
                                                         r"look like|as an?|lego|cartoon|anime|colou?r it|"
                                                         r"in colou?r|black and white|monochrome)\b", text))
    nouns_ = [s for w, tag, s in parsed if _is_noun(w, tag)]
    refers = bool(words & _PRONOUN) or bool(nouns_)
    adds = bool(re.match(r"(?:add|put|place|insert|include|give|with|replace|swap|switch|turn|change)\b", text)) or \
        bool(re.search(r"\binstead\b|\binto\b", text))
    pronoun = bool(re.search(r"\b(?:it|them|him|her|they|he|she|everyone|everybody|all)\b", text))
    removed: set[str] = set()
    m = _REMOVE.search(text)
    if m and not _PARTIAL.search(text):
        phrase = re.split(r"\s+(?:and|but|then|,)\s+|,", m.group(1))[0]  # "no rain and make it sunny": rain
        place = False
        for w, tag, st in _parse(phrase):
            place = place or w in _PLACE
            if not place and _is_noun(w, tag) and w not in _ABSTRACT and w not in _PRONOUN:
                removed.add(st)
    return Ask(text, words, gone, nouns_, things, target, attribute, phrase, scene, style, refers, adds, removed,
               pronoun, young)


@lru_cache(maxsize=4096)
def _hypernyms(word: str) -> tuple[str, ...]:
    """The names of the direct kinds of `word`'s first noun sense ("mom": mother)."""
    wn = lexicon.wordnet()
    found = wn.synsets(word, "n")[:1] if wn is not None else []
    return tuple(h.name().split(".")[0] for s in found for h in s.hypernyms())


def _noun_first(word: str) -> bool:
    """WordNet knows `word` as a noun first (not 'sitting', 'hes'); unknown words count as nouns."""
    wn = lexicon.wordnet()
    if wn is None:
        return True
    found = wn.synsets(word)
    return not found or found[0].pos() == "n"


def _subject(source: list[tuple[str, str, str]]) -> int | None:
    """The index of the prompt's subject: the head (last noun) of its first run of nouns that does not
    name the picture itself ("pencil sketch of a ballerina": ballerina; "Homemade apple pie": pie)."""
    k, n = 0, len(source)
    while k < n:
        w, tag, s = source[k]
        if _is_noun(w, tag):
            j = k
            while j + 1 < n and _is_noun(*source[j + 1][:2]):
                j += 1
            while j > k and not _noun_first(source[j][0]):
                j -= 1  # "Lionel Messi celebrates": not the verb
            head = source[j]
            if head[0] not in _FRAME and head[2] not in _FRAME and not head[1].startswith("NNP"):
                return j
            k = j + 1
            continue
        if w in ("by", "with") and k > 0 or tag.startswith("VB") and k > 0:
            return None  # "Photo by ...", "Labrador puppy chewing": no plain subject before the credit or verb
        k += 1
    return None


def _is_name(text: str, word: str) -> bool:
    """Is `word` written in `text` as part of a name: capitalised and not an everyday word, or beside
    another capitalised word ("Gustav Klimt", "Serena Williams", "Jan van Goyen")?"""
    words = [w.strip("'’") for w in _TOKEN.findall(text)]
    for k, w in enumerate(words):
        if stem(w) == word and w[:1].isupper():
            near = [words[j] for j in (k - 1, k + 1) if 0 <= j < len(words)]
            if not lexicon.is_word(w) or any(n[:1].isupper() and n.lower() not in DETERMINERS for n in near) and \
                    not text.istitle():
                return True
    return False


def _np_run(source, k: int) -> set[str]:
    """The stems of the run of nouns that ends at index k ("coffee cup": coffee, cup)."""
    out = {source[k][2]}
    j = k - 1
    while j >= 0 and _is_noun(*source[j][:2]):
        out.add(source[j][2])
        j -= 1
    return out


def _exempt(word: str, a: Ask, capitalised: frozenset[str]) -> bool:
    """Nouns an edit of this kind may rightly drop: what it replaces or removes (or a kind of it: "no
    people" takes the tourists), a medium or credit when the style changes, the scene's words when the
    scene changes, a name or place when the place or style changes."""
    if word in a.gone or word in _FRAME and a.style or word in _SCENE and (a.scene or a.style):
        return True
    if any(lexicon.is_kind_of(word, g) or g in _SOMEONE and lexicon.is_person(word) for g in a.gone if len(g) > 2):
        return True
    if word in capitalised and (a.style or a.adds or re.search(r"\b(?:move|relocate|set|place|in|on|at|to)\b", a.text)):
        return True
    return word in _ABSTRACT


def _swapped_for_kin(lost: str, candidate_nouns: set[str], source_nouns: set[str]) -> bool:
    """The lost noun became one of its kind ("boy" -> "teenager", "lion" -> "cub")."""
    for n in candidate_nouns - source_nouns:
        if lexicon.is_person(lost) and lexicon.is_person(n) or lexicon.kin(lost, n):
            return True
    return False


def check(source: str, instruction: str, candidate: str) -> list[Violation]:
    """The invariants `candidate` breaks as an edit of `source` by `instruction` (empty: none)."""
    if lexicon.tagger() is None:
        return []
    a = ask(instruction)
    src, cand = _parse(source), _parse(candidate)
    cand_stems = _stems(candidate)
    src_nouns = [s for w, tag, s in src if _is_noun(w, tag)]
    cand_nouns = {s for w, tag, s in cand if _is_noun(w, tag)}
    out: list[Violation] = []
    capitalised = _capitalised(source)

    # 1. the subject and the untouched nouns survive
    subject = _subject(list(src))
    subj = src[subject][2] if subject is not None else None
    lost = [n for n in dict.fromkeys(src_nouns)
            if not said(n, cand_stems) and not _exempt(n, a, capitalised) and not said(n, a.words)]
    named_lost = [n for n in dict.fromkeys(src_nouns)
                  if not said(n, cand_stems) and said(n, a.words) and n not in a.gone]
    if subj and _is_name(source, subj):
        subj = None  # a name ("Zendaya in Valentino"): names change with credits and casts; nouns_lost has it
    run = _np_run(src, subject) | {src[subject + 1][2]} if subject is not None and subject + 1 < len(src) else \
        _np_run(src, subject) if subject is not None else set()
    if a.style and run & _FRAME:
        subj = None  # "drone shot" as pixel art
    if subj and subj in lost + named_lost and not run & a.gone and not _swapped_for_kin(subj, cand_nouns, set(src_nouns)):
        names_one = any(said(n, _stems(source)) for n in a.nouns)
        replaced = (a.pronoun or "instead" in a.words or not names_one) and a.things and \
            all(_there(t, cand_stems) for t in a.things)  # "make them kittens", "zebras instead"
        if not replaced and (subj in lost or a.target == subj or not a.gone):
            out.append(Violation("subject_lost", True, subj))  # "a cub resting": the lion is gone (repair mends it)
    others = [n for n in lost if n != subj]
    keepable = [n for n in dict.fromkeys(src_nouns) if not _exempt(n, a, capitalised) and not said(n, a.words)
                and n not in capitalised and n not in _FRAME]
    if others:
        plain = [n for n in lost if n in keepable]
        severe = len(keepable) >= 5 and len(plain) * 5 >= len(keepable) * 3  # three in five plain nouns gone
        out.append(Violation("nouns_lost", severe, ", ".join(others)))

    # 2. an attribute lands on the thing the instruction names
    if a.target and any(s == a.target for _, _, s in src):
        out.extend(_placement(src, cand, a))

    # 3. the new thing is all there
    src_stems = _stems(source)
    new = [t for t in dict.fromkeys(a.things) if not _there(t, src_stems) and len(t) > 2
           and not any(lexicon.is_kind_of(n, t) for n in src_nouns)]  # "make the fish gold" on koi
    if new:
        missing = [t for t in new if not _there(t, cand_stems)]
        if missing:
            whole = len(missing) == len(new) and a.adds and not a.style and not a.scene
            out.append(Violation("content_missing", whole, ", ".join(missing)))

    # 4. what it removes is gone
    src_counts = Counter(st for _, _, st in src)
    cand_counts = Counter(st for _, _, st in cand)
    removed = [n for n in a.removed if src_counts[n]]
    if removed and all(cand_counts[n] >= src_counts[n] for n in removed):
        negated = re.search(r"\b(?:no|without)\b", candidate, re.I) and not re.search(r"\b(?:no|without)\b", source, re.I)
        out.append(Violation("removed_kept", not negated, ", ".join(sorted(removed))))  # "without X" draws an X

    # 5. no words of the request itself
    src_words = {w for w, _, _ in src}
    pasted = sorted({w for w, _, _ in cand if w in REQUEST_WORDS and w not in src_words})
    if re.search(r"\blike\s+\d+\b", candidate, re.I) and not re.search(r"\blike\s+\d+\b", source, re.I):
        pasted.append("like N")
    if re.search(r"\ba (?:bit|little) (?:more|less|older|younger|bigger|smaller|[a-z]+er)\b", candidate.lower()):
        pasted.append("a bit")
    verb = _parse(a.text)[:1]
    if len(_parse(a.text)) >= 3 and verb and verb[0][1].startswith("VB") and verb[0][0] not in src_words and verb[0][0] in {w for w, _, _ in cand} \
            and not _noun_first(verb[0][0]):
        pasted.append(verb[0][0])  # "shave off the beard" -> "a white shave off beard"
    if pasted:
        out.append(Violation("request_words", False, ", ".join(dict.fromkeys(pasted))))

    # 6. no phrase left dangling ("bowl of on a marble table", "a girl with")
    dangling = _dangling(candidate) - _dangling(source)
    if dangling:
        out.append(Violation("dangling", False, ", ".join(sorted(dangling))))

    # 7. nothing said twice that was said once
    counts: dict[str, int] = {}
    for w, tag, s in cand:
        if _is_noun(w, tag) and w not in _FRAME:
            counts[s] = counts.get(s, 0) + 1
    doubled = [n for n, k in counts.items() if k > src_nouns.count(n) + a.nouns.count(n) and k > 1]
    if doubled:
        out.append(Violation("duplicated", False, ", ".join(doubled)))
    return out


_DANGLING = re.compile(r"\b(of|with|by|and|the|a|an)\s*(?=(?:[,;.|]|$|\b(?:on|in|at|under|with|of|by|from|into)\b))",
                       re.I)


def _dangling(text: str) -> set[str]:
    """The words of `text` left without what they lead ("of on", "with ,", a trailing "and")."""
    return {m.group(0).strip().lower() + " _" for m in _DANGLING.finditer(text)}


def _placement(src, cand, a: Ask) -> list[Violation]:
    """'make the umbrella blue': is blue on the umbrella, and its old colour gone?"""
    cls = next(c for c, words in ATTRIBUTES.items() if a.attribute in words)
    heads = [k for k, (_, _, s) in enumerate(cand) if s == a.target]
    attr = [k for k, (w, _, _) in enumerate(cand) if w == a.attribute or said(a.attribute, {w})]
    if not heads:
        return [Violation("attribute_misplaced", True, f"{a.target} gone")]
    if not attr:
        return []  # said another way ("in a golden suit"): the other checks judge it

    def before(k: int) -> bool:  # in the noun phrase of a head: only modifiers between
        for h in heads:
            if 0 < h - k <= 4 and all(cand[j][1].startswith(("JJ", "NN", "VBN", "VBG", "CC", "RB")) or
                                      cand[j][0] in _ATTRIBUTE_WORDS for j in range(k + 1, h)):
                return True
        return False

    def after(k: int) -> bool:  # "umbrella blue", "the umbrella is blue", "the suit in gold"
        return any(0 < k - h <= 3 and all(cand[j][0] in ("is", "are", "in", "of", "made", "all", "a", "bright", "dark",
                                                           "light", "pale", "deep", ",") or cand[j][0] in
                                          _ATTRIBUTE_WORDS for j in range(h + 1, k)) for h in heads)

    out = []
    if any(before(k) for k in attr):
        pass
    elif any(after(k) for k in attr):
        out.append(Violation("attribute_misplaced", False, f"{a.attribute} after {a.target}"))
    else:
        out.append(Violation("attribute_misplaced", True, f"{a.attribute} not on {a.target}"))
    old = {w for k, (w, _, _) in enumerate(src) for h in range(len(src)) if src[h][2] == a.target and 0 < h - k <= 3
           and w in ATTRIBUTES[cls] and w != a.attribute and w not in ("dark", "light", "bright", "pale", "deep")}
    kept = {w for k, (w, _, _) in enumerate(cand) for h in heads if abs(h - k) <= 3 and w in old}
    if kept:
        out.append(Violation("attribute_kept", False, ", ".join(sorted(kept))))
    return out


def severe(violations: list[Violation]) -> int:
    return sum(v.severe for v in violations)


def penalty(violations: list[Violation]) -> float:
    """What the verifier subtracts for mild violations (severe ones reject the candidate outright).
    nouns_lost costs nothing here: the verifier's own 'kept' share already counts the lost words, and on
    the judged candidates it flags 18 % of the human references."""
    return sum(MILD_COST.get(v.name, 0.5) for v in violations if not v.severe)


MILD_COST = {"nouns_lost": 0.0, "attribute_kept": 1.0, "request_words": 1.0, "removed_kept": 1.0, "attribute_misplaced": 0.5,
             "content_missing": 0.5, "duplicated": 0.5, "dangling": 1.0}


_WORD = re.compile(r"[A-Za-z0-9][\w'’]*(?:-[\w'’]+)*")
_LINK = frozenset("is are in of made all".split())


def repair(source: str, instruction: str, candidate: str) -> str | None:
    """The candidate with an attribute written after its thing moved in front of it, and the thing's old
    attribute of the same kind dropped: "a dog black with red eyes" -> "a black dog with red eyes", "a green
    umbrella blue" -> "a blue umbrella"; the young of the named animal written with the animal kept ("make
    the lion a cub" -> "a lion cub resting ..."). None when there is nothing to mend."""
    a = ask(instruction)
    if lexicon.tagger() is None:
        return None
    if a.young:
        return _young(source, instruction, candidate, a)
    if not a.target or not a.attribute_phrase:
        return None
    phrase = a.attribute_phrase.split()
    toks = list(_WORD.finditer(candidate))
    low = [t.group(0).lower() for t in toks]
    for h, tok in enumerate(toks):
        if stem(tok.group(0)) != a.target:
            continue
        k = h + 1
        while k < len(toks) and low[k] in _LINK and k - h <= 2:
            k += 1
        if low[k:k + len(phrase)] != phrase:
            continue
        end = toks[k + len(phrase) - 1].end()
        cls = next(c for c, words in ATTRIBUTES.items() if a.attribute in words)
        start = h
        while start > 0 and (low[start - 1] in _ATTRIBUTE_WORDS or
                             _is_noun(low[start - 1], _parse(low[start - 1])[0][1])) and h - start < 3:
            start -= 1  # the thing's modifiers: "green", "vintage", "hot air"
        mods = [toks[j].group(0) for j in range(start, h) if low[j] not in ATTRIBUTES[cls]]
        words = [*mods, a.attribute_phrase, tok.group(0)]
        mended = candidate[:toks[start].start()] + " ".join(words) + candidate[end:]
        return tidy(mended)
    return None


def _young(source: str, instruction: str, candidate: str, a: Ask) -> str | None:
    """"make the lion a cub": the source with its "lion" written "lion cub", when the candidate lost the lion."""
    if said(a.young, _stems(candidate)):
        return None
    young = _YOUNG.search(a.text).group(2)
    for tok in _WORD.finditer(source):
        word = tok.group(0)
        if word.lower() == a.young:  # "lion" -> "lion cub"
            return source[:tok.end()] + " " + young + source[tok.end():]
        if stem(word) == a.young and word.lower().startswith(a.young) and word.lower().endswith("s"):
            return source[:tok.start()] + word[:len(a.young)] + " " + plural_of(young) + source[tok.end():]  # lion cubs
    return None

