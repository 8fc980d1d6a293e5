"""Prompt templates for the editor and the cleaning of what it writes."""
from __future__ import annotations

import re

# The DiffChat paper's template, exactly.
DIFFCHAT_TEMPLATE = (
    "Instruction: Give a description of the image and a modification to generate a drawing prompt.\n"
    "Input: {x}\nModification: {i}\nOutput:"
)

# For instruct models used zero-shot with their own chat template.
CHAT_SYSTEM = (
    "You rewrite text-to-image prompts. Given a prompt and a modification, reply with the new prompt "
    "only: keep everything the modification does not change, apply the modification, and do not "
    "repeat the modification's wording as a command."
)
CHAT_USER = "Prompt: {x}\nModification: {i}\nNew prompt:"

TEMPLATES = ("diffchat", "chat")
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
    """The text the model continues, for either template."""
    if template == "diffchat":
        return format_prompt(x, i)
    if template == "chat":
        return tokenizer.apply_chat_template(chat_messages(x, i), tokenize=False, add_generation_prompt=True)
    raise ValueError(f"Unknown template {template!r}; choose one of {TEMPLATES}")


_ECHO = re.compile(r"^\s*(output|new prompt|prompt|target prompt|answer)\s*:\s*", re.I)
_QUOTES = "\"'`“”‘’«»"


def clean_output(text: str, max_words: int = MAX_WORDS) -> str:
    """One clean line: no template echo, no surrounding quotes, bounded length."""
    lines = [ln.strip() for ln in text.replace("\r", "\n").split("\n")]
    line = next((ln for ln in lines if ln and not _is_template_line(ln)), "")
    prev = None
    while prev != line:  # strip nested echoes and quotes: 'Output: "a cat"'
        prev = line
        line = _ECHO.sub("", line).strip().strip(_QUOTES).strip()
    words = line.split()
    return " ".join(words[:max_words])


def _is_template_line(line: str) -> bool:
    return bool(re.match(r"^(instruction|input|modification)\s*:", line, re.I))
