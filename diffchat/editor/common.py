"""What every local editor runtime shares: decoding options, input checks, and the edit loop
(batching, progress, the unchanged-edit retry with beams). A runtime only says how to decode."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import DiffChatError, InvalidInput
from ..paths import ASSETS_DIR
from .edit_script import apply_script
from .templates import TEMPLATES, build_prompt, clean_output, first_line

SHIPPED_ADAPTER = ASSETS_DIR / "diffchat-smollm2-lora"      # v1: writes the whole new prompt
SHIPPED_SCRIPT = ASSETS_DIR / "diffchat-smollm2-script"     # v2: writes the change as an edit script
EDITOR_META = "diffchat_editor.json"  # written next to trained models: {"template": ...}
EMBEDDED_BASE = "embedded:SmolLM2-135M-Instruct"
MAX_INPUT_CHARS = 2000


@dataclass
class GenerationOptions:
    """Decoding: greedy by default; sampling (typical_p, temperature, top_p) or beams on request."""

    max_new_tokens: int = 96
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    typical_p: float | None = None
    num_beams: int = 1
    repetition_penalty: float = 1.0
    seed: int | None = None
    retry_unchanged: int = 4        # an edit that comes back unchanged (or empty) is decoded again with
                                    # this many beams, taking the best beam that changes it; 0: off

    def update(self, **overrides) -> "GenerationOptions":
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise InvalidInput(f"Unknown generation option(s): {', '.join(sorted(unknown))}")
        return GenerationOptions(**{**asdict(self), **{k: v for k, v in overrides.items() if v is not None}})


def cpu_cores() -> int:
    """The cores this process may run on (the container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def validate_pair(prompt: str, instruction: str) -> tuple[str, str]:
    prompt, instruction = (prompt or "").strip(), (instruction or "").strip()
    if not prompt:
        raise InvalidInput("There is no prompt to edit yet: type a starting prompt first.")
    if not instruction:
        raise InvalidInput("The instruction is empty: say what to change, e.g. 'make it snowy'.")
    if len(prompt) > MAX_INPUT_CHARS or len(instruction) > MAX_INPUT_CHARS:
        raise InvalidInput(f"Prompt and instruction must each be under {MAX_INPUT_CHARS} characters.")
    return prompt, instruction


def is_unchanged(output: str, prompt: str) -> bool:
    """Is the edit a no-op: empty, or the prompt again (case, spacing and end punctuation aside)?"""
    norm = lambda t: " ".join(t.lower().split()).rstrip(" .,;")  # noqa: E731
    return not output.strip() or norm(output) == norm(prompt)


def read_meta(folder) -> dict:
    path = Path(str(folder)) / EDITOR_META
    return json.loads(path.read_text()) if path.is_file() else {}


class LocalEditor:
    """A causal LM that continues the template; subclasses implement `_decode`.

    `_decode(texts, opts, num_return)` gets the filled-in templates and returns, per text, the raw
    new text of `num_return` sequences (best first), stopped at the end of the line."""

    runtime = "?"

    def __init__(self, tokenizer, *, name: str, template: str = "diffchat",
                 options: GenerationOptions | None = None):
        if template not in TEMPLATES:
            raise InvalidInput(f"Unknown template {template!r}; choose one of {TEMPLATES}")
        self.tokenizer, self.name, self.template = tokenizer, name, template
        self.options = options or GenerationOptions()
        self.load_seconds = 0.0

    def edit(self, prompt: str, instruction: str, **generation) -> str:
        return edit_one(self, prompt, instruction, **generation)

    def edit_batch(self, pairs, batch_size: int = 8, progress: bool = True, **generation) -> list[str]:
        """Edit many (prompt, instruction) pairs; returns cleaned prompts (possibly empty strings)."""
        pairs = [validate_pair(p, i) for p, i in pairs]
        opts = self.options.update(**generation)
        self._seed(opts)
        outputs = in_batches(pairs, batch_size, progress, lambda chunk: [s[0] for s in self.generate_many(chunk, opts)])
        if opts.retry_unchanged > 1:
            for k, pair in enumerate(pairs):
                if is_unchanged(outputs[k], pair[0]):
                    outputs[k] = self._changed_beam(pair, opts) or outputs[k]
        return outputs

    def generate_many(self, pairs, opts: GenerationOptions, num_return: int = 1) -> list[list[str]]:
        """Cleaned outputs of every pair: `num_return` sequences each."""
        texts = [build_prompt(self.tokenizer, p, i, self.template) for p, i in pairs]
        decoded = self._decode(texts, opts, num_return)
        if self.template == "script":  # the model wrote the change: apply it ("" when it does not apply)
            return [[apply_script(p, first_line(t)) or "" for t in seqs] for (p, _), seqs in zip(pairs, decoded)]
        return [[clean_output(t) for t in seqs] for seqs in decoded]

    def _changed_beam(self, pair: tuple[str, str], opts: GenerationOptions) -> str | None:
        """The best of `retry_unchanged` beams that is not the prompt itself (None if every beam is)."""
        n = opts.retry_unchanged
        beams = self.generate_many([pair], opts.update(do_sample=False, num_beams=n), num_return=n)[0]
        return next((b for b in beams if not is_unchanged(b, pair[0])), None)

    def score(self, pair: tuple[str, str], candidates: list[str]) -> list[float]:
        """Mean log-probability per token of each candidate as this model's answer to `pair`."""
        prefix = build_prompt(self.tokenizer, *pair, self.template)
        return self._score(prefix, [f"{prefix} {c}\n" for c in candidates])

    def _tokenize_kwargs(self) -> dict:
        # The chat template writes its own special tokens; the DiffChat template gets the tokenizer's.
        return {"add_special_tokens": self.template != "chat"}

    def _seed(self, opts: GenerationOptions) -> None:
        pass

    def _decode(self, texts: list[str], opts: GenerationOptions, num_return: int) -> list[list[str]]:
        raise NotImplementedError

    def _score(self, prefix: str, texts: list[str]) -> list[float]:
        """Mean log-probability of the tokens of each text after `prefix` (each text starts with it)."""
        raise NotImplementedError


def in_batches(pairs: list, batch_size: int, progress: bool, edit_chunk) -> list[str]:
    """`edit_chunk` over `pairs` in chunks of `batch_size`, with a progress bar: the results in order."""
    from tqdm.auto import tqdm

    out: list[str] = []
    with tqdm(total=len(pairs), desc="Editing prompts", unit="prompt", disable=not progress) as bar:
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            out += edit_chunk(chunk)
            bar.update(len(chunk))
    return out


def edit_one(editor, prompt: str, instruction: str, **generation) -> str:
    """One edit; an empty result is an error the user reads."""
    out = editor.edit_batch([(prompt, instruction)], progress=False, **generation)[0]
    if not out:
        raise DiffChatError("The editor returned an empty prompt. Try rephrasing the instruction.")
    return out
