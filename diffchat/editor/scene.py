"""Rule edits about the whole scene: what clashes with a new season, weather, time or medium (autumn leaves
in winter, raindrops on a sunny morning, "shot on Canon EOS R5" on an oil painting), moods ("make it
spooky": the quiet harbour is not quiet any more) and moves to another place ("move it to Seoul").
Like direct.py, each rule finds what it changes in the prompt as words and keeps the rest as written."""
from __future__ import annotations

import re

from . import lexicon
from .direct import (DETERMINERS, MEDIUM_HEADS, PREPOSITIONS, DirectEdit, _add_phrase, _chunks, _match_case, _title_like, tidy,
                     _words, add_tag)

# ---------------------------------------------------------------------------------------------- clashes
_AUTUMN = r"(?:autumn|fall|falling|fallen|red|orange|golden) (?:leaves|foliage|colou?rs)|autumn trees"
_SNOW = r"snow falling|falling snow|snow-covered|snow-capped|snowy|snowflakes|snowfall|snow|icicles|frosty|frost|frozen|icy|ice-covered"
_CLASH = {
    "winter": rf"{_AUTUMN}|cherry blossoms?|blooming flowers|spring flowers|lush green grass|green leaves|in full bloom|in bloom",
    "summer": rf"{_SNOW}|{_AUTUMN}|bare trees|(?:at |on )?christmas(?: eve| day)?",
    "spring": rf"{_SNOW}|{_AUTUMN}|bare trees|(?:at |on )?christmas(?: eve| day)?",
    "autumn": rf"{_SNOW}|cherry blossoms?|spring flowers|blooming flowers|in full bloom|in bloom",
    "sun": r"raindrops|rain-soaked|puddles|overcast(?: sky)?|storm clouds|dark clouds|gr[ae]y sky",
    "night": r"(?:bright |warm |midday )?(?:sunshine|sunlight|daylight)|rays of (?:sun)?light|sun ?rays|sunbeams|god rays|"
             r"sunny|midday sun",
    "day": r"moonlight|moonlit|starry sky|stars|full moon",
    "paint": r"shot on [^,;|]+|\d+mm(?: lens)?(?: f/[\d.]+)?|long exposure|national geographic|f/[\d.]+|(?:kodak|fuji|portra|cinestill)\b[^,;|]*|35mm film|dslr|bokeh|"
             r"(?:ultra |hyper|hyper-|photo-?)?realistic|photorealism|photograph|photography|photo|raw photo|"
             r"depth of field|shallow depth of field|octane render|unreal engine(?: \d+)?|8k uhd|canon eos[^,;|]*|"
             r"hasselblad[^,;|]*|sony a7[^,;|]*",
    "crowd": r"empty|deserted|no humans|no people|nobody|uninhabited",
    "calm": r"storm clouds|dark clouds|crashing waves|stormy|thunderstorm|lightning|turbulent|raging",
    "photo": r"oil painting|digital painting|painting|illustration|concept art|digital art|anime style|anime|cartoon|"
             r"painterly|(?:thick |visible |bold |loose )?brush ?strokes|impasto|palette knife|watercolou?r|sketch|drawing|"
             r"cel shading|manga",
}
_ADJECTIVES = {"snow-covered", "snow-capped", "snowy", "frosty", "moonlit", "sunny", "rain-soaked", "painterly", "empty",
               "deserted", "uninhabited", "frozen", "icy", "ice-covered"}


def clear(prompt: str, kind: str) -> str:
    """Drop what clashes with the new `kind` (a key of _CLASH): a whole comma part, a "with X" phrase, an
    adjective before its noun, or a phrase of two or more words; a single noun inside a title stays (it
    may be the subject: "Cherry Blossom Tree")."""
    pattern = re.compile(rf"\b(?:{_CLASH[kind]})\b", re.I)
    text = prompt
    for m in reversed(list(pattern.finditer(prompt))):
        span = _span(text, m)
        if span:
            text = text[:span[0]] + text[span[1]:]
    text = tidy(text)
    return text[:1].upper() + text[1:] if prompt[:1].isupper() and text[:1].islower() else text  # "Frozen waterfall"


def _span(text: str, m: re.Match) -> tuple[int, int] | None:
    for s, e in _chunks(text):
        part = text[s:e]
        if s <= m.start() and m.end() <= e:
            words = _words(part)
            lead = re.match(r"\s*(?:and\s+|with\s+)?(?:(?:a|an|the|some|lots of)\s+)?", part).end()
            if re.fullmatch(r"[\s.]*", text[m.end():e]) and s + lead >= m.start() - 1:
                return (s, e) if s > 0 else (s, min(len(text), e + 1))  # the whole part
            w = re.search(r"\s*\bwith\s+(?:\w+\s+)?$", text[s:m.start()])
            if words and w:  # "large windows with raindrops"
                return s + w.start(), m.end()
            word = m.group(0).lower()
            if word in _ADJECTIVES and re.match(r"\s+\w", text[m.end():e]):
                return m.start(), m.end() + len(re.match(r"\s+", text[m.end():]).group(0))
            if " " in word and (not _title_like(part) or re.match(r"(?:at|on|with|in) ", word)):
                return m.start(), m.end()
            return None
    return None


PAINTED = ("paint", "sketch", "draw", "illustrat", "watercolo", "anime", "cartoon", "pixel", "glass", "mosaic",
           "print", "comic", "manga", "mural", "pastel", "charcoal", "ink", "fresco", "tapestry", "woodcut", "ukiyo",
           "style", "art", "cut", "bust", "sculpt", "statue", "lego", "clay", "poster", "embroider")


def clear_media(prompt: str, new: str) -> str:
    """After a change of medium: a painting keeps no camera tags, a photo no painting tags."""
    low = new.lower()
    if re.search(r"photo|photograph|realistic|film|polaroid|camera", low):
        return clear(prompt, "photo")
    if any(p in low for p in PAINTED):
        return clear(prompt, "paint")
    return prompt


# ---------------------------------------------------------------------------------------------- moods
MOODS = {
    "calm": "calm quiet peaceful tranquil serene idyllic cozy cosy gentle relaxing relaxed restful",
    "happy": "happy happier cheerful joyful joyous smiling smile laughing playful whimsical festive lively jolly upbeat",
    "sad": "sad lonely melancholic melancholy gloomy somber sombre sorrowful depressing depressed bleak desolate forlorn "
           "crying tears expressionless frowning",
    "scary": "spooky creepy eerie sinister evil ominous haunted scary menacing terrifying horror macabre apocalyptic "
             "post-apocalyptic dystopian hellish demonic",
    "cute": "cute kawaii adorable cuddly",
    "angry": "angry furious raging fierce violent chaotic",
    "dull": "boring dull bland",
    "epic": "epic dramatic majestic intense heroic",
    "utopian": "utopian",
}
_CLUSTER = {w: c for c, words in MOODS.items() for w in words.split()}
_OPPOSITE = {"calm": ("angry", "scary", "epic"), "happy": ("sad", "scary", "angry"), "sad": ("happy", "cute"),
             "scary": ("happy", "cute", "calm", "utopian"), "cute": ("scary", "angry"),
             "angry": ("calm", "happy", "cute"), "dull": ("epic",), "epic": ("dull", "calm"),
             "utopian": ("scary", "sad")}
_LESS = {"calm": "lively", "happy": "melancholic", "sad": "cheerful", "scary": "cheerful", "cute": "menacing",
         "angry": "calm", "dull": "dramatic", "epic": "calm", "utopian": "dystopian"}
_MOOD_WORDS = {**{w: w for w in _CLUSTER}, "happier": "happy", "spookier": "spooky", "creepier": "creepy",
               "scarier": "scary", "angrier": "angry", "sadder": "sad", "lonelier": "lonely", "cuter": "cute",
               "calmer": "calm", "quieter": "quiet", "gloomier": "gloomy", "eerier": "eerie",
               "cheer": "cheerful", "dystopian": "dystopian", "lively": "lively", "livelier": "lively",
               "menacing": "menacing", "dramatic": "dramatic"}
_CLUSTER.update({"dystopian": "scary", "lively": "happy", "menacing": "scary"})
_MOOD_INSTRUCTION = re.compile(
    r"^(?:make (?:it|this|her|him|them|everything|the [a-z]+) |"
    r"(?:it|she|he|they) should (?:be|look|feel) |give it an? |have it )?(?:(?:look|feel|seem|be) )?"
    r"(?:(?:a bit|a little|slightly|much|even|way|very|really|super|so|more|a lot) )*(less )?([a-z-]+)"
    r"(?: (?:vibes?|mood|feel|feeling|atmosphere|look))?(?: please| pls)?$", re.I)


def mood_of(instruction: str) -> tuple[str, bool] | None:
    """('spooky', False) for "make it spookier"; ('quiet', True) for "less quiet"; None if no mood."""
    text = instruction.strip().lower()
    if re.fullmatch(r"cheer (?:it|this|her|him|them) up(?: a bit| a little)?", text):
        return "cheerful", False
    if re.fullmatch(r"calm (?:it|this|everything|things|the scene) down(?: a bit| a little)?", text):
        return "calm", False
    both = re.search(r"\b([a-z-]+) and ([a-z-]+)$", text)
    if both and both.group(1) in _MOOD_WORDS and both.group(2) in _MOOD_WORDS:
        text = text[:both.start()] + both.group(1)  # "calm and peaceful": the first says it
    m = _MOOD_INSTRUCTION.match(text)
    if not m or m.group(2) not in _MOOD_WORDS:
        return None
    return _MOOD_WORDS[m.group(2)], bool(m.group(1))


def mood(prompt: str, word: str, less: bool = False) -> str | None:
    """The mood words that clash with `word` give way to it (the first replaced, the others dropped);
    with none, `word` is added as a tag. "less X": X's words go, the opposite mood comes in. A calm
    scene keeps no storm ("crashing waves", "storm clouds")."""
    text = _mood(prompt, word, less)
    return clear(text, "calm") if text and not less and _CLUSTER.get(word) == "calm" else text


def _mood(prompt: str, word: str, less: bool) -> str | None:
    cluster = _CLUSTER.get(word)
    if cluster is None:
        return None
    if less:
        opposites, word = (cluster,), _LESS[cluster]
    else:
        opposites = _OPPOSITE[cluster]
    clash = sorted(w for w, c in _CLUSTER.items() if c in opposites)
    found = list(re.finditer(rf"\b(?:{'|'.join(map(re.escape, clash))})\b", prompt, re.I))
    if re.search(rf"\b{re.escape(word)}\b", prompt, re.I) and not found:
        return None
    if not found:
        return add_tag(prompt, word)
    text = prompt
    for m in reversed(found[1:]):
        span = _span(text, m) or _word_span(text, m)
        text = text[:span[0]] + text[span[1]:]
    m = found[0]
    return tidy(text[:m.start()] + _match_case(word, m.group(0), prompt, start=m.start()) + text[m.end():])


def _word_span(text: str, m: re.Match) -> tuple[int, int]:
    after = re.match(r"\s*(?:and\s+)?", text[m.end():]).end()
    return m.start(), m.end() + after


_VIVID_ASK = re.compile(r"^(?:make |have )?(?:the |it'?s? |its )?(?:colou?rs?|palette) (?:pop|brighter|bolder|more (?:vibrant|vivid|"
                        r"saturated|intense|colou?rful))(?: more| a bit| a lot)?$|^(?:make it |more )?(?:more )?"
                        r"(?:colou?rful|vibrant|saturated)$|^(?:brighter|bolder|more vivid) colou?rs$", re.I)
_MUTED_ASK = re.compile(r"^(?:make |have )?(?:the )?(?:colou?rs?|palette) (?:more )?(?:muted|softer|duller|less saturated|"
                        r"desaturated)$|^(?:less saturat(?:ed|ion)|tone (?:it|the colou?rs) down|desaturate(?: it)?)$", re.I)
_COLOR_PHRASE = {True: r"(?:soft|muted|pastel|desaturated|faded|washed[- ]out|dull|subdued|pale) (?:colou?rs|tones|palette)",
                 False: r"(?:vibrant|vivid|bright|saturated|bold|rich|intense) (?:colou?rs|tones|palette)"}


_IN_COLOR = re.compile(r"^(?:in |make it |make it in |full )?colou?r(?:ed)?$|^colou?ri[sz]e(?: it)?$", re.I)
_MONO = r"black and white|black & white|b&w|b/w|monochrome|monochromatic|grayscale|greyscale|sepia(?: tones?)?"


def colors(prompt: str, instruction: str) -> str | None:
    """'make the colors pop': soft/muted colours become vibrant ones (or 'vibrant colors' is added);
    'tone it down': the other way."""
    in_color, vivid = bool(_IN_COLOR.match(instruction.strip())), bool(_VIVID_ASK.match(instruction.strip()))
    mono = list(re.finditer(rf"\b(?:{_MONO})\b", prompt, re.I)) if in_color or vivid else []
    if in_color or (vivid and mono):  # "in color", "make it colorful": the black and white goes
        if not mono:
            return add_tag(prompt, "full color")
        text, inline = prompt, "color" if in_color else "colorful"
        for m in reversed(mono):
            span = _span(text, m)
            if span and not in_color and span == m.span():  # not a whole part of its own
                span = None  # "black and white photography" becomes colorful photography
            text = text[:span[0]] + text[span[1]:] if span else text[:m.start()] + inline + text[m.end():]
        text = tidy(text)
        return text if in_color or inline in text.lower() else add_tag(text, "vibrant colors")
    if not vivid and not _MUTED_ASK.match(instruction.strip()):
        return None
    new = "vibrant colors" if vivid else "muted colors"
    m = re.search(rf"\b{_COLOR_PHRASE[vivid]}\b", prompt, re.I)
    if m:
        return tidy(prompt[:m.start()] + _match_case(new, m.group(0), prompt) + prompt[m.end():])
    if re.search(rf"\b{_COLOR_PHRASE[not vivid]}\b", prompt, re.I):
        return None  # already so
    return add_tag(prompt, new)


# ---------------------------------------------------------------------------------------------- moves
PLACE_NOUNS = frozenset("""field fields meadow meadows stream river sea ocean beach coast shore lake pond forest woods
jungle desert mountain mountains hill hills hillside valley city town village street streets alley road park garden
office room kitchen studio museum swamp background space island cave canyon farm countryside sky bay harbour
harbor port plain plains prairie savanna tundra glacier volcano cliff cliffs wasteland ruins room bedroom
classroom library church cathedral temple market square plaza station airport highway bridge landscape bed
bathroom garage attic basement cafe restaurant bar pub shop store school hospital stadium theater theatre
backyard yard courtyard balcony rooftop porch lawn pool
seaside lakeside riverside waterfall marsh bayou arctic antarctica moon mars underwater""".split())
_LOCATIVE = re.compile(r"\b(?:in|at|on|by|near|inside|across|over|under|beside|along|among|through|against) "
                       r"(?:(?:the|a|an|some)\s+)?(?:[\w'’-]+\s+){0,3}?(" + "|".join(sorted(PLACE_NOUNS, key=len, reverse=True))
                       + r")\b(?:\s+of\s+(?:the\s+)?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*)?", re.I)
_PLACE_PARTS = frozenset("""islands island mountains mountain lake river valley desert park national bay coast beach falls
springs heights hills
sea ocean city county state province region peninsula alps""".split())
_HONORIFICS = frozenset("""princess prince king queen saint lord lady sir duke duchess emperor empress mr mrs ms dr
president general captain""".split())
_NOT_PLACE = frozenset("wallpaper wallpapers hd stock photo print art poster image canvas by".split())
_CAPITALISED_PART = re.compile(r"\s*(?:[A-Z][\w.'’-]*\s?){1,3}")  # "St Ives", "Cornwall"
_ON = frozenset("background beach moon mars island street streets surface stage rooftop roof".split())


def move(prompt: str, place: str) -> DirectEdit | None:
    """'move it to Seoul': the named place (WordNet's) becomes Seoul, later named places go; else the
    last place phrase ("by a stream") becomes the new one ("on a blank white background"); else the place
    is added after the subject (a suggestion)."""
    place = re.sub(r"^(?:(?:to|in|into|at|on)\s+)", "", place.strip(" .!*\"'"), flags=re.I)
    if not place:
        return None
    head = place.split()[-1].lower()
    bare = re.sub(r"^the\s+", "", place, flags=re.I)
    if bare.islower() and (lexicon.is_place_name(bare.title()) or lexicon.is_place_name(bare.split()[0].title())):
        place = bare.title()  # "move to bali" -> Bali, "the amazon jungle" -> Amazon Jungle
    proper = place[:1].isupper() and not re.match(r"(?:a|an|the)\s", place, re.I)
    named = _named_places(prompt)
    later = [(s, e) for s, e in named if not re.search(r"\bof\s+(?:the\s+)?$", prompt[:s])]
    named = later or named  # "Christ of the Ozarks statue, …, Arkansas": Arkansas is where it is
    if not named and proper:  # "…, St Ives - Photo": a short capitalised part after the subject is its place
        named = [(s + len(prompt[s:e]) - len(prompt[s:e].lstrip()), e) for s, e in _chunks(prompt)[1:]
                 if _CAPITALISED_PART.fullmatch(prompt[s:e]) and not re.search(
                     r"\b(?:by|Photo|Stock|Wallpaper|HD|Print|Art|Painting|Poster|Image)\b", prompt[s:e])
                 and not any(w.lower() in MEDIUM_HEADS for w in prompt[s:e].split())][:1]
    if named and proper:
        (s, e), rest = named[0], named[1:]
        text = prompt
        for rs, re_ in reversed(rest):  # "Reine, Norway": later parts that are only places go
            part = next(((cs, ce) for cs, ce in _chunks(text) if cs <= rs and re_ <= ce), None)
            if part and text[part[0]:part[1]].strip() == text[rs:re_]:
                text = text[:_chunk_cut(text, part)] + text[part[1]:]
        name = prompt[s:e]
        chunks = _chunks(text)
        k = next((i for i, (cs, ce) in enumerate(chunks) if cs <= s < ce), 0)
        if k >= 2 and text[chunks[k][0]:chunks[k][1]].strip() == name and _CAPITALISED_PART.fullmatch(
                text[chunks[k - 1][0]:chunks[k - 1][1]]):
            # "…, St Ives, Cornwall": the town before the county goes with it
            text = text[:chunks[k - 2][1]] + text[chunks[k - 1][1]:]
            s, e = s - (chunks[k - 1][1] - chunks[k - 2][1]), e - (chunks[k - 1][1] - chunks[k - 2][1])
        text = text[:s] + place + text[e:]
        text = re.sub(rf"\b{re.escape(name)}\b", place, text)  # named again: "… landscapes infrared Iceland"
        return DirectEdit(tidy(text), "move", True)
    prep = "in front of" if place.lower().startswith("front of") else ("on" if head in _ON else "in")
    place = re.sub(r"^front of\s+", "", place, flags=re.I)
    phrase = f"{prep} {place}"
    first = _chunks(prompt)[0] if not re.match(r"[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){1,3} - ", prompt) else _chunks(prompt)[1]
    found = [m for m in _LOCATIVE.finditer(prompt) if first[0] <= m.start() < first[1]]
    if found:
        m = found[-1]
        end = m.end()
        if m.group(1)[:1].isupper():  # "at Madison Square Garden": the name goes whole, not "… Valley Art Print"
            for more in re.finditer(r"\s+([A-Z][\w'’-]*)", prompt[end:]):
                if more.start() != end - m.end() or more.group(1).lower() in MEDIUM_HEADS | _NOT_PLACE:
                    break
                end = m.end() + more.end()
        return DirectEdit(tidy(prompt[:m.start()] + _match_case(phrase, m.group(0), prompt) + prompt[end:]),
                          "move", True)
    after_in = [(s, e) for s, e in named if re.search(r"\b(?:in|at|near)\s+$", prompt[:s], re.I)]
    if after_in:  # "Winter in Prague" -> "Winter in a swamp"
        s, e = after_in[0]
        return DirectEdit(tidy(prompt[:s] + place + prompt[e:]), "move", True)
    phrase = _match_case(phrase, prompt[first[0]:first[1]].strip(), prompt)
    if len(_chunks(prompt)) > 1:  # with the subject: "Harvest Moon over the Cornfield in Tuscany | Watercolour | …"
        cut = len(prompt[:first[1]].rstrip())
        return DirectEdit(tidy(prompt[:cut] + " " + phrase + prompt[cut:]), "move", False)
    return DirectEdit(tidy(_add_phrase(prompt, phrase)), "move", not _title_like(prompt))  # "… on the moon"


def _chunk_cut(text: str, part: tuple[int, int]) -> int:
    before = [e for s, e in _chunks(text) if e <= part[0]]
    return before[-1] if before else part[0]


def _named_places(prompt: str) -> list[tuple[int, int]]:
    """Spans of the capitalised names WordNet knows as places (longest first: 'New York' before 'York')."""
    out: list[tuple[int, int]] = []
    toks = _words(prompt)
    i = 0
    while i < len(toks):
        for n in (3, 2, 1):
            run = toks[i:i + n]
            lower_ok = bool(run) and prompt.islower() and bool(re.search(r"\b(?:in|at|near|from)\s+$",
                                                                         prompt[:run[0].start()]))
            if len(run) < n or not (lower_ok or all(t.group(0)[:1].isupper() for t in run)) or \
                    any(t.group(0).lower() in DETERMINERS | PREPOSITIONS or len(t.group(0)) < 3 for t in run):
                continue  # not "In" (Indiana) or "Me" (Maine)
            if any(re.search(r"[^ ]", prompt[a.end():b.start()]) for a, b in zip(run, run[1:])):
                continue
            name = " ".join(t.group(0) for t in run)
            prev = toks[i - 1] if i else None
            if prev is not None and prev.group(0).lower() in _HONORIFICS:
                continue  # "Princess Charlotte": a person
            if lexicon.is_place_name(name, strict=True):
                end = i + n
                while end < len(toks) and toks[end].group(0)[:1].isupper() and not prompt[
                        toks[end - 1].end():toks[end].start()].strip() and (
                        lexicon.is_place_name(toks[end].group(0)) or toks[end].group(0).lower() in _PLACE_PARTS):
                    end += 1  # "Nepal Himalayas", "Lofoten Islands", "Yosemite National Park": one place
                out.append((run[0].start(), toks[end - 1].end()))
                i = end - 1
                break
        i += 1
    return out
