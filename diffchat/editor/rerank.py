"""Best of several candidate edits, chosen by a verifier.

Candidates: the edit-script model's beams (each keeps the rest of the prompt by construction) and the
rewrite model's own output. The verifier adds what a reader checks (the new content is there, what
the instruction replaces or removes is gone, the untouched words are kept, no command words pasted in)
to the rewrite model's likelihood of the candidate (mean log-probability per token).
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from . import invariants
from .common import LocalEditor, edit_one, in_batches, is_unchanged, validate_pair
from .direct import direct_edits

log = logging.getLogger("diffchat.editor")

# Words that show an instruction pasted into the prompt instead of applied.
COMMAND_WORDS = frozenset("""make makes turn change add remove replace swap convert transform put let give
delete erase should instead converted transformed replaced removed swapped pls plz""".split())
_STOP = frozenset("""a an the of on in at by with and or to for from it its this that is are be as into onto
some more less very much it's them their his her him she he they there here now please just also so
like than then out off up down over under all any no not without get rid take lose drop pls plz can could you
would want way bit little slightly look looks feel seem around near next behind beside through across along
inside outside above below between against toward towards""".split())
_TARGET = [  # what an instruction replaces or removes
    re.compile(r"\b(?:turn|change|convert|transform|make)\s+(?:the\s+|a\s+|an\s+|his\s+|her\s+)?(.+?)\s+(?:into|to)\b"),
    re.compile(r"\b(?:replace|swap)\s+(?:the\s+|a\s+|an\s+)?(.+?)\s+(?:with|for|by)\b"),
    re.compile(r"\binstead\s+of\s+(?:the\s+|a\s+|an\s+)?(.+)$"),
    re.compile(r"\b(?:remove|delete|erase|get\s+rid\s+of|take\s+out|take\s+away|without|no)\s+(?:the\s+|a\s+|an\s+|all\s+)?(.+)$"),
]


def _words(text: str) -> list[str]:
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in re.findall(r"[a-z0-9]+", text.lower())]


def _content(text: str) -> set[str]:
    return {w for w in _words(text) if w not in _STOP and w not in COMMAND_WORDS and len(w) > 1}


def targets(instruction: str) -> set[str]:
    """Content words of what the instruction replaces or removes ("turn the horse into a zebra": horse)."""
    text = instruction.lower()
    for pattern in _TARGET:
        m = pattern.search(text)
        if m:
            return _content(m.group(1))
    return set()


def verify(source: str, instruction: str, candidate: str) -> float:
    """In [-1, 3]: new content there + replaced/removed content gone + untouched content kept - leak
    (each of the first three a share in [0, 1]; leak 0 or 1)."""
    src, cand, ins = _content(source), _content(candidate), _content(instruction)
    gone_words = targets(instruction) & src
    new = ins - src - targets(instruction)  # "remove the sled" where there is none: a sled is not new content
    untouched = src - ins
    added = sum(_said(w, cand) for w in new) / len(new) if new else 1.0
    gone = len(gone_words - cand) / len(gone_words) if gone_words else 1.0
    kept = len(untouched & cand) / len(untouched) if untouched else 1.0
    leak = bool((set(_words(candidate)) - set(_words(source))) & COMMAND_WORDS)
    return added + gone + kept - leak - repeats(source, candidate)


_FORMS = ("er", "est", "r", "st", "y", "ful", "ed", "d", "ing", "ly")  # young-er, snow-y, colour-ful


def _said(word: str, words: set[str]) -> bool:
    """Is `word` among `words`, as written or as another form of it ("younger": young, "snow": snowy; not
    "dragon": dragonfly)?"""
    def form(a: str, b: str) -> bool:
        return len(b) >= 4 and a.startswith(b) and a[len(b):] in _FORMS
    return word in words or any(form(w, word) or form(word, w) for w in words)


def repeats(source: str, candidate: str, n: int = 3) -> bool:
    """Does the candidate say a run of n words twice that the source says once ("Empty Office Cubicles at
    Night, Corporate Interior, Empty Office Cubicles at Night"), or one word twice in a row ("vintage
    vintage")? A sign of a garbled rewrite."""
    def doubled(text: str) -> set:
        words = _words(text)
        return {a for a, b in zip(words, words[1:]) if a == b}
    if doubled(candidate) - doubled(source):
        return True

    def counts(text: str) -> dict:
        words = _words(text)
        grams: dict = {}
        for i in range(len(words) - n + 1):
            grams[tuple(words[i:i + n])] = grams.get(tuple(words[i:i + n]), 0) + 1
        return grams
    src = counts(source)
    return any(k > 1 and k > src.get(gram, 0) for gram, k in counts(candidate).items())


RULE_BONUS = 1.5     # a rule edit that found exactly what the instruction names (direct.py) is preferred
SUGGESTION_BONUS = 0.5  # a rule's suggestion (an addition: everything kept by construction) a little
TAKE_RULE = 2.0      # a sure rule edit is taken without running the models when the verifier scores it this high


class RerankedEditor:
    """The script model proposes `n` edits, the rewrite model one more, the rules (direct.py) theirs;
    the verifier picks among those that keep the invariants (invariants.py): a candidate that breaks a
    severe one loses to every other, and when all break one the editor declines (returns the prompt
    unchanged, which the chat reports). A candidate with an attribute written after its thing ("a dog
    black") is also offered mended ("a black dog": invariants.repair). A sure rule edit that the verifier
    scores high and that breaks no invariant is taken at once. `stats` counts candidates checked, rejected by each invariant, declines."""

    def __init__(self, writer: LocalEditor, judge: LocalEditor, n: int = 4, rules: bool = True):
        self.writer, self.judge, self.n, self.rules = writer, judge, n, rules
        self.parallel = writer.runtime == judge.runtime == "ctranslate2"
        self.name = f"{writer.name} | {judge.name} (best of {n + 1})"
        self.runtime, self.template, self.options = writer.runtime, "script+rewrite", judge.options
        self.load_seconds = writer.load_seconds + judge.load_seconds
        self.stats: Counter = Counter()

    @property
    def device(self):
        return self.writer.device

    def edit(self, prompt: str, instruction: str, **generation) -> str:
        return edit_one(self, prompt, instruction, **generation)

    def edit_batch(self, pairs, batch_size: int = 8, progress: bool = True, **generation) -> list[str]:
        def edit_chunk(chunk):
            ruled = [self.rule_edits(pair) for pair in chunk]
            taken = [next((t for t, sure in r if sure and verify(*pair, t) >= TAKE_RULE
                           and not invariants.check(*pair, t)), None) for pair, r in zip(chunk, ruled)]
            self.stats["edits"] += len(chunk)
            self.stats["rule taken"] += sum(t is not None for t in taken)
            todo = [k for k, t in enumerate(taken) if t is None]
            if todo:
                beams, rewrites = self._model_candidates([chunk[k] for k in todo], batch_size, generation)
                for k, b, r in zip(todo, beams, rewrites):
                    taken[k] = self.pick(chunk[k], [*b, r], ruled[k])
            return taken

        return in_batches([validate_pair(p, i) for p, i in pairs], batch_size, progress, edit_chunk)

    def _model_candidates(self, pairs, batch_size: int, generation: dict) -> tuple[list[list[str]], list[str]]:
        """The script model's beams and the rewrite model's edits. With `parallel` (both on CTranslate2,
        which releases the GIL) the two models decode at once, in two threads."""
        beams = partial(self.writer.generate_many, pairs, self.writer.options.update(num_beams=self.n), self.n)
        rewrites = partial(self.judge.edit_batch, pairs, batch_size=batch_size, progress=False, **generation)
        if not self.parallel:
            return beams(), rewrites()
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(beams)
            done = rewrites()
            return pending.result(), done

    def rule_edits(self, pair: tuple[str, str]) -> list[tuple[str, bool]]:
        if not self.rules:
            return []
        try:
            return [(e.text, e.sure) for e in direct_edits(*pair)]
        except Exception:  # noqa: BLE001 - a rule's bug must not cost the user the edit: the models go on
            log.exception("rule edits failed on %r", pair)
            return []

    def pick(self, pair: tuple[str, str], candidates: list[str], rules: list[tuple[str, bool]] = ()) -> str:
        source, instruction = pair
        bonus = {text: RULE_BONUS if sure else SUGGESTION_BONUS for text, sure in rules}
        cands = list(dict.fromkeys(c for c in [*candidates, *bonus] if not is_unchanged(c, source)))
        if not cands:
            return candidates[-1]  # the rewrite, unchanged or empty: the chat says so
        mended = [invariants.repair(source, instruction, c) for c in cands]  # "a dog black" -> "a black dog"
        cands += [m for m in dict.fromkeys(mended) if m and m not in cands and not is_unchanged(m, source)]
        self.stats["mended"] += sum(m is not None for m in mended)
        broken = {c: invariants.check(source, instruction, c) for c in cands}
        self.stats["candidates"] += len(cands)
        for c in cands:
            for v in broken[c]:
                self.stats[f"{'rejected' if v.severe else 'penalised'}: {v.name}"] += 1
        kept = [c for c in cands if not invariants.severe(broken[c])]
        if not kept:
            self.stats["declined"] += 1
            log.info("declined %r on %r: every candidate breaks an invariant (%s)", instruction, source,
                     "; ".join(f"{c!r}: {', '.join(v.name for v in broken[c] if v.severe)}" for c in cands))
            return source  # unchanged: the chat says it could not make the change
        likelihood = self.judge.score(pair, kept)
        return max(zip(kept, likelihood), key=lambda c: verify(source, instruction, c[0]) + c[1] + bonus.get(c[0], 0.0)
                   - invariants.penalty(broken[c[0]]))[0]
