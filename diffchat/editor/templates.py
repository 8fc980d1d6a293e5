"""Prompt templates for the editor and the cleaning of what it writes."""
from __future__ import annotations

import re
import unicodedata

# The DiffChat paper's template, exactly.
DIFFCHAT_TEMPLATE = (
    "Instruction: Give a description of the image and a modification to generate a drawing prompt.\n"
    "Input: {x}\nModification: {i}\nOutput:"
)

# Edit scripts (edit_script.py): the model writes only the change, as `old => new` replacements.
SCRIPT_TEMPLATE = "Input: {x}\nModification: {i}\nChanges:"

# For instruct models used zero-shot with their own chat template.
CHAT_SYSTEM = (
    "You rewrite text-to-image prompts. Given a prompt and a modification, reply with the new prompt "
    "only: keep everything the modification does not change, apply the modification, and do not "
    "repeat the modification's wording as a command."
)
CHAT_USER = "Prompt: {x}\nModification: {i}\nNew prompt:"

TEMPLATES = ("diffchat", "chat", "script")
MAX_WORDS = 120  # a bound on what we hand to the image model (CLIP reads 77 tokens anyway)


def format_prompt(x: str, i: str) -> str:
    """The DiffChat template filled with a prompt x and an instruction i."""
    return DIFFCHAT_TEMPLATE.format(x=x.strip(), i=i.strip())


def chat_messages(x: str, i: str) -> list[dict]:
    return [
        {"role": "system", "content": CHAT_SYSTEM},
        {"role": "user", "content": CHAT_USER.format(x=x.strip(), i=i.strip())},
    ]


def build_prompt(tokenizer, x: str, i: str, template: str = "diffchat") -> str:
    """The text the model continues, for any template."""
    if template == "diffchat":
        return format_prompt(x, i)
    if template == "script":
        return SCRIPT_TEMPLATE.format(x=x.strip(), i=i.strip())
    if template == "chat":
        return tokenizer.apply_chat_template(chat_messages(x, i), tokenize=False, add_generation_prompt=True)
    raise ValueError(f"Unknown template {template!r}; choose one of {TEMPLATES}")


def target_text(source: str, target: str, template: str = "diffchat") -> str:
    """What a model of this template is trained to write for (source -> target): the new prompt, or with
    the script template the edit script to it (edit_script.diff_script)."""
    if template != "script":
        return target
    from .edit_script import diff_script

    return diff_script(source, target)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")  # terminal escape sequences
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u2060\ufeff")  # zero-width space, word joiner, byte-order mark


def clean_text(text: str) -> str:
    """`text` without control characters, bidirectional overrides, zero-width marks and terminal
    escape sequences; line breaks and tabs become spaces, runs of spaces one space. Used on what
    users type and on what the editor writes."""
    text = _ANSI.sub("", text if isinstance(text, str) else "")
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\x0b\x0c\x85\u2028\u2029":
            out.append(" ")
        elif cat in ("Cc", "Cs") or ch in _BIDI or ch in _INVISIBLE:
            continue
        else:
            out.append(ch)
    return re.sub(r" {2,}", " ", "".join(out)).strip()


_ECHO = re.compile(r"^\s*(output|new prompt|prompt|target prompt|answer)\s*:\s*", re.I)
_QUOTES = "\"'`“”‘’«»"


def first_line(text: str) -> str:
    """The first non-empty line that is not an echo of the template's own lines."""
    lines = [clean_text(ln) for ln in text.replace("\r", "\n").split("\n")]
    return next((ln for ln in lines if ln and not _is_template_line(ln)), "")


def clean_output(text: str, max_words: int = MAX_WORDS) -> str:
    """One clean line: no template echo, no surrounding quotes, no control characters, bounded length."""
    line = first_line(text)
    prev = None
    while prev != line:  # strip nested echoes and quotes: 'Output: "a cat"'
        prev = line
        line = _ECHO.sub("", line).strip().strip(_QUOTES).strip()
    return " ".join(collapse_repeats(line.split())[:max_words])


_DANGLING = frozenset("a an the of on in at by with and or to for from".split())


def collapse_repeats(words: list[str]) -> list[str]:
    """Collapse a small model's decoding loops to one copy of the phrase: a phrase of 3+ words
    repeated back to back ("on willie nelson on willie nelson on ..."), or a word or two repeated
    three or more times ("very very very"), with a cut-off partial copy at the very end. Names such
    as "Walla Walla" are left alone."""
    low = [w.lower().strip(",.;:!?") for w in words]
    out, i = [], 0
    while i < len(words):
        for n in range(1, 13):
            copies = 2 if n >= 3 else 3
            if i + n * copies > len(words):
                out.append(words[i])
                i += 1
                break
            if all(low[i + k] == low[i + k % n] for k in range(n, n * copies)):
                j = i + n * copies
                while j < len(words) and low[j] == low[i + (j - i) % n]:
                    j += 1
                full = (j - i) // n
                out += words[i + (full - 1) * n:i + full * n]  # the last whole copy
                if j == len(words):  # the loop ran to the end: no dangling "... on"
                    while len(out) > 1 and out[-1].lower().strip(",;:") in _DANGLING:
                        out.pop()
                i = j if j == len(words) else i + full * n
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _is_template_line(line: str) -> bool:
    return bool(re.match(r"^(instruction|input|modification|changes)\s*:", line, re.I))
