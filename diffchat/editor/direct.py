"""Direct edits: instructions whose meaning is plain, applied to the prompt by rule.

    remove / no / without / get rid of X     X's phrase deleted (its comma chunk, its "and X", its "with X")
    make the X red / out of stone            X's colour or material words replaced, the rest of X kept
    turn X into Y, replace X with Y, Y instead of X, swap X for Y
                                             X (with its clashing colour/material words) becomes Y
    make it winter / night / snowy           the season, time of day or weather replaced, else added
    by Monet instead, in the style of Monet  the "by ARTIST" part replaced
    as a pencil sketch, turn into stained glass
                                             the prompt's medium words become the new medium
    more dramatic, make it creepier          the mood said as a tag
    add X, a tiny hiker on the ridge         X added at the end of the subject part

Each rule finds what the instruction names in the prompt as words (singular or plural, any case, a
weather word in any of its forms: rain, rainy, raining, rain-soaked). When it cannot, it proposes
nothing, and the models' candidates stand alone. The rest of the prompt is kept character for
character. `direct_edits` returns the candidates with how sure the rule is; rerank.py weighs them with
the models' candidates.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from . import lexicon

RULES_VERSION = "13.1"  # the rules' version (eval/README.md); train/regress_rules.py checks every change

_WORD = re.compile(r"[A-Za-z0-9][\w'’]*(?:-[\w'’]+)*")
DETERMINERS = frozenset("a an the his her their its my your our some two three four several many".split())
PREPOSITIONS = frozenset("""of on in at by with and or to for from into onto over under above below behind beside
near next through along across around inside outside between against toward towards within without while
as like than under beneath underneath upon about after before during among amid""".split())
LEADS = frozenset("with wearing holding carrying featuring and plus beside near under".split())
COLORS = frozenset("""red orange yellow green blue purple violet pink black white grey gray brown beige teal
turquoise cyan magenta crimson scarlet navy maroon golden gold silver ivory emerald indigo lavender olive
amber dark light pale bright colorful colourful multicolored rainbow auburn blonde blond brunette ginger chestnut
platinum mustard burgundy coral mint peach cream tan khaki ochre lilac mauve fuchsia aqua cobalt sapphire ruby
sage""".split())
LENGTHS = frozenset("long short".split())
SIZES = frozenset("big small large tiny huge giant little massive enormous full".split())
AGES = frozenset("old young elderly aged youthful middle-aged".split())
NATIONS = frozenset("""american british english scottish irish welsh french german italian spanish portuguese dutch
belgian swiss austrian greek russian polish czech hungarian swedish norwegian danish finnish icelandic scandinavian
nordic japanese chinese korean thai vietnamese indian pakistani nepalese tibetan persian turkish arabic arabian
egyptian moroccan african kenyan nigerian ethiopian mexican guatemalan peruvian brazilian argentinian chilean
cuban canadian australian hawaiian mayan aztec inca roman victorian medieval""".split())
DESIGNS = frozenset("""gothic baroque rococo victorian modern contemporary minimalist minimal rustic industrial
scandinavian nordic mid-century bohemian boho futuristic retro vintage antique medieval farmhouse traditional zen
cyberpunk steampunk brutalist maximalist vaporwave synthwave 50s 60s 70s 80s 90s""".split())
CONDITIONS = frozenset("""shiny shining polished gleaming pristine spotless new brand-new rusty rusted worn weathered
broken abandoned dirty dusty ruined damaged decaying derelict dilapidated crumbling""".split())
HOLIDAY = (r"halloween|christmas(?: eve| day)?|xmas|easter|thanksgiving|new year'?s(?: eve| day)?|valentine'?s(?: day)?|"
           r"hanukkah|diwali|lunar new year|chinese new year|st\.? patrick'?s day|independence day|fourth of july|"
           r"4th of july|day of the dead|dia de los muertos")
_CLASSES = {"color": COLORS, "length": LENGTHS, "size": SIZES, "age": AGES, "nation": NATIONS, "condition": CONDITIONS}
_ADJECTIVE_ENDINGS = ("ent", "ant", "ous", "ful", "less", "ive", "ic", "al", "ish", "y", "ed", "est", "ible", "able")
MATERIALS = frozenset("""wooden wood stone marble glass metal metallic steel iron gold golden silver velvet leather
brick concrete plastic paper crystal ice bronze copper silk wool woolen cotton denim bamboo clay ceramic
porcelain chrome wicker straw stoneware oak walnut pine mahogany cast-iron slate granite terracotta resin rattan cork
felt brass pewter tin aluminum aluminium titanium""".split())
SEASONS = {"winter": "in winter", "summer": "in summer", "autumn": "in autumn", "fall": "in the fall",
           "spring": "in spring"}
TIMES = {"night": "at night", "nighttime": "at night", "midnight": "at midnight", "daytime": "during the day",
         "day": "during the day", "morning": "in the morning", "afternoon": "in the afternoon",
         "evening": "in the evening", "sunset": "at sunset", "sunrise": "at sunrise", "dawn": "at dawn",
         "dusk": "at dusk", "twilight": "at twilight", "noon": "at noon", "golden hour": "at golden hour",
         "blue hour": "at blue hour"}
WEATHER = {  # stem: (adjective, verb-ing, noun phrase)
    "rain": ("rainy", "raining", "in the rain"), "snow": ("snowy", "snowing", "in the snow"),
    "fog": ("foggy", "fogging", "in the fog"), "mist": ("misty", "misting", "in the mist"),
    "storm": ("stormy", "storming", "in a storm"), "sun": ("sunny", "sunning", "in the sun"),
    "cloud": ("cloudy", "clouding", "under clouds"), "overcast": ("overcast", "overcast", "under an overcast sky"),
}
# Time expressions as written in prompts: "at night", "in the evening", "during the day", bare "dusk"...
_TIME_IN_PROMPT = re.compile(
    r"\b(?:(?:at|in the|during the|by)\s+)?(night ?time|night|midnight|daytime|day ?time|morning|afternoon|"
    r"evening|sunset|sunrise|dawn|dusk|twilight|noon|golden hour|blue hour)\b|\bduring the day\b", re.I)
_NOT_ARTIST = r"(?!(?i:the|a|an|moonlight|candlelight|firelight|lamplight|starlight|sunlight|night|day|hand|itself)\b)"
_ARTIST_IN_PROMPT = re.compile(rf"\bby\s+{_NOT_ARTIST}[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|&|de|van|von|da|del|la|le))*")
_ARTIST_LOWER = re.compile(rf"\bby\s+{_NOT_ARTIST}[a-z][^,;()\n]*", re.I)


@dataclass
class DirectEdit:
    text: str
    rule: str          # remove | restyle | replace | season | time | weather | artist | medium | more | add
    sure: bool         # the rule found exactly what the instruction names


def stem(word: str) -> str:
    w = word.lower().strip("'’")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith("ves"):  # elves, wolves, knives
        return w[:-3] + "f"
    if len(w) > 3 and w.endswith("fe"):
        return w[:-1]
    if len(w) > 4 and w.endswith("es") and w[-3] in "sxz" or w.endswith(("ches", "shes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _words(text: str) -> list[re.Match]:
    return list(_WORD.finditer(text))


def _gap(text: str, left: re.Match, right: re.Match) -> str:
    return text[left.end():right.start()]


def _phrase_words(phrase: str) -> list[str]:
    words = [m.group(0) for m in _words(phrase)]
    while words and words[0].lower() in DETERMINERS:
        words.pop(0)
    return words


def tidy(text: str) -> str:
    """Spacing, doubled commas, empty brackets and a/an mended after an edit."""
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    text = re.sub(r"([,;])(?:\s*[,;])+", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    text = re.sub(r"^[,;\s-]+|[,;\s-]+$", "", text)
    return re.sub(r"\b([Aa]n?)(\s+)([A-Za-z][\w'’-]*)", _article, text)


def _article(m: re.Match) -> str:
    """'a' before a vowel sound, 'an' before a consonant; u- and h- words left as written."""
    art, space, word = m.groups()
    w = word.lower()
    if art.lower() == "a" and w[0] in "aeio" and not w.startswith(("one", "eu")):
        art += "n"
    elif art.lower() == "an" and w[0] not in "aeiouh" and not word.isupper():
        art = art[0]
    return art + space + word


def _title_like(text: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) / len(words) > 0.6


def _match_case(new: str, old: str, prompt: str, start: int | None = None) -> str:
    """`new` in the case of the `old` words it replaces; with `start` (where `old` stands), a capital that
    opens the prompt is kept ("Sad clown" -> "Happy clown")."""
    if old.isupper() and len(old) > 1:
        return new.upper()
    if old[:1].isupper() and (_title_like(prompt) or _title_like(old)):
        small = DETERMINERS | PREPOSITIONS
        return " ".join(w if w.lower() in small else w[:1].upper() + w[1:] for w in new.split())
    return new[:1].upper() + new[1:] if start == 0 and old[:1].isupper() else new


# ---------------------------------------------------------------------------------------------- noun phrases
@dataclass
class _NP:
    det: int     # token index of the determiner (or the first modifier)
    mod: int     # first modifier
    head: int    # first token of the matched words
    end: int     # one past the last matched token


def find_np(prompt: str, phrase: str, prefer=None) -> _NP | None:
    """Where the phrase's words stand in the prompt (all of them in a row, else its last word), with
    the modifiers and determiner before them; of several, the first whose modifiers `prefer` accepts."""
    found = _find_nps(prompt, phrase)
    return next((np_ for np_ in found if prefer(np_)), found[0]) if found and prefer else (found[0] if found else None)


def _find_nps(prompt: str, phrase: str) -> list[_NP]:
    words = _phrase_words(phrase)
    while words and words[-1].lower() in PREPOSITIONS | DETERMINERS | {"it", "them", "one"}:
        words.pop()
    toks, want = _words(prompt), [stem(w) for w in words]
    if not want or not toks:
        return []
    stems = [stem(t.group(0)) for t in toks]
    hits: list[tuple[int, int]] = []
    for n in range(len(want), 0, -1):  # the longest run of the phrase's last words
        part = want[-n:]
        hits = [(i, i + n) for i in range(len(toks) - n + 1)
                if stems[i:i + n] == part and all(not re.search(r"[,;:|()]", _gap(prompt, toks[k], toks[k + 1]))
                                                  for k in range(i, i + n - 1))]
        if hits:
            break
    out = []
    for i, j in hits:
        mod = i
        while mod > 0 and i - mod < 3 and _modifier(prompt, toks, mod - 1):
            mod -= 1
        det = mod
        if det > 0 and toks[det - 1].group(0).lower() in DETERMINERS \
                and not re.search(r"[^\s]", _gap(prompt, toks[det - 1], toks[det])):
            det -= 1
        out.append(_NP(det, mod, i, j))
    return out


def _modifier(prompt: str, toks: list[re.Match], k: int) -> bool:
    """Is word k an adjective-like modifier of the word after it ('glowing' lamps, 'stone' lanterns)?"""
    if re.search(r"[^\s]", _gap(prompt, toks[k], toks[k + 1])):
        return False
    w = toks[k].group(0).lower()
    if w in DETERMINERS | PREPOSITIONS or w in ("is", "are", "was", "who", "that"):
        return False
    if w.endswith("ing") and w not in COLORS | CONDITIONS:  # a verb ("standing") unless it opens its phrase
        return k == 0 or toks[k - 1].group(0).lower() in DETERMINERS or bool(
            re.search(r"[,;|(]", _gap(prompt, toks[k - 1], toks[k])))
    return True


def _chunks(prompt: str) -> list[tuple[int, int]]:
    """Spans of the comma-separated parts."""
    spans, start = [], 0
    for m in re.finditer(r"[,;|]| - ", prompt):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(prompt)))
    return spans


# ---------------------------------------------------------------------------------------------- the rules
def remove(prompt: str, target: str) -> str | None:
    np_ = find_np(prompt, target)
    if np_ is None:
        return None
    toks = _words(prompt)
    start, end = toks[np_.det].start(), toks[np_.end - 1].end()
    chunks = _chunks(prompt)
    ci = next(k for k, (s, e) in enumerate(chunks) if s <= start < e or (s <= start and e >= end))
    cs, ce = chunks[ci]
    nxt = [t for t in toks if end <= t.start() < ce][:2]
    if nxt and nxt[0].group(0).lower() not in PREPOSITIONS | DETERMINERS | {"and", "or", "full", "behind", "nearby",
                                                                               "overhead", "outside"} and not re.search(
            r"(?:ing|ed)$", nxt[0].group(0).lower()) and not _gap(prompt, toks[np_.end - 1], nxt[0]).strip() and (
            len(nxt) == 1 or nxt[1].group(0).lower() in PREPOSITIONS | {"and"}):
        end = nxt[0].end()  # "coffee cup": the compound goes whole
    tail = _TAIL.match(prompt, end, ce)  # what only describes X: "coming out of the chimney", "next to it"
    tail_end = (ce if tail.group(1) or tail.group(2) else tail.end()) if tail else end
    # a coordinated phrase: drop "X and" / "and X"
    before = [t for t in toks if cs <= t.start() < start]
    after = [t for t in toks if end <= t.start() < ce]
    lead = next((k for k in range(len(before) - 1, max(len(before) - 4, -1), -1)
                 if before[k].group(0).lower() == "with"), None)
    if lead is not None and len(before) - lead <= 3 and after and len(after) <= 2 and all(
            t.group(0).lower() in _QUANTITY for t in before[lead + 1:]) and (
            after[0].group(0).lower().endswith("ing") or after[-1].group(0).lower() in _DANGLING):
        # "with lots of people around it", "with a person walking across": the whole phrase
        return tidy(prompt[:before[lead].start()] + prompt[ce:])
    if ci > 0 and [t.group(0).lower() for t in before] == ["and"] and after and after[0].group(0).lower() in PREPOSITIONS:
        return tidy(prompt[:chunks[ci - 1][1]] + prompt[ce:])  # ", and a grandfather clock in the corner"
    if before and before[-1].group(0).lower() == "and":
        cut_from = before[-1].start()
        cut_to = after[0].start() if after and ci == 0 and after[0].group(0).lower().endswith("ing") else (
            end if ci == 0 or after else ce)
        if tail and not tail.group(1):  # "and a garden full of tulips": the tulips go with it
            cut_to = max(cut_to, tail_end)
        return tidy(prompt[:cut_from] + " " + prompt[cut_to:])
    if after and after[0].group(0).lower() == "and" and not (  # not "holding coffee and walking": a clause
            before and before[-1].group(0).lower() in LEADS and len(after) > 1
            and after[1].group(0).lower().endswith("ing")):
        return tidy(prompt[:start] + prompt[after[1].start() if len(after) > 1 else after[0].end():])
    # a phrase about X: "with a red umbrella", "holding a shield", "on a wooden table" (at the part's end)
    rest = [t for t in after if t.start() >= tail_end]
    if before and (before[-1].group(0).lower() in LEADS or (
            before[-1].group(0).lower() in _PLACE_PREPOSITIONS and len(before) > 1
            and (not rest or rest[0].group(0).lower() in PREPOSITIONS))):
        cut = re.match(r"\s+and\s+(?=\w+ing\b)", prompt[tail_end:])  # "holding a cup and walking": "and" too
        return tidy(prompt[:before[-1].start()] + prompt[tail_end + (cut.end() if cut else 0):])
    if ci == 0 and not [t for t in before if t.group(0).lower() not in DETERMINERS] and len(after) >= 3 and \
            after[0].group(0).lower() in ("over", "above", "across", "in", "on", "at") and \
            after[1].group(0).lower() not in PREPOSITIONS:
        # "Storm clouds over wheat field, Kansas": the place they were over stays, now the subject
        rest_ = prompt[after[1].start():]
        return tidy(prompt[:start] + (rest_[:1].upper() + rest_[1:] if prompt[start:start + 1].isupper() else rest_))
    if len(chunks) > 1:
        if ci == 0 and not before and not after and np_.mod == np_.head:  # the first part is just X
            return tidy(prompt[chunks[1][0]:])
        # a later part about X: "flying cars overhead", "villagers at work", "dust clouds";
        # not "Snow Covered Village", where X only describes the part's own subject
        if ci > 0 and all(t.group(0).lower() in _QUANTITY for t in before) and (len(after) <= 1 or after[0].group(0).lower() in PREPOSITIONS
                                      or after[0].group(0).lower().endswith("ing")):
            return tidy(prompt[:chunks[ci - 1][1]] + prompt[ce:])
        if ci > 0:
            return None
    if len(before) >= 2 and before[-1].group(0).lower() == "of" and before[-2].group(0).lower() not in PREPOSITIONS:
        # "with a slice of cake": the measure phrase goes too
        k = len(before) - 2
        while k > 0 and before[k - 1].group(0).lower() not in LEADS | PREPOSITIONS:
            k -= 1
        if k > 0 and before[k - 1].group(0).lower() in LEADS:
            return tidy(prompt[:before[k - 1].start()] + prompt[end:])
    return None


_ACTS = (r"sitting|standing|walking|running|lying|laying|holding|wearing|looking|smiling|reading|playing|riding|"
         r"dancing|jumping|talking|eating|sleeping|posing|waiting|working|isolated")
_TAIL = re.compile(r"\s+(?:\w+ing (?:it|them)\b|(?!(?:" + _ACTS + r")\b)(\w+ing\b(?<!\bthing)(?<!\bwing)|"
                   r"(?!(?:red|bed|shed|sled|seed|reed)\b)\w{3,}ed\b)|(?:behind|nearby|overhead|outside|in the (?:background|foreground|"
                   r"distance))(?=\s*(?:[,;|-]|$))|(?:next to|beside|on|under|around|behind|in front of|on top "
                   r"of) (?:it|them|him|her)\b|(?:in|on|at|around|over) (?:his|her|their|its) \w+|(full of\b))", re.I)
_DANGLING = frozenset("it them across around nearby about everywhere".split())
_QUANTITY = frozenset("""lots of a an the some many few several two three four dozens hundreds crowds group flock herd
pack swarm school bunch pair couple bouquet pile stack""".split())
_PLACE_PREPOSITIONS = frozenset("on in at under beside near behind over above below inside atop through across along into".split())


def restyle(prompt: str, target: str, attrs: list[str]) -> str | None:
    """'make the sofa green velvet': the NP's colour/material words replaced by the new ones."""
    classes = _classes(attrs)
    toks = _words(prompt)
    np_ = find_np(prompt, target, prefer=lambda n: any(_classes([t.group(0)]) & classes
                                                       for t in toks[n.mod:n.head]))
    if np_ is None:  # a booru tag: "black_hair" -> "silver_hair"
        words = _phrase_words(target)
        tag = re.search(rf"\b([a-z]+)_{re.escape(words[-1].lower())}\b", prompt) if words else None
        if tag and _classes([tag.group(1)]) & classes:
            return prompt[:tag.start(1)] + "_".join(a.lower() for a in attrs) + prompt[tag.end(1):]
        return None
    new_attrs = _match_case(" ".join(attrs), toks[np_.mod].group(0), prompt)
    mods, placed = [], False  # the new words go where the first clashing one stood ("a red sports car")
    for t in toks[np_.mod:np_.head]:
        if _classes([t.group(0)]) & classes:
            if not placed:
                mods.append(new_attrs)
                placed = True
        else:
            mods.append(t.group(0))
    if not placed:  # before a material ("a red wooden bench"), else next to the noun
        at = next((k for k, w in enumerate(mods) if w.lower() in MATERIALS), len(mods)) \
            if "material" not in classes else len(mods)
        head_word = stem(toks[np_.head].group(0))
        at = next((j for j in range(at) if any(lexicon.is_word(c.lower()) for c in (
            "_".join([*mods[j:at], head_word]), "-".join(mods[j:at]) + "_" + head_word))), at)  # "red hot air balloons"
        mods.insert(at, new_attrs)
    head = prompt[toks[np_.head].start():toks[np_.end - 1].end()]
    # drop stray words of the same class right after the noun ("armor black")
    end = toks[np_.end - 1].end()
    k = np_.end
    while k < len(toks) and _classes([toks[k].group(0)]) & classes and not _gap(prompt, toks[k - 1], toks[k]).strip():
        end, k = toks[k].end(), k + 1
    phrase = " ".join([*mods, head])
    return tidy(prompt[:toks[np_.mod].start()] + phrase + prompt[end:])


def _classes(words: list[str]) -> set[str]:
    out = set()
    for w in words:
        w = w.lower()
        out |= {name for name, members in _CLASSES.items() if w in members}
        if w in MATERIALS:
            out.add("material")
    return out


def _attribute(word: str) -> bool:
    """A colour, material, length, size or age word: what 'make the X ...' can set."""
    return bool(_classes([word]))


def replace(prompt: str, old: str, new: str) -> str | None:
    np_ = find_np(prompt, old)
    if np_ is None:
        return None
    toks = _words(prompt)
    new_words = _phrase_words(new)
    if not new_words:
        return None
    if new_words[-1].lower() == "one":  # "change the harbor to a calm sunny one"
        return restyle_free(prompt, np_, new_words[:-1])
    start = toks[np_.mod].start()
    classes = _classes(new_words)
    other = len(new_words) >= 2 and stem(new_words[-1]) != stem(toks[np_.head].group(0)) and not new_words[-1][:1].isupper()

    def made_of(k: int, w: str) -> bool:  # "apple pie" -> "a chocolate cake": the apple goes with the pie
        return other and k == np_.head - 1 and w.islower() and not prompt.islower() and not _classes([w]) \
            and w not in MATERIALS and lexicon.is_noun_only(w)
    mods = [t.group(0) for k, t in enumerate(toks[np_.mod:np_.head], np_.mod)
            if not (_classes([t.group(0)]) & classes) and not made_of(k, t.group(0))]
    end = np_.end
    if len(new_words) >= 2 or (new_words[0][:1].isupper() and toks[np_.head].group(0)[:1].isupper()):
        # "swap kate for meryl streep", "swap Keanu for Rihanna": a name goes whole ("Kate Winslet")
        while end < len(toks) and toks[end - 1].group(0)[:1].isupper() and toks[end].group(0)[:1].isupper() \
                and _gap(prompt, toks[end - 1], toks[end]) == " " and end - np_.head < 3 \
                and toks[end].group(0).lower() not in MEDIUM_HEADS:  # not "Tonalist Painting"
            end += 1
    if end < len(toks) and stem(toks[end].group(0)) == stem(new_words[-1]) and _gap(prompt, toks[end - 1], toks[end]) == " ":
        end += 1  # "maple tree" -> "cherry blossom tree", not "cherry blossom tree tree"
    by = re.search(r"\bby\s+(?:[\w.'’-]+\s+){0,2}$", prompt[:toks[np_.head].start()], re.I)
    if len(new_words) >= 2 and by:
        mods = []  # "by greg rutkowski" -> "by john howe": the first name goes too
        if np_.head == np_.mod and np_.head > 0 and toks[np_.head - 1].start() >= by.start() + 3 and \
                toks[np_.head - 1].group(0).lower() not in PREPOSITIONS | DETERMINERS | {"and", "by"}:
            start = toks[np_.head - 1].start()
    matched = prompt[toks[np_.head].start():toks[end - 1].end()]
    phrase = " ".join([*mods, _match_case(" ".join(new_words), matched, prompt)])
    return tidy(prompt[:start] + phrase + prompt[toks[end - 1].end():])


def _person(prompt: str) -> tuple[int, int] | None:
    """The span of a person's name opening a part ("Chris Hemsworth at the premiere"): two or three
    capitalised words that WordNet does not know as a place."""
    for s_, e_ in _chunks(prompt):
        m = re.match(r"\s*((?:[A-Z][a-z][\w'’-]*\s){1,2}[A-Z][a-z][\w'’-]*(?:\s(?:II|III|IV|Jr\.?|Sr\.?))?)(?=\W|$)",
                     prompt[s_:e_])
        if m and not lexicon.is_place_name(m.group(1)) and not re.match(r"\s+[A-Z]", prompt[s_ + m.end():e_]) \
                and m.group(1).split()[0].lower() not in DETERMINERS | PREPOSITIONS:
            return s_ + m.start(1), s_ + m.end(1)
    return None


def replace_all(prompt: str, old: str, new: str) -> str | None:
    """replace(), for each time the prompt names `old` ("at dawn, seagulls at dawn")."""
    result = replace(prompt, old, new)
    if result is None or stem(_phrase_words(old)[-1] if _phrase_words(old) else "") in {
            stem(w) for w in _phrase_words(new)}:
        return result
    for _ in range(3):
        again = replace(result, old, new)
        if again is None or again == result:
            break
        result = again
    return result


def kin_word(prompt: str, thing: str, kinds: bool = True) -> str | None:
    """The prompt's first word for a kind of `thing` (WordNet: 'seagull' for 'birds', 'retriever' for
    'dog'); with kinds=False, for a thing of the same close kind ('retriever' for 'husky', 'sheep' for
    'goats', 'girl' for 'lady')."""
    words = _phrase_words(thing)
    if not words or not words[-1].isalpha():
        return None
    head = words[-1]

    def fits(w: str) -> bool:
        if len(w) < 3 or not w.isalpha() or w.lower() in DETERMINERS | PREPOSITIONS | _STOP_NOUNS or _attribute(w):
            return False
        if kinds:  # "seagull" for "birds", "wildflowers" for "flowers"
            return lexicon.is_kind_of(w, head) or (w.lower().endswith(head.lower()) and len(w) > len(head) + 2)
        return lexicon.kin(w, head) or lexicon.is_kind_of(head, w)  # "retriever" for "husky", "houses" for "cabins"

    toks = _words(prompt)
    for k, t in enumerate(toks):
        if fits(t.group(0)):
            while k + 1 < len(toks) and _gap(prompt, toks[k], toks[k + 1]) == " " and fits(toks[k + 1].group(0)) \
                    and toks[k + 1].group(0).lower() not in _YOUNG:
                k += 1  # "Tabby Cat": the head; not "Retriever Puppy" (a husky puppy stays a puppy)
            return toks[k].group(0)
    return None


_YOUNG = frozenset("puppy puppies kitten kittens cub cubs foal foals calf calves baby babies chick chicks lamb lambs".split())
_STOP_NOUNS = frozenset("""photo stock image picture painting art print wallpaper background detail details style
canvas oil hd free royalty best quality masterpiece""".split())


_NOT_SWAPPED = frozenset("""scene version image picture style look vibe vibes mood place setting atmosphere one thing
things feel feeling theme version shot photo painting""".split())


def _swap_kind(prompt: str, old: str, new: str) -> str | None:
    """'swap the dog for a cat' where the prompt has a golden retriever: the retriever goes."""
    kind = kin_word(prompt, old)
    return swap(prompt, new, kind) if kind else None


def swap(prompt: str, new: str, old: str | None = None, person: bool = False) -> str | None:
    """'make it a husky', 'goats instead', 'make her an old lady': the thing of that kind in the prompt
    (the golden retriever, the sheep, the little girl) becomes the new one, each time the prompt names
    it ("Cat Cross Stitch - Cat Lover Gift")."""
    words = _phrase_words(new)
    last = words[-1].lower() if words else ""
    if not words or last in _NOT_SWAPPED or last in COLORS | MATERIALS | SIZES | AGES | LENGTHS or last in SEASONS or last in TIMES or \
            last == "day" or _weather_stem(last) or _is_medium(new):
        return None
    by_kin = not old and not find_np(prompt, words[-1])
    old = old or (words[-1] if not by_kin else kin_word(prompt, new, kinds=False))
    result = _swap_once(prompt, new, words, old, person, by_kin)
    for _ in range(3):
        if result is None or not old or stem(old) in {stem(w) for w in words} or not re.search(
                rf"\b{re.escape(old)}\b", result):
            break
        again = _swap_once(result, new, words, old, person, by_kin=False)  # the later mentions: named now
        if again is None or again == result:
            break
        result = again
    return result


def _swap_once(prompt: str, new: str, words: list[str], old: str | None, person: bool, by_kin: bool) -> str | None:
    """One mention of `old` becomes the new thing (`words`); its colour, size and age words go with it.
    For "her"/"him", the person: a name keeps itself ("Muppet Barack Obama"), a role word goes."""
    if person and not (old and lexicon.is_person(old)):
        span = _person(prompt)
        who = next((t for t in _words(prompt) if t.group(0).isalpha() and len(t.group(0)) > 2 and t.group(0).lower()
                    not in _STOP_NOUNS and lexicon.is_person(t.group(0))), None)
        if span and (who is None or span[0] <= who.start() < span[1]):
            s_, e_ = span  # "make him a muppet": "Muppet Barack Obama", still him
            return tidy(prompt[:s_] + _match_case(" ".join(words), prompt[s_:e_], prompt) + " " + prompt[s_:])
        old = who.group(0) if who else None  # "make her a penguin": the person, whatever she becomes
    if not old or not find_np(prompt, old):
        return None
    np_ = find_np(prompt, old)
    toks = _words(prompt)
    chunk_start = max([0] + [e for _, e in _chunks(prompt) if e <= toks[np_.mod].start()])
    first = next((k for k, t in enumerate(toks) if t.start() >= chunk_start), 0)
    same_head = stem(old) == stem(words[-1])
    mods = []
    for k in range(np_.mod, np_.head):
        w = toks[k].group(0)
        if same_head and np_.head - k <= len(words) - 1:
            continue  # "a medieval city" for "a futuristic city": the new words take the old ones' place
        if _classes([w]) or w.lower() in MATERIALS or (w[:1].isupper() and k > first and not _title_like(prompt)):
            continue  # its colour, size, age, material or brand ("Coca-Cola") goes
        if by_kin and not same_head and lexicon.is_noun_only(w):
            continue  # "ramen shop" -> "taco stand": what the old thing was made of or for goes
        mods.append(w)
    if by_kin and np_.head > np_.mod and toks[np_.head - 1].group(0)[:1].isupper() and toks[np_.head].group(0)[:1].isupper():
        mods = [m for m in mods if not m[:1].isupper()]  # "Golden Retriever": the breed's own words
    start = toks[np_.mod].start()
    measure = re.search(r"\b(?:a |an |the )?(?:bouquet|bunch|pile|stack|basket|bowl|plate|vase) of\s+$", prompt[:start], re.I)
    if measure and not re.match(r"(?:a |an |the |some )", new, re.I) and stem(words[-1]) == words[-1].lower():
        start = measure.start()  # "holding a bouquet of wildflowers" -> "holding a balloon"; a bowl of strawberries stays
        new_phrase = new.strip() if re.match(r"(?:\d+)\s", new.strip()) else "a " + new.strip()
    else:
        new_phrase = None
    matched = prompt[toks[np_.mod].start():toks[np_.end - 1].end()]
    plural = stem(old) != old.lower() and stem(words[-1]) == words[-1].lower()
    body = new_phrase or " ".join(words[:-1] + [plural_of(words[-1]) if plural else words[-1]])
    phrase = " ".join([*mods, _match_case(body, matched, prompt)])
    return tidy(prompt[:start] + phrase + prompt[toks[np_.end - 1].end():])


def plural_of(word: str) -> str:
    """'strawberry' -> 'strawberries', 'fox' -> 'foxes', 'goat' -> 'goats'; a plural stays."""
    if word.lower().endswith("s") and not word.lower().endswith(("ss", "us")):
        return word
    if re.search(r"[^aeiou]y$", word, re.I):
        return word[:-1] + "ies"
    return word + ("es" if re.search(r"(?:s|x|z|ch|sh)$", word, re.I) else "s")


def restyle_free(prompt: str, np_: _NP, adjectives: list[str]) -> str | None:
    """'a calm sunny harbor' for 'a stormy harbor': the modifiers replaced by the new ones."""
    toks = _words(prompt)
    head = prompt[toks[np_.head].start():toks[np_.end - 1].end()]
    return tidy(prompt[:toks[np_.mod].start()] + " ".join([*adjectives, head]) + prompt[toks[np_.end - 1].end():])


def _weather_stem(word: str) -> str | None:
    w = word.lower()
    for s, (adj, ing, _) in WEATHER.items():
        if w in (s, adj, ing, s + "s", s + "fall", s + "ed"):
            return s
    return None


def weather(prompt: str, want: str, old: str | None = None) -> str | None:
    """Replace a weather word (any form, also inside 'rain-soaked') with the same form of `want`;
    add `want` when the prompt has none."""
    forms = WEATHER[want]
    if want in ("rain", "snow", "storm", "fog", "mist", "cloud"):  # a blue sky does not rain
        prompt = re.sub(r"\b(?:clear|blue|cloudless) sky\b", "overcast sky", prompt, flags=re.I)
    pattern = re.compile(r"\b(" + "|".join(sorted({f for s, (a, i, _) in WEATHER.items() if not old or s == old
                                                   for f in (a, i, s + "fall", s)}, key=len, reverse=True))
                         + r")(?=\b|-)", re.I)
    m = None
    for cand in pattern.finditer(prompt):
        if _weather_stem(cand.group(1)) != want:
            m = cand
            break
    if m is None:
        if old:
            return None
        return _add_phrase(prompt, forms[2])
    got = m.group(1).lower()
    s = _weather_stem(got)
    adj, ing, _ = WEATHER[s]
    phrase = re.search(rf"\b(?:in|during|under|through)\s+(?:a|an|the)\s+{re.escape(m.group(1))}\b", prompt, re.I)
    if got == s and phrase and phrase.start() <= m.start(1):  # "during a storm": the phrase, not "during a sun"
        return tidy(prompt[:phrase.start()] + forms[2] + prompt[phrase.end():])
    new = forms[0] if got == adj else forms[1] if got == ing else want + "fall" if got.endswith("fall") else want
    soaked = re.match(r"-(?:soaked|drenched|swept|covered)\b", prompt[m.end(1):])
    if soaked:  # "rain-soaked pavement" in the snow: "snowy pavement", not "snow-soaked"
        return tidy(prompt[:m.start(1)] + _match_case(forms[0], m.group(1), prompt) + prompt[m.end(1) + soaked.end():])
    return tidy(prompt[:m.start(1)] + _match_case(new, m.group(1), prompt) + prompt[m.end(1):])


_SEASON_WORD = re.compile(r"\b(?:(in|during)\s+(?:the\s+)?)?(winter|summer|autumn|spring|fall|january|february|march|april|"
                          r"may|june|july|august|september|october|november|december)\b", re.I)
_MONTHS = frozenset("january february march april may june july august september october november december".split())
_SEASON_NEXT = re.compile(r"\s+(?:day|days|morning|afternoon|evening|night|season|time|colou?rs|landscape|wallpaper|scene|"
                          r"garden|flowers|sun|break|rain|storm|snow|wedding|festival|forest|trees|\d{4})\b", re.I)


def season(prompt: str, want: str) -> str | None:
    """Every season word becomes `want` ("in summer" -> "in winter", "Spring Desktop Wallpaper" -> "Winter
    ..."; a bare "spring"/"fall" only where it is plainly the season); what clashes with it goes
    (autumn leaves in winter, snow in summer); with no season, `want` is added."""
    same = {want, "autumn" if want == "fall" else "fall" if want == "autumn" else want}
    prompt = scene.clear(original := prompt, "autumn" if want == "fall" else want)
    text, found = prompt, False
    for m in reversed(list(_SEASON_WORD.finditer(prompt))):
        word = m.group(2)
        if word.lower() in _MONTHS and not (m.group(1) and word[:1].isupper()):
            continue  # a month only as "in July"
        if word.lower() in ("spring", "fall") and not m.group(1) and not (
                _SEASON_NEXT.match(prompt, m.end()) or (word[0].isupper() and _title_like(prompt))
                or re.fullmatch(r"[\s,;|]*", prompt[max(0, m.start() - 2):m.start()] + prompt[m.end():m.end() + 2])):
            continue
        found = True
        if word.lower() in same:
            continue
        if m.group(1):  # "in summer" -> "in winter"
            phrase = SEASONS[want].replace(want, want if word.lower() in _MONTHS else _match_case(want, word, prompt))
            text = text[:m.start()] + phrase + text[m.end():]
        else:
            text = text[:m.start(2)] + _match_case("autumn" if want == "fall" else want, word, prompt) + text[m.end(2):]
    if not found:
        text = _add_phrase(prompt, SEASONS[want])
    return tidy(text) if text.strip() != original.strip() else None


_DARK = frozenset("night nighttime midnight sunset dusk evening twilight dawn sunrise".split())


def time_of_day(prompt: str, want: str, label: str | None = None) -> str | None:
    if want in _DARK:  # "on a sunny afternoon" at night: the day phrase goes whole; "sunny" goes
        day = re.search(r"\bon an? (?:\w+ )?(?:morning|afternoon|day)\b", prompt, re.I)
        if day:
            return tidy(prompt[:day.start()] + _with_label(TIMES[want], want, label) + prompt[day.end():])
        prompt = re.sub(r"\bsunny\s+", "", prompt, flags=re.I)
        if want in ("night", "nighttime", "midnight"):
            prompt = re.sub(r"\b(?:clear )?blue sky\b", "night sky", prompt, flags=re.I)
    m = _TIME_IN_PROMPT.search(prompt)
    if m is None:
        return _add_phrase(prompt, _with_label(TIMES[want], want, label))
    word = (m.group(1) or "day").lower().replace(" ", "")
    if word == want.replace(" ", "") or TIMES.get(word) == TIMES[want]:
        return None
    if m.group(1) is None or m.group(0).lower() != m.group(1).lower():  # a phrase: "at night"
        return tidy(prompt[:m.start()] + _with_label(TIMES[want], want, label) + prompt[m.end():])
    return tidy(prompt[:m.start()] + _match_case(label or want, m.group(1), prompt) + prompt[m.end():])


def _with_label(phrase: str, want: str, label: str | None) -> str:
    """'in the morning' -> 'in the early morning' for the label 'early morning'."""
    return phrase.replace(want, label) if label and want in phrase else phrase


def artist(prompt: str, name: str, style: bool = False) -> str | None:
    """The "by ARTIST(S)" part replaced ("in the style of NAME" when the user said style)."""
    found = list(_ARTIST_IN_PROMPT.finditer(prompt)) or list(_ARTIST_LOWER.finditer(prompt)) or list(
        re.finditer(r"\bin the style of [^,;()\n]+", prompt, re.I))
    if not found and style:
        return None
    if not found:
        chunks = _chunks(prompt)  # "Preparation - Isidor Kaufmann (hungarian painter)": the name part
        named = [(s_, e_) for s_, e_ in chunks if len(chunks) > 1 and re.search(r"\s-\s", prompt)
                 and _label(re.sub(r"\([^)]*\)", "", prompt[s_:e_]))
                 and not lexicon.is_place_name(prompt[s_:e_].strip())
                 and not any(w.lower() in MEDIUM_HEADS | {"art"} for w in _phrase_words(prompt[s_:e_]))]
        if not named:
            return None
        s_, e_ = named[-1]
        lead = len(prompt[s_:e_]) - len(prompt[s_:e_].lstrip())
        part = re.sub(r"\s*\([^)]*(?:painter|artist|photographer|illustrator|sculptor)[^)]*\)", "", prompt[s_ + lead:e_],
                      flags=re.I)
        keep_tail = prompt[s_ + lead:e_][len(re.sub(r"\s*\(.*$", "", part)):] if "(" in part else ""
        name = name.strip().title() if name.strip().islower() else name.strip()  # "by hokusai" -> Hokusai
        return tidy(prompt[:s_ + lead] + name + keep_tail + prompt[e_:])
    m = found[-1]
    return tidy(prompt[:m.start()] + ("in the style of " if style else "by ") + name.strip() + prompt[m.end():])


# ---------------------------------------------------------------------------------------------- media
MEDIUM_HEADS = frozenset("""painting paintings sketch drawing illustration photograph photo photography render mosaic
glass woodcut engraving etching lithograph print art cartoon anime comic manga poster mural tapestry embroidery
sculpture statue graffiti cyanotype polaroid footage screenshot model poly origami claymation pastel charcoal doodle
blueprint watercolor watercolour daguerreotype fresco graphic graphics game muralism impressionism cubism surrealism
expressionism pointillism linocut woodblock ukiyo-e lego claymation photorealism bust figurine""".split())
_MEDIUM_IN_PROMPT = re.compile(
    r"\b(?:(?:sketchbook|toned|paper|prismacolor|colou?red|oil|acrylic|watercolou?r|gouache|pastel|charcoal|pencil|"
    r"graphite|ink|digital)\s+)*(?:(?:oil|acrylic|pastel|charcoal|ink|gouache|watercolou?r|pencil|graphite|mixed media) "
    r"on (?:canvas board|canvas|linen|board|panel|paper|wood|cardboard|card|masonite|aquaboard|hardboard)|painting|sketch|drawing|illustration|photograph|photo|photography|"
    r"watercolou?r|(?:anime|cartoon|manga|chibi|comic|pixar|disney|ghibli|studio ghibli|dreamworks|claymation)(?: style)?|3d render|mural|(?:digital|concept|pixel|line|vector) art|"
    r"(?:woodblock|art|canvas art|fine art|giclee|screen|limited edition) print|woodblock|woodcut|engraving|etching|"
    r"lithograph)\b", re.I)


def medium(prompt: str, new: str) -> DirectEdit | None:
    """'as a pencil sketch': the prompt's medium words become the new medium (the others go); with no
    medium in the prompt, the new one is suggested at the front of a sentence or the end of a title."""
    new = re.sub(r"^(?:(?:look|looks|feel)\s+(?:like\s+)?|the medium\s+(?:to\s+|into\s+)?)", "", new.strip(), flags=re.I)
    new = re.sub(r"^(?:a|an|the)\s+", "", new, flags=re.I)
    named = re.match(r"((?:[A-Z][\w'’.-]*\s){1,3})([a-z][\w -]*)$", new)  # "a Norman Rockwell painting"
    if named and (_ARTIST_IN_PROMPT.search(prompt) or _ARTIST_LOWER.search(prompt)) and _MEDIUM_IN_PROMPT.search(prompt):
        done = medium(prompt, named.group(2))
        by = artist(done.text, named.group(1).strip()) if done else None
        if by:
            return DirectEdit(by, "medium", True)
    # "a Van Gogh painting": an artist's style, not only a medium: a suggestion
    sure = sum(w[:1].isupper() for w in new.split()[:-1]) < 2
    found = [m for m in _MEDIUM_IN_PROMPT.finditer(prompt)
             if not re.search(r"\([^)]*$", prompt[:m.start()])]  # not "(AP Photo/Kirsty Wigglesworth)"
    if found:
        text = prompt
        for m in reversed(found[1:]):  # other media tags go ("…, digital art, …"); words inside a phrase stay
            part = re.search(rf"(?:^|,)\s*{re.escape(m.group(0))}\s*(?=,|$)", text)
            if part:
                text = text[:part.start()] + text[part.end():]
            elif m.group(0)[:1].isupper() and re.match(r"\s*(?:$|[,;|(]| - )", prompt[m.end():]) and not re.search(
                    r"\b(?:your|my|from|of|a|an|the|with|in|on)\s+$", prompt[:m.start()], re.I):
                text = text[:m.start()] + text[m.end():]  # "… Neighbors Painting": a title's last word
        m = found[0]
        start, end = m.start(), m.end()
        part = next(((s, e) for s, e in _chunks(text)[1:] if s <= start and end <= e), None)
        if part and len(_words(text[part[0]:part[1]])) - len(_words(m.group(0))) <= 1:  # "food photography"
            start, end = part[0] + len(text[part[0]:part[1]]) - len(text[part[0]:part[1]].lstrip()), part[1]
        done = text[:start] + "\0" + text[end:]
        done = scene.clear_media(done, new).replace("\0", _match_case(new, m.group(0), prompt))
        return DirectEdit(tidy(done), "medium", sure)
    cleared = scene.clear_media(prompt, new)
    if cleared != prompt:  # "Renaissance painting" on a photo: the camera tags go, the new medium in front
        return DirectEdit(tidy(cleared.rstrip(" .") + ", " + new), "medium", sure)
    if new.lower().endswith(" style"):  # "pixar style": one more tag
        return DirectEdit(add_tag(prompt, new), "medium", True)
    if re.match(r"(?:a|an|the)\s", prompt) and not _title_like(prompt):
        return DirectEdit(tidy(f"{new} of {prompt}"), "medium", False)
    first = prompt.split()[0] if prompt.split() else ""
    if re.match(r"[A-Z][a-z]+$", first) and not _title_like(prompt) and len(prompt.split()) >= 4 and not re.search(
            r"\s-\s|\|", prompt):  # "Autumn colors framed by ..." -> "Ukiyo-e painting of autumn colors framed by ..."
        head = first if lexicon.is_name(first) else first.lower()
        return DirectEdit(tidy(f"{new[:1].upper()}{new[1:]} of {head}{prompt[len(first):]}"), "medium", False)
    sep = " - " if " - " in prompt else ", "
    return DirectEdit(tidy(prompt.rstrip(" .") + sep + _match_case(new, prompt.split()[0], prompt)), "medium", False)


def _is_medium(phrase: str) -> bool:
    words = [w.lower() for w in _phrase_words(phrase)]
    if 1 < len(words) <= 4 and words[-1] == "style" and not {"of", "out"} & set(words):
        return True  # "anime style", "Studio Ghibli style"
    if not words or len(words) > 4 or words[-1] not in MEDIUM_HEADS or {"of", "out"} & set(words):
        return False
    if words[-1] in ("glass", "model", "poly"):  # "stained glass", "low poly (model)", not "a glass chair"
        return "stained" in words or "poly" in words[:-1] or words[-2:] == ["low", "poly"]
    return True


_STYLE_TAIL = re.compile(r"\b(by|trending|artstation|8k|4k|hd|uhd|octane|unreal|render|rendering|cinematic|"
                         r"photorealistic|hyperrealistic|highly|detailed|lighting|style|concept art|digital art|"
                         r"illustration|painting|matte|masterpiece|wallpaper|shot on|\d+mm|canvas|"
                         r"art by|photography|fantasy art|fine art|pop art|line art|pixel art|art nouveau|art deco)\b", re.I)


def _add_phrase(prompt: str, phrase: str) -> str:
    """Add a phrase at the end of the subject: before the style/artist tags of a tag list, at the end
    of the title part of 'Title - Artist', else at the end."""
    tags = re.search(r"\bTags:\s.*?(?=\s+User:|$)", prompt)
    if tags:  # a booru caption: one more tag before "User:"
        tag = re.sub(r"^(?:with|in|at|on|during)\s+(?:the\s+|a\s+|an\s+)?", "", phrase.strip()).replace(" ", "_")
        return prompt[:tags.end()] + " " + tag.lower() + prompt[tags.end():]
    chunks = _chunks(prompt)
    if len(chunks) > 1:
        for k, (s, e) in enumerate(chunks[1:], 1):
            if _STYLE_TAIL.search(prompt[s:e]):
                cut = chunks[k - 1][1]
                sep = prompt[cut:s]
                if " - " in sep or "|" in sep:
                    return tidy(prompt[:cut] + " " + phrase + prompt[cut:])
                return tidy(prompt[:cut] + ", " + phrase + prompt[cut:])
        return tidy(prompt.rstrip(" .") + ", " + phrase)
    by = list(_ARTIST_IN_PROMPT.finditer(prompt))
    if by and by[-1].start() > 0 and not prompt[by[-1].end():].strip(" ."):  # "Title by Artist": with the title
        return tidy(prompt[:by[-1].start()].rstrip() + " " + phrase + " " + prompt[by[-1].start():])
    return tidy(prompt.rstrip(" .") + " " + phrase)


def _label(part: str) -> bool:
    """Is this part of 'A - B' a label rather than the picture's subject: a medium ("Photograph",
    "Painting") or a name ("Claude Monet", "Walter Launt Palmer")?"""
    words = _phrase_words(part)
    if not words or len(words) > 4:
        return False
    if len(words) <= 2 and words[-1].lower() in MEDIUM_HEADS | {"exhibition", "wallpaper"}:
        return True
    if len(words) == 1:  # "Sorolla"
        return words[0][:1].isupper() and lexicon.is_name(words[0])
    return _name_like(words) and any(lexicon.is_name(w) for w in words)


_PARTICLES = frozenset("van de von da del la le".split())  # "Vincent van Gogh", "Leonardo da Vinci"


def _name_like(words: list[str]) -> bool:
    return 2 <= len(words) <= 4 and all(
        (w[:1].isupper() or w in _PARTICLES) and not any(c.isdigit() for c in w)
        and w.lower() not in (PREPOSITIONS | DETERMINERS) - _PARTICLES for w in words)


def _subject_part(first: str, second: str) -> int:
    """Of 'A - B', which part is the picture's subject (0 or 1): not the label ("Photograph - Fox Trio",
    "Claude Monet - Water Lilies", "The Delightful Walk - Loui Jover"); undecided: the first."""
    if re.match(r"\s*by\s", second, re.I):
        return 0
    l0, l1 = _label(first), _label(second)
    if l0 != l1:
        return 1 if l0 else 0
    n0, n1 = _name_like(_phrase_words(first)), _name_like(_phrase_words(second))
    return 1 if n0 and not n1 else 0


_YEAR_TAIL = re.compile(r"\s+(?:\(?\d{4}\)?|c\. ?\d{4})\s*$")


def add_tag(prompt: str, tag: str) -> str:
    """A word like "creepy" or "vibrant colors" as one more tag: before the style tags of a list, after a
    sentence."""
    return _add_phrase(prompt, tag) if len(_chunks(prompt)) > 1 else f"{prompt.rstrip(' .')}, {tag}"


def add(prompt: str, thing: str) -> str:
    thing = thing.strip().rstrip(".!")
    thing = re.sub(r"(?<!\bnext)(?<!\bclose)\s+to (?:the |this )?(?:picture|image|painting|photo|scene|it)$", "", thing,
                   flags=re.I)  # but "a cup of tea next to it" keeps its "to it"
    thing = re.sub(r"\s+to (?:the |this )?background$", " in the background", thing, flags=re.I)
    first = thing.split()[0].lower() if thing.split() else ""
    lead = "" if first in PREPOSITIONS or first.endswith("ing") else "with "
    chunks = _chunks(prompt)
    if len(chunks) > 1 and re.fullmatch(r"\s*(?:-|\|)\s*", prompt[chunks[0][1]:chunks[1][0]]):
        # "Title - Artist - Site": the new thing goes with the title; "Photograph - Title by X", "Claude Monet -
        # Title": with the title after the label, before its "by ..." or year
        first_, second = prompt[chunks[0][0]:chunks[0][1]], prompt[chunks[1][0]:chunks[1][1]]
        k = _subject_part(first_, second)
        s_, e_ = chunks[k]
        by = list(_ARTIST_IN_PROMPT.finditer(prompt, s_, e_))
        year = _YEAR_TAIL.search(prompt[s_:by[-1].start() if by else e_])
        cut = s_ + year.start() if year else (by[-1].start() if by else e_)
        cut = len(prompt[:cut].rstrip())
        return tidy(prompt[:cut] + " " + lead + _match_case(thing, prompt[s_:e_].strip(), prompt) + " "
                     + prompt[cut:])
    later = [prompt[s_:e_].strip() for s_, e_ in chunks[1:]]
    if 1 < len(chunks) <= 4 and all(re.fullmatch(r"(?:[A-Z][\w.'’-]*\s?){1,3}|\d[\w ,.-]*|(?:at|in|on|during) [\w ]{1,20}",
                                                 p) for p in later):
        # "Empty Country Road Through Wheat Fields, Saskatchewan": with the subject, before its place
        cut = len(prompt[:chunks[0][1]].rstrip())
        return tidy(prompt[:cut] + " " + lead + _match_case(thing, prompt[:cut], prompt) + prompt[cut:])
    if len(chunks) > 1:
        return _add_phrase(prompt, thing)
    return _add_phrase(prompt, lead + thing)


# ---------------------------------------------------------------------------------------------- parsing
_T = r"(?:the |a |an |his |her |their |its |all the |all |any )?"
_RULES: list[tuple[str, re.Pattern]] = [(name, re.compile(p, re.I)) for name, p in [
    ("artist", r"^(?:change|switch|set) the (?:artists?|painters?|illustrators?|photographers?) to (.+?)(?: instead)?$"),
    ("shave", r"^(?:shave|shave off|clean[- ]shave)\s+(?:him|her|them|it|his face|the (?:man|guy)|(?:the |his )?(?:beard|mustache|"
              r"moustache|facial hair))$"),
    ("medium", r"^(?:please )?(?:(?:turn|make|change|convert|transform|render|redo|paint|draw|do)(?: it| this| the image| the "
               r"picture| everything)?(?: into| to| as| in)?|as|make it look like|have it look like|(?:more )?like|in the form of|"
               r"replace the \w+(?: \w+)? with|(?:a |an )?(?=.+ instead of)) (?:a |an )?(.+?)(?: instead(?: of .+)?)?$"),
    ("remove", rf"^(?:please |can you |could you )?(?:remove|delete|erase|get rid of|take out|take away|take off|lose|drop|shave off|shave|"
               rf"eliminate|cut|leave out) {_T}(.+?)$"),
    ("remove", rf"^(?:no|without|no more|minus) {_T}(.+?)$"),
    ("remove", rf"^{_T}(.+?) (?:has to|have to|must|needs to|need to|should|can) go(?: away)?$"),
    ("remove", rf"^(?:take|get) {_T}(.+?) (?:off|out|away)(?: of (?:it|there|here|the \w+))?$"),
    ("instead", r"^(?:make it |make them |have |use |with |put |add |give (?:it|her|him|them) )?(?:a |an |the )?(.+?) instead of (?:the |a |an )?(.+?)$"),
    ("instead", r"^(?:make it |make them )?(?:a |an |the )?(.+?),? (?:not|rather than) (?:the |a |an )?(.+?)$"),
    ("replace", rf"^(?:please )?(?:replace|swap|switch|exchange) {_T}(.+?) (?:with|for|by|to) (.+?)$"),
    ("replace", rf"^(?:please )?(?:turn|change|convert|transform|make) {_T}(?!(?:the )?(?:it|this|that|everything|image|picture|scene|season|time|weather)\b)(.+?) (?:into|to|in to) (.+?)$"),
    ("age", r"^(?:make (?:her|him|them|it|the \w+) )?(older|younger|old|young|elderly)(?:,? (?:like|about|around|aged?) (\d+))?"
            r"(?: years old)?$"),
    ("swap", r"^(?:make|turn|change) (it|this|her|him|the \w+) (?:into |to )?(?:a |an |some )(.+)$"),
    ("swap", r"^(?:make|turn|change) (them) (?:into |to )?(?:some )?((?:[a-z-]+ ){0,2}[a-z-]+s)$"),
    ("swap", r"^what if (it|this|he|she|they) (?:was|were|is|are) (?:a |an |some )?(.+)$"),
    ("restyle", rf"^(?:please )?(?:make|paint|color|colour|turn|change) {_T}(?!(?:the )?(?:it|this|that|everything|image|picture|scene|season|time|weather)\b)(.+?) (?:(?:out of|made of|of|into|to) )?((?:\w+ )*\w+)$"),
    ("flip-time", r"^(?:(?:change|switch|flip|swap) (?:the )?time(?: of day)?(?: around)?|(?:make it )?(?:a )?(?:different|"
                  r"another|other) time of day)$"),
    ("flip-season", r"^(?:change|switch|flip|swap) (?:the )?season$"),
    ("it", r"^(?:please )?(?:make it|make them|make this|change it to|set it (?:at|in|during)|it should be|should be|"
           r"change the (?:season|time(?: of day)?) to|make the (?:season|time) ?|turn it (?:into )?|have it be)\s*"
           r"(?:a |an |the |in |at |during |)(.+?)$"),
    ("artist", r"^(?:make it |have it |have it be |make it be |let it be |it should be |as if it were |what if it was |what if it were |as if |like it was |paint it |painted |done )?(?:by|in the style of) "
               r"(.+?)(?: instead)?$"),
    ("holiday", rf"^(?:make it|make this|change it to|turn it into|it'?s|its|it is|set it (?:at|on|during)|at|on|for)?\s*"
                rf"({HOLIDAY})(?: now| instead| time| themed| season| edition)?$"),
    ("more", r"^(?:please |can you )?(?:make (?:it|this|the image|the picture) |it should (?:be|look) )?(?:look |feel |seem )?"
             r"(?:a bit |a little |slightly |much |even |way )?more ([a-z]+(?: and [a-z]+)?)(?: please| pls| plz)?$"),
    ("more", r"^(?:make (?:it|this|the image|the picture) )(?:look |feel |seem )?(?:a bit |a little |slightly |much |even |"
             r"way )?([a-z]+ier)$"),
    ("bare-instead", r"^(?:make it |make them |it should be |have |use |try |go with |with |do )?(?:a |an |some )?"
                     r"([a-z]+(?: [a-z]+)?) instead$"),
    ("wear", r"^(?:have (?:her|him|them|everyone|everybody) |make (?:her|him|them|everyone|everybody) )?(?:wear|wearing|"
             r"(?:dress|put) (?:her|him|them|everyone|everybody) in) (.+?)$"),
    ("add", r"^(?:please |can you )?(?:add|put on|put|place|include|insert|give it|give (?:him|her|them)|throw in|toss in|"
            r"bring in|let there be|there should be|there'?s|i want|we need|(?:it|he|she|they) needs?) (.+?)\??$"),
    ("attribute-after", r"^(?:make )?(?:the |her |his |their |all the )?([a-z]+) (?:is |are |should be |must be |to be |now )?"
                        r"(?:now |all )?((?:[a-z]+ )?[a-z]+)$"),
    ("to", r"^(?:the )?([\w'’-]+(?: [\w'’-]+){0,2}) ?(?:->|=>|→| to ) ?(?:a |an |the )?([\w'’-]+(?: [\w'’-]+){0,2})$"),
    ("fragment", r"^((?:[a-z]+ )+)([a-z]+)$"),
    ("bare", r"^(?:at |in |during |(?:a |an )?)(.+?)(?: version| style)?$"),  # "pixel art", "at dusk", "lego version"
]]


_MOVES = [re.compile(p, re.I) for p in [
    r"^(?:move|relocate|transport|take|bring|put|place|set|send|teleport) (?:it|him|her|them|this|everything|"
    r"the (?:scene|whole thing|picture|image)) ?(?:to|in|into|at|on|onto) (.+)$",
    r"^(?:move|relocate) (?:to|into) (.+)$",
    r"^(?:set|have|make|let) (?:it|this|the scene|everything|the image|the picture) (?:be |take place |happen |)"
    r"(?:in|at|on) (.+)$",
    r"^(?:it should|should|it could|it would|it will) (?:be|take place|happen) (?:in|at|on) (.+)$",
    r"^(?:have it |make it )?take place (?:in|at|on) (.+)$",
    r"^(?:in|at) (.+?) instead$",
    r"^what if (?:it|this|he|she|they) (?:was|were|is|are) (?:in|on|at) (.+)$",
    r"^(?:it'?s|it is) (?:in |at )?(.+)$",
    r"^change (?:it|the (?:place|location|setting|background|scene)) to (.+)$",
]]


def _is_place(phrase: str) -> bool:
    words = _phrase_words(phrase)
    return bool(words) and (any(w.lower() in scene.PLACE_NOUNS for w in words) or lexicon.is_place_name(
        " ".join(w for w in words if w[:1].isupper())))


_DOING = frozenset("""play be look have do get go become feel wear hold eat drink sit stand run walk dance sing read ride
fly swim smile laugh cry fight talk sleep jump climb hug kiss cook paint draw write build chase hunt""".split())
_GROUPS = frozenset("couple couples family families kids children people friends parents grandparents twins "
                    "siblings crowd".split())  # people, for "make them old"
_NOT_A_THING = frozenset("be look looks more less very too have feel seem appear like".split())


_VERBS = ("remove", "delete", "replace", "change", "make", "turn", "swap", "add", "convert", "transform", "move", "set",
          "put", "place", "give", "take", "have", "lose", "drop", "paint", "draw", "show")


def _fix_verb(text: str) -> str:
    """'remvoe the fog', 'mak the dress red', 'chnage the season': the command verb's typo mended."""
    first, _, rest = text.partition(" ")
    clipped = any(v.startswith(first.lower()) and len(v) == len(first) + 1 for v in _VERBS)  # "mak"
    swapped = next((v for v in _VERBS if sorted(v) == sorted(first.lower()) and v != first.lower()), None)
    if swapped and not lexicon.is_word(first):  # "mkae"
        return f"{swapped} {rest}"
    if len(first) >= 3 and first.lower() not in _VERBS and (clipped or not lexicon.is_word(first)):  # not "shave"
        close = difflib.get_close_matches(first.lower(), _VERBS, n=1, cutoff=0.8)
        if close:
            return f"{close[0]} {rest}"
    return text


_FILLER = re.compile(r"^(?:please|can (?:you|u)|could (?:you|u)|would you|i want to|i'd like to|let's|idk|i dunno|"
                     r"actually|ok(?:ay)?|hmm+|um+|uh+|so|now|also|oh|wait|yeah|lol|hey|and then|and|then|maybe)[\s,]+",
                     re.I)
_COMMAND = ("make", "add", "remove", "turn", "change", "put", "give", "set", "swap", "replace", "get rid", "take",
            "delete", "move", "convert")
# Where one instruction holds two ("add a dog and make it autumn", "no aurora, just stars"): the second part
# starts after ", and" / " and" / " then" with a command verb, or after ", just" / ", only" (a thing to add).
_SPLIT = re.compile(rf"\s*(?:,\s*(?:and\s+|then\s+)?|\s+and\s+|\s+then\s+|;\s*)(?=(?:{'|'.join(_COMMAND)})\b)|"
                    r",\s*(?=(?:just|only)\s)|,\s*(?:and|but)\s+|;\s*", re.I)


_TYPOS = {"shoud": "should", "shold": "should", "sould": "should", "runing": "running", "blosom": "blossom",
          "blossum": "blossom", "diff": "different", "colour it in": "in color", "color it in": "in color",
          "bg": "background", "pic": "picture", "w/o": "without"}


def normalise(part: str) -> str:
    """One instruction as the rules read it: no filler ("idk", "actually", "please"), no 'thanks', typos of
    the command verb and of "them"/"the" mended, "instead" spelled right."""
    text = re.sub(r"[.!]+$", "", " ".join(part.strip().split())).strip()
    for _ in range(3):  # "ok so actually make it red"
        text = _FILLER.sub("", text)
    text = re.sub(r"\bmakeit\b", "make it", text, flags=re.I)
    text = re.sub(r"\b(?:tehm|thme|thm)\b", "them", text, flags=re.I)
    text = re.sub(r"\b(?:teh|hte)\b", "the", text, flags=re.I)
    text = re.sub(r"\b(them|it) all\b", r"\1", text, flags=re.I)  # "make them all red"
    text = re.sub(r"\b(?:kinda|kind of|sorta|sort of|somewhat|a tad|actually)\s+", "", text, flags=re.I)  # "kinda gloomy"
    sky = re.match(r"make the (weather|sky) (?:[a-z]+ and )?(\w+)$", text, re.I)
    if sky and (sky.group(1).lower() == "weather" or _weather_stem(sky.group(2))):
        text = "make it " + sky.group(2)  # "make the weather calm and sunny", "make the sky cloudy"; not "the sky purple"
    for typo, word in _TYPOS.items():
        text = re.sub(rf"\b{typo}\b", word, text, flags=re.I)
    text = _fix_verb(text)
    text = re.sub(r"[\s,]+(?:please|pls|plz|thanks|thank you|lol)$", "", text, flags=re.I).rstrip("?. ")
    text = re.sub(r"\b(?:insted|intead|instaed|isntead|instad|instea)\b", "instead", text, flags=re.I)
    text = re.sub(r"(?<=\w) w/? (?=\w)", " with ", text)  # "night time w moonlight"
    return _FILLER.sub("", text)


def direct_edits(prompt: str, instruction: str) -> list[DirectEdit]:
    """The rule edits that apply, most specific first (often none). An instruction of two parts ("add a dog
    and make it autumn") gets the second part's edit made on the first's; where the second part finds
    nothing, the first part's edits stand alone."""
    if not prompt.strip() or not instruction.strip():
        return []
    parts = [p for p in _SPLIT.split(" ".join(instruction.split())) if p and p.strip(" ,;")]
    parts = [re.sub(r"^(?:just|only)\s+(?!add\b)", "add ", p.strip(), flags=re.I) if k else p for k, p in enumerate(parts)]
    parts = [normalise(p) for k, p in enumerate(parts) if not (k and re.match(r"\s*(?:but\s+)?(?:keep|leave)\b", p, re.I))]
    if not parts or not parts[0]:
        return []
    first = _direct_edits(prompt, parts[0])
    if len(parts) == 1 or not first:
        return first
    text, sure, rules = first[0].text, first[0].sure, [first[0].rule]
    for part in parts[1:]:
        then = _direct_edits(text, part) if part else []
        if not then:
            return first
        text, sure = then[0].text, sure and then[0].sure
        rules.append(then[0].rule)
    return [DirectEdit(text, "+".join(rules), sure)]


def _direct_edits(prompt: str, text: str) -> list[DirectEdit]:
    """The rule edits for one normalised instruction."""
    out: list[DirectEdit] = []

    def keep(result: str | None, rule: str, sure: bool = True) -> None:
        if result and result.strip() and result.strip() != prompt.strip() and all(o.text != result for o in out):
            out.append(DirectEdit(result, rule, sure))

    def keep_edit(edit: DirectEdit | None) -> None:
        if edit:
            keep(edit.text, edit.rule, edit.sure)

    recoloured = scene.colors(prompt, text)
    if recoloured:  # "make the colors pop"
        keep(recoloured, "colors")
        return out
    feeling = scene.mood_of(text)
    named = re.match(r"make the ([a-z]+) ", text, re.I)
    thing = named.group(1) if feeling and named and named.group(1).lower() not in (
        "scene", "image", "picture", "mood", "atmosphere", "vibe", "place") else None
    np_ = find_np(prompt, thing) if thing else None
    if thing and np_ is None:
        feeling = None  # "make the lighting dull": about a thing the prompt does not name
    word = text.split()[-1]
    if feeling and np_ is not None and not feeling[1] and word.isalpha():  # "make the sea calm": the sea's own words
        toks = _words(prompt)
        word = _match_case(word, toks[np_.mod].group(0), prompt, start=toks[np_.mod].start())  # "Sad clown" -> "Happy clown"
        keep(restyle_free(prompt, np_, [word]) if np_.head > np_.mod else tidy(
            prompt[:toks[np_.head].start()] + word + " " + prompt[toks[np_.head].start():]), "restyle")
        return out
    if feeling:  # "make it spooky", "happier", "less quiet", "cheer it up"
        keep(scene.mood(prompt, *feeling), "mood")
        return out
    it_place = re.match(r"(?:make|turn|change) it(?: into| to)? ([A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*){0,2})$", text)
    if it_place and lexicon.is_place_name(it_place.group(1)):  # "make it Mount Fuji": a move
        edit = scene.move(prompt, it_place.group(1))
        keep_edit(edit)
        return out
    hit = next(((k, m) for k, m in ((k, p.match(text)) for k, p in enumerate(_MOVES)) if m), None)
    place = hit[1].group(1) if hit else ""
    last = place.split()[-1].lower() if place.split() else ""
    if place and not (last in SEASONS or last in TIMES or _weather_stem(last) or _is_medium(place) or re.search(
            r"\binstead of\b|^(?:the )?style\b", place, re.I)) and (
            (hit[0] < 2 and not re.match(r"set\b", text, re.I)) or _is_place(place) or re.fullmatch(
                r"(?:[A-Z][\w'’.-]*\s?){1,3}", place.strip(" *\"'"))):
        # "move it to Seoul", "have it be in a swamp", "it's the Gobi"; not "set it on fire"
        place = re.sub(r"[\s,]+instead$", "", place, flags=re.I)  # "put it on a boat instead"
        edit = scene.move(prompt, re.sub(r"^the\s+(?=[A-Z])", "", place))
        keep_edit(edit)
        return out

    for name, pattern in _RULES:
        m = pattern.match(text)
        if not m:
            continue
        if name == "add" and re.match(r"(?:it|him|her|them|this|the)\b", m.group(1), re.I):
            break  # "put her in a desert", "put the boy on the ground": a move, left to the models
        if name in ("medium", "bare"):
            what, _, by = (text if name == "bare" and text.lower().endswith(" style") else m.group(1)).partition(" by ")
            what = re.split(r"\s(?:a|an)\s", " " + what)[-1].strip()  # "make the mural a 3D illustration"
            last = what.split()[-1].lower() if what.split() else ""
            mended = difflib.get_close_matches(last, MEDIUM_HEADS, n=1, cutoff=0.85) if len(last) >= 5 else []
            if mended and last not in MEDIUM_HEADS:  # "a watercolour paintng"
                what = what[:len(what) - len(last)] + mended[0]
            if _is_medium(what):
                edit = medium(prompt, what)
                if edit and by.strip():  # the artist replaced, or said with the new medium
                    by_new = artist(edit.text, by) if edit.sure else None
                    edit = DirectEdit(by_new, "medium", edit.sure) if by_new else medium(prompt, f"{what} by {by.strip()}")
                keep_edit(edit)
                break
            if name == "bare":
                if not _it_rule(prompt, m.group(1).lower(), keep) and re.match(
                        r"(?:a|an|some|two|three|several|lots of|a few)\s+\w+", text, re.I) and len(text.split()) <= 10:
                    keep(add(prompt, text), "add", sure=len(_chunks(prompt)) >= 5)  # "a tiny hiker on the ridge"
            if name == "medium" or not out:
                continue
            break
        if name == "remove":
            target = re.sub(r"\s+(?:off|away|out)$", "", m.group(1))
            if re.search(r"\b(?:add|make|turn|change|replace|put|give)\b", target, re.I):
                break  # two edits in one ("get rid of the snow and add water"): left to the models
            if _weather_stem(target.split()[-1]) and not find_np(prompt, target):
                keep(_remove_weather(prompt, _weather_stem(target.split()[-1])), "weather")
            else:  # "the forest/trees", "the buckets and spades": each part, each time it is named
                result = prompt
                parts = re.split(r"\s*(?:/|&|,|\band\b|\bor\b)\s*", target)
                if len(parts) == 1 and not find_np(prompt, target):  # "no birds": the seagull, the pigeons
                    kind = kin_word(prompt, target)
                    parts = [kind] if kind else parts
                for part in parts:
                    for _ in range(3):
                        if not (part.strip() and find_np(result, part)):
                            break
                        result, before = remove(result, part) or result, result
                        if result == before:
                            break
                keep(result, "remove")
        elif name == "instead":
            new = re.sub(r"^(?:it|them|him|her|this)\s+(?:(?:in|on|at|into|onto|to)\s+)?(?:(?:a|an|the)\s+)?", "",
                         m.group(1), flags=re.I)
            old = m.group(2)
            lead = re.match(r"(?:make|turn|have) (?:the |his |her |its )?([\w-]+) (?=\S)", new, re.I)
            if lead and find_np(prompt, lead.group(1)):
                new = new[lead.end():]  # "make the backpack canvas instead of leather": canvas
            where = re.match(r"(.+?) (?:in|on|at|through|behind) (?:the|a|an) [\w-]+$", old)
            if where and find_np(prompt, where.group(1)):
                old = where.group(1)  # "mars instead of earth in the window": the earth
            pair = new.split()
            if len(pair) == 2 and _attribute(pair[1]) and len(old.split()) == 1 and find_np(prompt, pair[0]):
                new = pair[1]  # "eyes red not blue": the eyes' blue becomes red
            ws_new, ws_old = _weather_stem(new.split()[-1]), _weather_stem(old.split()[-1])
            if _is_medium(new) and not re.search(rf"\b{re.escape(new)}\b", prompt, re.I):  # "oil painting not digital"
                edit = medium(prompt, new)
                keep_edit(edit)
            elif ws_new and ws_old:
                keep(weather(prompt, ws_new, ws_old), "weather")
            else:
                keep(replace_all(prompt, old, new) or _swap_kind(prompt, old, new), "replace")
        elif name == "replace":
            old, new = m.group(1), m.group(2)
            if _weather_stem(old) and _weather_stem(new.split()[-1]):  # "swap fog for snow": "Snowy Morning"
                keep(weather(prompt, _weather_stem(new.split()[-1]), _weather_stem(old)), "weather")
                break
            span = _person(prompt) if old.lower() in ("him", "her", "he", "she") else None
            if span:  # "swap him for Danny DeVito"
                s_, e_ = span
                keep(tidy(prompt[:s_] + _match_case(new, prompt[s_:e_], prompt) + prompt[e_:]), "replace")
                break
            words = _phrase_words(new)
            if not words or words[0].lower() in _NOT_A_THING:
                break  # "to be modern", "to look older": left to the models
            olds = _phrase_words(old)
            if not re.match(r"(?:replace|swap|switch|exchange)\b", text, re.I) and all(
                    w.lower() in COLORS | MATERIALS for w in words) and not all(
                    w.lower() in COLORS | MATERIALS for w in olds) and not re.match(r"(?:a|an)\s", new, re.I):
                keep(restyle(prompt, old, words), "restyle")
            else:
                keep(replace_all(prompt, old, new) or _swap_kind(prompt, old, new), "replace")
        elif name == "restyle":
            if m.group(1).lower() in ("them", "it", "this", "these", "those"):
                continue  # "make them blue": the subject's, the "it" rule's
            # the split between target and colour is ambiguous: try each split point
            words = _phrase_words(m.group(0)[m.start(1):])
            for k in range(1, len(words)):  # the longest tail of colours, materials, sizes...
                tail = [w for w in words[k:] if w.lower() not in ("out", "of", "made")]
                if tail and all(_attribute(w) for w in tail):
                    keep(restyle(prompt, " ".join(words[:k]), tail), "restyle")
                    break
            else:  # "make the umbrellas transparent": one adjective, put before the thing
                last = words[-1].lower() if words else ""
                if len(words) >= 2 and last.endswith(_ADJECTIVE_ENDINGS) and last not in _NOT_A_THING:
                    keep(restyle(prompt, " ".join(words[:-1]), [words[-1]]), "restyle")
        elif name == "it":
            if not _it_rule(prompt, m.group(1).lower(), keep):
                continue  # "make it creepier": maybe another rule's
        elif name == "wear":  # "wear a wizard robe": with the person
            if m.group(0).lower().startswith("put") and not lexicon.is_kind_of(m.group(1).split()[-1], "clothing"):
                continue  # "put them in Rome": a move
            keep(add(prompt, "wearing " + m.group(1)), "add", sure=False)
        elif name == "swap":  # "make it a husky", "make her an old lady", "make the alley a dirt road"
            who, new = m.group(1).lower(), re.sub(r"\s+instead$", "", m.group(2).strip(" .!"), flags=re.I)
            if new.split()[0].lower() in _DOING:
                continue  # "make them play checkers": something they do, not what they are
            named = who[4:] if who.startswith("the ") and find_np(prompt, who[4:]) else None
            if who.startswith("the ") and not named:
                break
            if who in ("it", "this") and new[:1].isupper() and lexicon.is_place_name(new):  # "make it Mount Fuji"
                edit = scene.move(prompt, new)
                keep_edit(edit)
                break
            swapped = swap(prompt, new, named, person=who in ("her", "him", "he", "she"))
            if not swapped:
                continue  # "make it a sunny morning": the time rule's
            keep(swapped, "swap")
        elif name == "flip-time":  # "change the time of day": night becomes day, day night
            dark = _TIME_IN_PROMPT.search(prompt)
            want = "day" if dark and (dark.group(1) or "day").lower().replace(" ", "") in _DARK else "night"
            keep(_clear(time_of_day(prompt, want), "day" if want == "day" else "night"), "time")
        elif name == "age":  # "make her older, like 70": the age word replaced, else put before the person
            older = m.group(1).lower() in ("older", "old", "elderly")
            new = f"{m.group(2)}-year-old" if m.group(2) else ("elderly" if older else "young")
            found = [t for t in _words(prompt) if t.group(0).lower() in AGES | {"little", "teenage", "teen", "baby"}]
            if found:
                t = found[0]
                text = prompt[:t.start()] + _match_case(new, t.group(0), prompt) + prompt[t.end():]
                if older:  # "a little girl" grown old is a woman
                    grown = {"girl": "woman", "girls": "women", "boy": "man", "boys": "men"}
                    text = re.sub(r"\b(girls?|boys?)\b", lambda g: _match_case(grown[g.group(1).lower()], g.group(1), prompt),
                                  text, count=1, flags=re.I)
                keep(tidy(text), "restyle")
            else:
                who = next((t for t in _words(prompt) if t.group(0).isalpha() and (
                    t.group(0).lower() in _GROUPS or lexicon.is_person(t.group(0)))), None)
                if who:
                    keep(tidy(prompt[:who.start()] + _match_case(new, who.group(0), prompt) + " " + prompt[who.start():]),
                         "restyle")
        elif name == "flip-season":  # "change the season": to the opposite one
            now = next((m2.group(2).lower() for m2 in _SEASON_WORD.finditer(prompt) if m2.group(2).lower() in SEASONS
                        and m2.group(2).lower() not in ("spring", "fall") or m2.group(1) or m2.group(2)[:1].isupper()), None)
            want = {"spring": "autumn", "summer": "winter", "autumn": "spring", "fall": "spring", "winter": "summer"}.get(
                now or "", "winter")
            keep(season(prompt, want), "season")
        elif name == "to":  # "elephant to giraffe", "soccer -> basketball": named in the prompt, replaced
            old_, new_ = m.group(1), m.group(2)
            said = {stem(w) for w in _phrase_words(prompt)}
            if old_.split()[0].lower() in _COMMAND + ("go", "it", "them", "him", "her", "this") or not find_np(
                    prompt, old_) or not all(stem(w) in said for w in _phrase_words(old_)):
                continue  # "extract the canoes to a greenscreen": not a thing of the prompt
            keep(replace_all(prompt, old_, new_), "replace")
        elif name == "artist":
            edit = artist(prompt, m.group(1), style="style" in m.group(0).lower())
            if not edit and re.match(r"(?:change|switch|set) the", m.group(0), re.I):
                continue  # "change the painter to a dog": a swap
            keep(edit, "artist")
        elif name == "holiday":  # "its halloween now": the other holiday named becomes this one
            old_day = re.search(rf"\b(?:{HOLIDAY})\b", prompt, re.I)
            if old_day:
                keep(tidy(prompt[:old_day.start()] + _match_case(m.group(1), old_day.group(0), prompt)
                           + prompt[old_day.end():]), "holiday")
            else:
                keep(add_tag(prompt, m.group(1)), "holiday", sure=False)
        elif name == "shave":  # "shave him": the beard goes, and "bearded"
            hair = r"(?:beard|mustache|moustache|goatee|stubble)"
            text = re.sub(rf"\s*\b(?:with|and) (?:a |an |his )?(?:[\w-]+ ){{0,2}}{hair}\b|,\s*(?:[\w-]+ ){{0,2}}{hair}(?=\s*(?:,|$))|"
                          r"\b(?:bearded|mustachioed|moustached|unshaven)\s+", "", prompt, flags=re.I)
            if text == prompt:
                text = next((e.text for e in _direct_edits(prompt, "remove the beard")), prompt)
            text = tidy(text)
            keep(text, "remove")
        elif name == "bare-instead":  # "blue instead": the subject's colour
            words = m.group(1).split()
            subject = _subject(prompt)
            if _is_medium(m.group(1)):  # "realistic photo instead"
                edit = medium(prompt, m.group(1))
                keep_edit(edit)
            elif len(words) == 1 and _weather_stem(words[0]):  # "foggy instead"
                keep(_clear(weather(prompt, _weather_stem(words[0])), "sun" if _weather_stem(words[0]) == "sun"
                            else None), "weather")
            elif _time_key(m.group(1).lower()) in TIMES or m.group(1).lower() in SEASONS:
                _it_rule(prompt, m.group(1).lower(), keep)  # "daytime instead", "winter instead"
            elif subject and all(_attribute(w) for w in words):
                keep(restyle(prompt, subject, words), "restyle")
            elif not all(_attribute(w) for w in words) and words[0].lower() != "about":  # "goats instead"
                keep(swap(prompt, m.group(1)), "swap")
        elif name == "more" and m.group(1).lower() in DESIGNS and _it_rule(prompt, m.group(1).lower(), keep):
            pass  # "make it more maximalist": the design style rule's
        elif name == "more":
            mood = re.sub(r"ier$", "y", m.group(1))  # "creepier": creepy
            if not find_np(prompt, mood):
                keep(add_tag(prompt, mood),
                     "more")
        elif name == "attribute-after":  # "raincoat red", "the wall is brick", "all the houses are grey"
            attrs = _phrase_words(m.group(2))
            if attrs and all(_attribute(w) and (_classes([w]) or w.lower() in MATERIALS) for w in attrs) and \
                    find_np(prompt, m.group(1)):
                keep(restyle(prompt, m.group(1), attrs), "restyle")
                break
            continue
        elif name == "fragment":  # "short hair", "red dress": the attribute of a thing that is there
            attrs, thing = _phrase_words(m.group(1)), m.group(2)
            if attrs and all(_attribute(w) for w in attrs) and find_np(prompt, thing):
                keep(restyle(prompt, thing, attrs), "restyle")
                break
            continue  # not an attribute: maybe a bare medium or time
        elif name == "add":
            more = re.match(r"(?:a little |a bit |some |much )?more (\w+)(?: to (?:the |this )?\w+)?$", m.group(1), re.I)
            if more:  # "add a little more red to the painting"
                keep(add_tag(prompt, more.group(1)), "more")
                break
            thing = re.sub(r"\s+(?:in|on) (?:there|here|it)$|\s+(?:there|here)$", "", m.group(1), flags=re.I)
            if not find_np(prompt, thing) or len(_phrase_words(thing)) > 1:
                # in a tag list a new tag is plainly right; elsewhere where it goes is a guess
                added = add(prompt, thing)
                if not re.search(r"\b(?:fog|mist|light|lights|lighting|glow|sun|sunlight|rain|snow|colou?rs?|haze)\b",
                                 thing, re.I):  # a tractor on the "empty" road: the road is not empty any more
                    added = scene.clear(added, "crowd")
                keep(added, "add", sure=len(_chunks(prompt)) >= 5)
        break
    return out


def _time_key(what: str) -> str:
    """'night time', 'day-time' -> the TIMES key ('nighttime', 'daytime')."""
    return what.replace("-", "").replace(" time", "time")


def _it_rule(prompt: str, what: str, keep) -> bool:
    """Season, time of day, weather or the subject's colour ("make it winter", "make it silver");
    False when `what` is none of them."""
    what = re.sub(r"\b(night|day) time\b", r"\1time", re.sub(r"^the\s+(?=day\b|night\b)", "", what.strip()))
    what = re.sub(r"^(?:look|feel|seem)\s+(?:like\s+)?", "", what)  # "make it look brand new"
    what = re.sub(r"^(night|day|winter|summer|autumn|spring|sunset|sunrise|rainy|snowy|foggy|stormy)\s+(?:scene|shot|version|"
                  r"setting|time)\b", r"\1", what)  # "a night scene with lanterns"
    what = re.sub(r"^(?:the\s+)?(?:dead|middle|depths?|heart|height)\s+of\s+(?:the\s+)?|^(?:deep|high|full)\s+(?=winter|summer)",
                  "", what)
    what = re.sub(r"^(winter|summer|spring|autumn|fall)\s*time$", r"\1", what)  # "spring time"
    material = re.match(r"(?:made )?(?:out of|of|from) (?:a |an |some )?([a-z][\w -]*)$", what)
    if material:  # "make it out of lego": the prompt's material word, else the subject's
        found = re.search(rf"\b(?:{'|'.join(sorted(MATERIALS, key=len, reverse=True))})\b", prompt, re.I)
        new = material.group(1).strip()
        if found:
            keep(tidy(prompt[:found.start()] + _match_case(new, found.group(0), prompt) + prompt[found.end():]),
                 "restyle")
        elif _subject(prompt):
            keep(restyle(prompt, _subject(prompt), [new]), "restyle")
        return True
    words = what.split()
    if len(words) >= 2 and all(w in SEASONS or w in TIMES or w == "day" or _weather_stem(w) for w in words) and (
            len({"season" if w in SEASONS else "time" if w in TIMES or w == "day" else "weather" for w in words})
            == len(words)):  # "a sunny spring day", "rainy night": each part in turn
        text = prompt
        for w in words:
            if w == "day" and re.search(r"\bday\b", text, re.I):
                continue
            step: list[DirectEdit] = []
            _it_rule(text, w, lambda t, rule, sure=True: step.append(DirectEdit(t, rule, sure)))
            text = step[0].text if step and step[0].text else text
        keep(text, "season")
        return True
    both = re.match(r"(.+?)\s+(?:with|and)\s+(.+)$", what)  # "night with northern lights"
    if both and both.group(1).split()[-1] in {*SEASONS, *TIMES, *WEATHER} | {a for a, _, _ in WEATHER.values()}:
        first: list[DirectEdit] = []
        _it_rule(prompt, both.group(1), lambda text, rule, sure=True: first.append(DirectEdit(text, rule, sure)))
        if first and first[0].text:
            keep(add(first[0].text, both.group(2)), first[0].rule)
        return bool(first)
    key = _time_key(what)
    words = what.split()
    if len(words) == 2 and words[0] in ("early", "late", "mid") and words[1] in TIMES:  # "early morning"
        keep(time_of_day(prompt, words[1], label=what), "time")
    elif what in SEASONS:
        keep(season(prompt, what), "season")
    elif key in TIMES or what in TIMES:
        keep(_clear(time_of_day(prompt, key if key in TIMES else what), "night" if (key in _DARK or what in _DARK)
                    else "day"), "time")
    elif len(words) == 1 and _weather_stem(what):
        keep(_clear(weather(prompt, _weather_stem(what)), "sun" if _weather_stem(what) == "sun" else None), "weather")
    elif words and all(w in COLORS | MATERIALS for w in words) and not _title_like(prompt) or (
            len(words) == 1 and words[0] in CONDITIONS and not any(w.lower() in CONDITIONS for w in re.findall(r"[\w-]+", prompt))):
        # "make it rusty" on "cute robot watering plants": a rusty robot (colours and conditions only, there)
        subject = _subject(prompt, bare=all(w in COLORS | CONDITIONS for w in words))
        if subject:
            keep(restyle(prompt, subject, words), "restyle")
    elif words and " ".join(words) in ("brand new", "new again", "like new"):
        found = [m for m in re.finditer(r"[\w-]+", prompt) if m.group(0).lower() in CONDITIONS]
        if not found:
            return False
        m = found[0]
        keep(tidy(prompt[:m.start()] + _match_case("brand new", m.group(0), prompt) + prompt[m.end():]), "restyle")
    elif words and (all(w in COLORS for w in words) or all(w in MATERIALS for w in words)):
        # a title ("Women's Linen Maxi Dress - Sage Green - Size M", "Ceramic Coffee Mug ... Stoneware"): its
        # colour part or its colour / material words become the new ones
        kind = COLORS if words[0] in COLORS else MATERIALS
        new = _match_case(" ".join(words), prompt.split()[0], prompt)
        part = next(((s_, e_) for s_, e_ in _chunks(prompt)[1:] if 1 <= len(prompt[s_:e_].split()) <= 3
                     and prompt[s_:e_].split()[-1].lower() in kind), None) if kind is COLORS else None
        def found_in(kind):
            return [m for m in re.finditer(r"[\w-]+", prompt) if m.group(0).lower() in kind and not lexicon.is_named_thing(
                m.group(0) + " " + (re.match(r"\s*([\w-]*)", prompt[m.end():]).group(1)))]  # not "Golden Gate"
        found = found_in(kind)
        if not part and not found and kind is COLORS and all(w in MATERIALS for w in words):
            found = found_in(MATERIALS)  # "make it silver": the brass telescope
        if part:
            lead = len(prompt[part[0]:part[1]]) - len(prompt[part[0]:part[1]].lstrip())
            keep(tidy(prompt[:part[0] + lead] + new + prompt[part[1]:]), "restyle")
        elif found:
            text, m, run = prompt, found[0], 1
            while run < len(found) and prompt[found[run - 1].end():found[run].start()] == " ":
                run += 1  # "Oak Wood Floating Shelves": the run of material words goes as one
            for other in reversed(found[run:]):  # a part that is only another material ("…, Stoneware") goes
                if re.search(rf"(?:^|[,;|-])\s*{re.escape(other.group(0))}\s*(?=$|[,;|-])", text[other.start() - 3:other.end() + 2]):
                    text = text[:other.start()] + text[other.end():]
            keep(tidy(text[:m.start()] + new + text[found[run - 1].end():]), "restyle")
        else:
            return False
    elif words and len(words) <= 2 and words[-1] in DESIGNS:
        words = [w for w in words if w not in ("more", "very", "super", "totally")]
        # "make it gothic": the prompt's design style becomes the new one, the other styles go
        found = [m for m in re.finditer(r"[\w-]+", prompt) if m.group(0).lower() in DESIGNS]
        if not found:
            return False
        text = prompt
        for m in reversed(found[1:]):
            span = re.match(r"\s*(?:design|style)?", text[m.end():], re.I)
            text = text[:m.start()] + text[m.end() + (span.end() if span and span.group(0).strip() else 0):]
        m = found[0]
        keep(tidy(text[:m.start()] + _match_case(" ".join(words), m.group(0), prompt) + text[m.end():]), "restyle")
    else:
        return False
    return True


def _clear(text: str | None, kind: str | None) -> str | None:
    return scene.clear(text, kind) if text and kind else text


def _subject(prompt: str, bare: bool = False) -> str | None:
    """The first noun of a sentence-like prompt: 'a red motorcycle speeding through...' -> motorcycle; with
    `bare`, also of one that starts without a determiner ("hot air balloons over cappadocia")."""
    toks = _words(prompt.split(",")[0])
    if not toks or (toks[0].group(0).lower() not in DETERMINERS and not (
            bare and toks[0].group(0).isalpha() and toks[0].group(0).islower() and len(toks) >= 3)):
        return None
    head = None  # with no determiner, a lowercase start is the subject's own: "hot air balloons over cappadocia"
    for t in toks[0 if toks[0].group(0).lower() not in DETERMINERS else 1:]:
        w = t.group(0).lower()
        if w in PREPOSITIONS or w.endswith("ing") or (w.endswith("ed") and len(w) > 4) or w in ("is", "are", "who", "that"):
            break
        head = t.group(0)
    return head


def _remove_weather(prompt: str, s: str) -> str | None:
    adj, ing, phrase = WEATHER[s]
    for pat in (rf"\s*\b{re.escape(phrase)}\b", rf",?\s*\b(?:{adj}|{ing})\b(?=\s*(?:,|$))", rf"\b(?:{adj}|{ing})\s+"):
        new = re.sub(pat, "", prompt, count=1, flags=re.I)
        if new != prompt:
            return tidy(new)
    return None


# scene.py builds on this module's phrase helpers, and this module's rules call its clashes, moods and moves:
# imported last, once every name above exists
from . import scene  # noqa: E402
