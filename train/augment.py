"""Synthetic edit triplets that teach the editor to *drop* what an instruction replaces or removes.

Human-written edits mostly add words; a small model trained on them learns to keep everything.
From each chosen training source prompt we make one triplet by rule:
- replace a noun by another noun of the training vocabulary that is not its WordNet synonym
  ("turn the horse into a zebra": horse -> zebra),
- remove a noun ("remove the boat"),
- swap a season, time of day or weather word ("make it winter").
Only training-split prompts are used, so nothing leaks into the validation split.
"""
from __future__ import annotations

import random
import re

from diffchat.scoring.ci import _tagged, _wordnet, synonyms
from train.adm import _is_keyword, _tidy
from train.data import EditRow

REPLACE = ["replace the {x} with {a} {y}", "turn the {x} into {a} {y}", "change the {x} to {a} {y}",
           "make the {x} {a} {y}", "{a} {y} instead of the {x}", "swap the {x} for {a} {y}",
           "the {x} should be {a} {y}"]
REMOVE = ["remove the {x}", "get rid of the {x}", "without the {x}", "take out the {x}", "no {x}"]
GROUPS = [["spring", "summer", "autumn", "winter"],
          ["morning", "afternoon", "evening", "night", "sunset", "sunrise", "dawn", "dusk"],
          ["sunny", "rainy", "snowy", "foggy", "stormy", "cloudy"]]
SWAP = ["make it {y}", "change it to {y}", "{y} instead of {x}", "set it in {y}", "make it {y} instead"]


def _sub(text: str, word: str, new: str) -> str:
    """Replace the first whole-word `word` (with a leading article when removing), keeping capitals."""
    pattern = re.compile(rf"(\b(?:a|an|the)\s+)?\b{re.escape(word)}\b", re.IGNORECASE)
    m = pattern.search(text)
    if not m:
        return text
    if not new:
        return _tidy(text[:m.start()] + text[m.end():])
    found = m.group(0)[len(m.group(1) or ""):]
    new = new.capitalize() if found[:1].isupper() else new
    return text[:m.start()] + (m.group(1) or "") + new + text[m.end():]


def _swap(row_source: str, rng: random.Random) -> EditRow | None:
    words = set(re.findall(r"[a-z]+", row_source.lower()))
    for group in GROUPS:
        present = [w for w in group if w in words]
        if present:
            x = present[0]
            y = rng.choice([w for w in group if w != x])
            return EditRow(row_source, rng.choice(SWAP).format(x=x, y=y), _sub(row_source, x, y))
    return None


def common_nouns(texts: list[str]) -> dict[str, list[str]]:
    """Lower-case words tagged as common nouns (NN / NNS) that WordNet knows as nouns, by tag."""
    wn = _wordnet()[0]
    found: dict[str, set[str]] = {"NN": set(), "NNS": set()}
    for text in texts:
        written = set(re.findall(r"\b[a-z]+\b", text))  # as written: capitalised names are left out
        for tok, tag, lemma in _tagged(text):
            if tag in found and tok in written and _is_keyword(tok, tag, lemma) and wn.synsets(lemma, "n"):
                found[tag].add(tok)
    return {tag: sorted(words) for tag, words in found.items()}


def _one_per_source(rows: list[EditRow], n: int, rng: random.Random, make) -> list[EditRow]:
    """Up to `n` triplets, `make(source)` (an EditRow or None) over the distinct sources in a seeded order."""
    sources = sorted({r.source for r in rows})
    rng.shuffle(sources)
    out: list[EditRow] = []
    for source in sources:
        if len(out) >= n:
            break
        row = make(source)
        if row is not None and row.target and row.target != source:
            out.append(row)
    return out


def synthetic_edits(rows: list[EditRow], n: int, seed: int = 0, remove_share: float = 0.3) -> list[EditRow]:
    """Up to `n` rule-made triplets from the sources of `rows` (one per source at most)."""
    rng = random.Random(seed)
    vocab = common_nouns([r.source for r in rows] + [r.target for r in rows])

    def make(source: str) -> EditRow | None:
        swapped = _swap(source, rng)
        if swapped is not None and swapped.target != source:
            return swapped
        nouns = [(t, g, lem) for t, g, lem in _tagged(source) if t in vocab.get(g, ())]
        nouns = [k for k in nouns if re.search(rf"\b{re.escape(k[0])}\b", source)]
        if not nouns:
            return None
        tok, tag, lemma = rng.choice(nouns)
        if rng.random() < remove_share and len(nouns) > 1:
            return EditRow(source, rng.choice(REMOVE).format(x=tok), _sub(source, tok, ""))
        banned = synonyms(tok) | synonyms(lemma) | {tok, lemma}
        choices = [w for w in vocab[tag] if w not in banned]
        if not choices:
            return None
        new = rng.choice(choices)
        article = "some" if tag == "NNS" else ("an" if new[0] in "aeiou" else "a")
        instruction = rng.choice(REPLACE).format(x=tok, y=new, a=article).replace("some ", "", 1 if
                                                                                 rng.random() < 0.5 else 0)
        return EditRow(source, instruction, _sub(source, tok, new))

    return _one_per_source(rows, n, rng, make)


# ---------------------------------------------------------------------------------------------
# implied drops: the instruction names only the new thing ("make it a photograph"), and the
# reference drops what it replaces (the old medium, the old artist): the edits the small model
# gets wrong most on held-out human triplets (it appends instead).

MEDIUM = re.compile(
    r"(\b(?:a|an)\s+)?\b(?:(?:original|fine|digital|oil|watercolou?r|acrylic|pencil|charcoal|pastel|ink|canvas|art|"
    r"limited edition)\s+)*(?:photograph|photography|photo|paintings?|watercolou?rs?|sketch(?:es)?|drawings?|"
    r"illustrations?|prints?|posters?|render|artwork|murals?|engravings?|etchings?|lithographs?)\b", re.IGNORECASE)
MEDIA = ["oil painting", "watercolor painting", "pencil sketch", "charcoal drawing", "photograph", "3D render",
         "pixel art", "stained glass window", "mosaic", "woodcut print", "low poly model", "comic book illustration",
         "anime still", "marble sculpture", "embroidery", "pastel drawing", "vintage poster", "digital painting",
         "claymation still", "ukiyo-e print", "tapestry", "polaroid photo", "blueprint", "neon sign"]
MEDIUM_ASK = ["make it {a} {y}", "turn it into {a} {y}", "as {a} {y}", "change it to {a} {y}",
              "make it look like {a} {y}", "convert it to {a} {y}", "Turn into {a} {y}", "it should be {a} {y}"]
ARTIST = re.compile(r"\bby ([A-Z][a-zA-Z'-]+(?:\s+[A-Z]\.)?(?:\s+(?:van |de |da )?[A-Z][a-zA-Z'-]+){1,2})")
ARTISTS = ["Claude Monet", "Vincent van Gogh", "Katsushika Hokusai", "Gustav Klimt", "Frida Kahlo", "Salvador Dali",
           "Rembrandt van Rijn", "Edward Hopper", "Georgia O'Keeffe", "Ansel Adams", "Andy Warhol", "Hayao Miyazaki",
           "J. M. W. Turner", "Alphonse Mucha", "Wassily Kandinsky", "Johannes Vermeer", "Paul Cezanne",
           "Norman Rockwell", "Egon Schiele", "Caspar David Friedrich"]
ARTIST_ASK = ["as if it were by {z}", "by {z} instead", "make it in the style of {z}", "in the style of {z}",
              "have {z} paint it", "make it a {z} work", "As if it were painted by {z}"]


def _article(word: str, like: str) -> str:
    a = "an " if word[:1].lower() in "aeiou" else "a "
    return a.capitalize() if like[:1].isupper() else a


def _medium_swap(source: str, rng: random.Random) -> EditRow | None:
    spans = list(MEDIUM.finditer(source))
    if not spans:
        return None
    old = spans[0].group(0).lower()
    new = rng.choice([m for m in MEDIA if m.split()[-1] not in old])
    first = spans[0]
    article = _article(new, first.group(1)) if first.group(1) else ""
    found = first.group(0)[len(first.group(1) or ""):]
    word = new if not found[:1].isupper() else new[:1].upper() + new[1:]
    between = "".join(source[a.end():b.start()] for a, b in zip(spans, spans[1:]))  # later media are dropped
    text = source[:first.start()] + article + word + between + source[spans[-1].end():]
    ask = rng.choice(MEDIUM_ASK).format(a=_article(new, "a").strip(), y=new)
    return EditRow(source, ask, _tidy(text))


def _artist_swap(source: str, pool: list[str], rng: random.Random) -> EditRow | None:
    m = ARTIST.search(source)
    if not m:
        return None
    new = rng.choice([a for a in pool if a.lower() != m.group(1).lower()])
    return EditRow(source, rng.choice(ARTIST_ASK).format(z=new), source[:m.start(1)] + new + source[m.end(1):])


def implied_edits(rows: list[EditRow], n: int, seed: int = 0) -> list[EditRow]:
    """Up to `n` medium and artist swaps from the sources of `rows` (one per source at most)."""
    rng = random.Random(seed)
    pool = sorted(set(ARTISTS) | {m.group(1) for r in rows for m in [ARTIST.search(r.source)] if m})

    def make(source: str) -> EditRow | None:
        makers = [lambda s: _medium_swap(s, rng), lambda s: _artist_swap(s, pool, rng)]
        rng.shuffle(makers)
        for maker in makers:
            row = maker(source)
            if row is not None and row.target and row.target != source:
                return row
        return None

    return _one_per_source(rows, n, rng, make)
