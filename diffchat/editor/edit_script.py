"""Edit scripts: the model writes only the change, the library applies it to the prompt exactly.

A script is one line of replacements, `old => new`, joined by ` && `:

    horse => zebra                                  replace
    bench => bench, a red umbrella                  insert (anchored on a neighbouring word)
    , crowded alley =>                              delete (an empty replacement)

Everything the script does not name is kept by construction, and a 150-word prompt costs no more to
edit than a 10-word one. Training scripts come from word-level diffs of (input, output) triplets
(`diff_script`); `apply_script` finds each `old` in the prompt (exactly, then ignoring case and
spacing, then the closest span of about the same words) and returns None when it cannot.
"""
from __future__ import annotations

import difflib
import re

ARROW, SEP = " => ", " && "
_TOKEN = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")


def _tokens(text: str) -> list[re.Match]:
    return list(_TOKEN.finditer(text))


def _span(text: str, toks: list[re.Match], i: int, j: int) -> str:
    """The text of tokens i..j-1 as written (spacing kept); '' for an empty range."""
    return text[toks[i].start():toks[j - 1].end()] if j > i else ""


def _is_word(tok: re.Match) -> bool:
    return tok.group(0)[0].isalnum() or tok.group(0)[0] == "_"


def _count(text: str, old: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(old)}(?!\w)", text, re.IGNORECASE))


def diff_script(source: str, target: str) -> str:
    """The script that turns `source` into `target` (apply_script(source, it) == target, spacing aside)."""
    src, tgt = _tokens(source), _tokens(target)
    a, b = [t.group(0).lower() for t in src], [t.group(0).lower() for t in tgt]
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    merged: list[list[int]] = []
    for _, i1, i2, j1, j2 in ops:  # changes at most one word apart become one replacement
        if merged and i1 - merged[-1][1] <= 1 and j1 - merged[-1][3] <= 1:
            merged[-1][1], merged[-1][3] = i2, j2
        else:
            merged.append([i1, i2, j1, j2])
    parts = []
    for i1, i2, j1, j2 in merged:
        # Grow the span by equal context until it holds a word and occurs once in the source:
        # insertions get their anchor this way.
        step = 0
        while not (i2 > i1 and any(_is_word(t) for t in src[i1:i2])
                   and _count(source, _span(source, src, i1, i2)) == 1):
            left, right = i1 > 0, i2 < len(src)
            if not (left or right):
                break
            if left and (step % 2 == 0 or not right):
                i1, j1 = i1 - 1, j1 - 1
            else:
                i2, j2 = i2 + 1, j2 + 1
            step += 1
        parts.append(f"{_span(source, src, i1, i2)}{ARROW}{_span(target, tgt, j1, j2)}".rstrip())
    return SEP.join(parts)


def parse_script(script: str) -> list[tuple[str, str]] | None:
    """[(old, new), ...]; None when the text is not a script."""
    pairs = []
    for part in script.split(SEP.strip()):
        if "=>" not in part:
            return None
        old, new = part.split("=>", 1)
        pairs.append((old.strip(), new.strip()))
    return pairs or None


def _find(text: str, old: str) -> tuple[int, int] | None:
    """Where `old` stands in `text` as whole words: exact, then ignoring case and spacing, then the
    closest span of about as many words (similarity >= 0.8)."""
    if not old:
        return None
    loose = r"\s*".join(re.escape(t.group(0)) for t in _tokens(old))
    for pattern, flags in ((re.escape(old), 0), (loose, re.IGNORECASE)):
        m = re.search(rf"(?<!\w){pattern}(?!\w)", text, flags)
        if m:
            return m.span()
    toks, want = _tokens(text), " ".join(t.group(0).lower() for t in _tokens(old))
    best, where = 0.0, None
    for n in {max(1, len(_tokens(old)) - 1), len(_tokens(old)), len(_tokens(old)) + 1}:
        for i in range(len(toks) - n + 1):
            got = " ".join(t.group(0).lower() for t in toks[i:i + n])
            score = difflib.SequenceMatcher(None, got, want).ratio()
            if score > best:
                best, where = score, (toks[i].start(), toks[i + n - 1].end())
    return where if best >= 0.8 else None


def _cut(left: str, right: str) -> str:
    """Join what stands either side of a deleted span: one space, no doubled or dangling commas."""
    left, right = left.rstrip(), right.lstrip()
    if not left or left[-1] in ",;":
        right = right.lstrip(",; ")
    if not right:
        left = left.rstrip(",; ")
    return f"{left} {right}" if left and right and right[0] not in ",.;:!?" else left + right


def apply_script(source: str, script: str) -> str | None:
    """The prompt after the script's replacements; None if the script is malformed or names a span
    that is not in the prompt (the caller then tries another candidate). Every `old` is found in the
    prompt as given, so one replacement's new words are never taken for another's old ones."""
    pairs = parse_script(script)
    if pairs is None:
        return None
    spans, extra = [], []
    for old, new in pairs:
        if not old:  # "=> more" adds at the end
            if not new:
                return None
            extra.append(new)
            continue
        where = _find(source, old)
        if where is None or any(where[0] < e and s < where[1] for s, e, _ in spans):
            return None
        spans.append((*where, new))
    text = source
    for start, end, new in sorted(spans, reverse=True):
        left = text[:start].rstrip() if new[:1] in tuple(",.;:") else text[:start]
        text = left + new + text[end:] if new else _cut(text[:start], text[end:])
    return ", ".join([text.strip(), *extra]) if text.strip() else ", ".join(extra)
