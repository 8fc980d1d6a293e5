"""ChatController: one chat message at a time -> session command, clarifying question, or an
edited prompt rendered with the chat's seed. Also `diff_words` for showing what changed."""
from __future__ import annotations

import difflib
import secrets
from dataclasses import dataclass
from typing import Callable, Literal

from PIL import Image

from .backends import get_backend
from .editor import is_unchanged
from .errors import DiffChatError, InvalidInput
from .intent import clarifying_question, parse_command
from .settings import RenderSettings
from .session import (MAX_SEED, MAX_TEXT_CHARS, ChatSession, Turn, as_image, check_text,
                      render_prompt)
from .editor.templates import clean_text

ReplyKind = Literal["start", "edit", "clarify", "undo", "redo", "reset", "restore", "error"]
Progress = Callable[[int, int], None] | None

UNCHANGED = ("I could not turn '{instruction}' into a change of the prompt. Try saying it another way, "
             "e.g. 'replace the X with a Y' or 'make it snowy', or write the new prompt yourself in review mode.")
START_QUESTION = "Describe the image you want to create, for example 'a horse in a field at sunset'."
MAX_PROMPT_CHARS = 1000  # a starting prompt: longer ones are cut at a word (and the user is told)
MAX_INSTRUCTION_CHARS = 300  # an instruction: longer ones are refused before any editing work
MAX_MESSAGE_CHARS = 50_000  # any text longer than this (no pasted page is) is refused, not cut


def bound_message(text: str, *, start: bool) -> tuple[str, str | None]:
    """(the text to use, a note for the user or None). A starting prompt over MAX_PROMPT_CHARS is cut
    at a word; an instruction over MAX_INSTRUCTION_CHARS, or any text over MAX_MESSAGE_CHARS, is
    refused (InvalidInput), so a pasted page never costs minutes of editing or rendering."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"This text is too long ({len(text):,} characters, at most {MAX_MESSAGE_CHARS:,}). "
                           f"A prompt can be at most {MAX_PROMPT_CHARS:,} characters: shorten it and send it again.")
    if not start and len(text) > MAX_INSTRUCTION_CHARS:
        raise InvalidInput(f"This instruction is {len(text):,} characters long; instructions can be at most "
                           f"{MAX_INSTRUCTION_CHARS}. Say the change in a sentence (e.g. 'make it snowy'), or "
                           "write the whole new prompt in the Prompt box and press Render.")
    if len(text) <= MAX_PROMPT_CHARS:
        return text, None
    cut = text[:MAX_PROMPT_CHARS + 1].rsplit(" ", 1)[0] if " " in text[:MAX_PROMPT_CHARS] else text[:MAX_PROMPT_CHARS]
    return cut, (f"Your prompt was {len(text):,} characters long; I used its first {len(cut):,} (up to "
                 f"'…{cut[-30:].lstrip()}'). Prompts can be at most {MAX_PROMPT_CHARS:,} characters.")


@dataclass
class Reply:
    """What the chat answers: a text, and the prompt and image to show now."""

    kind: ReplyKind
    text: str
    prompt: str | None = None
    image: Image.Image | None = None
    previous_image: Image.Image | None = None
    turn: Turn | None = None


def diff_words(before: str, after: str) -> list[tuple[str, str | None]]:
    """Word-level diff: (word, "-") removed, (word, "+") added, (word, None) kept."""
    a, b = (before or "").split(), (after or "").split()
    out: list[tuple[str, str | None]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [(w, None) for w in a[i1:i2]]
        else:
            out += [(w, "-") for w in a[i1:i2]] + [(w, "+") for w in b[j1:j2]]
    return out


class ChatController:
    """Editor + renderer + session. A message that fails leaves the session as it was."""

    def __init__(self, editor, renderer, session: ChatSession | None = None, *, backend: str = "tiny",
                 seed: int = 0, settings: dict | None = None):
        self.editor, self.renderer = editor, renderer
        self.session = session if session is not None else ChatSession()
        self.backend = get_backend(backend).name
        self.seed = 0
        self.settings: dict = {}
        self.set_seed(seed)
        self.update_settings(**(settings or {}))
        head = self.session.current
        if head is not None:  # continue a saved chat as it was rendered
            self.backend, self.seed, self.settings = head.backend, head.seed, dict(head.settings)

    # -- settings ----------------------------------------------------------------------------

    def set_backend(self, backend: str) -> str:
        """Use `backend` for the next images (a name from diffchat.backends, a Hub id or a folder)."""
        self.backend = get_backend(backend).name
        return self.backend

    def set_seed(self, seed: int) -> int:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InvalidInput(f"The seed must be a whole number from 0 to {MAX_SEED}, not {seed!r}.")
        self.seed = seed
        return seed

    def new_seed(self) -> int:
        """A fresh random seed for the next images."""
        return self.set_seed(secrets.randbelow(2**32))

    def update_settings(self, **settings) -> dict:
        """Set render settings (steps, guidance, negative_prompt, width, height, strength) for the
        next images; None puts one back to the backend's default."""
        return self.use_settings(RenderSettings.from_dict(self.settings).updated(**settings))

    def use_settings(self, settings: RenderSettings) -> dict:
        """Render the next images with exactly these settings."""
        self.settings = settings.as_dict()
        return dict(self.settings)

    # -- messages ----------------------------------------------------------------------------

    def handle(self, message: str, *, render: bool = True, progress: Progress = None) -> Reply:
        """Answer one chat message (see the module docstring)."""
        try:
            text = clean_text(message)
            command = parse_command(text)
            if command is not None:
                return self._command(command)
            if self.session.is_empty:
                if not text:
                    return Reply("clarify", START_QUESTION)
                text, note = bound_message(text, start=True)
                reply = self._start(text, render=render, progress=progress)
                reply.text = f"{note}\n{reply.text}" if note else reply.text
                return reply
            text, _ = bound_message(text, start=False)
            prompt, question = self._edit_or_question(text)
            if question:
                return self._reply("clarify", question, image=None)
            return self._commit(text, prompt, render=render, progress=progress)
        except DiffChatError as e:
            return self._reply("error", str(e), image=None)

    def propose(self, message: str) -> str:
        """The prompt a message would lead to, without rendering or changing the session."""
        text = clean_text(message)
        if parse_command(text) is not None:
            raise InvalidInput(f"'{text}' is a chat command, not a change to the prompt.")
        if self.session.is_empty:
            if not text:
                raise InvalidInput(START_QUESTION)
            return text
        prompt, question = self._edit_or_question(bound_message(text, start=False)[0])
        if question:
            raise InvalidInput(question)
        return prompt

    def apply_prompt(self, prompt_text: str, instruction: str, *, render: bool = True,
                     progress: Progress = None) -> Reply:
        """Render a prompt the user wrote or corrected (e.g. after `propose`) as the next turn."""
        try:
            prompt = clean_text(prompt_text)
            if not prompt:
                raise InvalidInput("The prompt is empty: describe the image to render.")
            if self.session.is_empty:
                return self._start(prompt, render=render, progress=progress)
            instruction = clean_text(instruction)
            return self._commit(instruction, prompt, render=render, progress=progress, manual=True)
        except DiffChatError as e:
            return self._reply("error", str(e), image=None)

    def start_from_image(self, image, captioner, keep_as_source: bool = True, *, render: bool = True,
                         progress: Progress = None) -> Reply:
        """Start a new chat from the user's image: its caption becomes the starting prompt. With
        `keep_as_source` the image itself is the first image and later images are img2img from it."""
        try:
            source = as_image(image, "image").convert("RGB")
            caption = captioner.caption(source) if hasattr(captioner, "caption") else captioner(source)
            caption = clean_text(caption)
            if not caption:
                raise DiffChatError("Could not describe this image. Type a starting prompt instead.")
            if keep_as_source:
                first = source
            elif render:
                first = self._render(caption, "", progress, first=True)
            else:
                first = None
            self.session.start(caption, seed=self.seed, backend=self.backend, settings=self.settings,
                               image=first, source_image=source if keep_as_source else None)
            return self._reply("start", f"I see: {caption}. Tell me what to change.")
        except DiffChatError as e:
            return self._reply("error", str(e), image=None)

    def restore(self, turn_id: int) -> Reply:
        """Go back to any earlier turn; the next message branches from there."""
        try:
            previous = self.session.current_image
            self.session.restore(turn_id)
            return self._reply("restore", f"Back to: {self.session.current_prompt}", previous=previous)
        except DiffChatError as e:
            return self._reply("error", str(e), image=None)

    # -- internals ---------------------------------------------------------------------------

    def _reply(self, kind: ReplyKind, text: str, *, image=..., previous=None) -> Reply:
        session = self.session
        return Reply(kind, text, session.current_prompt, session.current_image if image is ... else image,
                     previous, session.current)

    def _render(self, prompt: str, instruction: str, progress: Progress, *, first: bool = False) -> Image.Image:
        """Render with the chat's seed, backend and settings (a first image: from text only)."""
        session = self.session
        return render_prompt(self.renderer, prompt, seed=self.seed, backend=self.backend,
                             settings=self.settings, source=None if first else session.source_image,
                             previous=None if first else session.current_image,
                             instruction=instruction, progress=progress)

    def _edit_or_question(self, instruction: str) -> tuple[str, str | None]:
        """(new prompt, None), or ("", what to ask) for a vague instruction or an edit that changed nothing."""
        question = clarifying_question(instruction, self.session.current_prompt)
        if question:
            return "", question
        prompt = self._edit(instruction)
        if is_unchanged(prompt, self.session.current_prompt):  # nothing to render: say so, keep the chat
            return "", UNCHANGED.format(instruction=instruction)
        return prompt, None

    def _edit(self, instruction: str) -> str:
        prompt = clean_text(self.editor.edit(self.session.current_prompt, instruction))
        if not prompt:
            raise DiffChatError("The editor returned an empty prompt. Try rephrasing the instruction.")
        return prompt

    def _start(self, prompt: str, *, render: bool, progress: Progress) -> Reply:
        prompt = check_text(prompt, "prompt")  # before rendering: a prompt the session refuses is not rendered
        image = self._render(prompt, "", progress, first=True) if render else None
        self.session.start(prompt, seed=self.seed, backend=self.backend, settings=self.settings, image=image)
        return self._reply("start", f"Here is '{prompt}'. Tell me what to change.")

    def _commit(self, instruction: str, prompt: str, *, render: bool, progress: Progress,
                manual: bool = False) -> Reply:
        prompt = check_text(prompt, "prompt")  # before rendering, like the instruction
        if len(instruction) > MAX_TEXT_CHARS:
            raise InvalidInput(f"The instruction is too long ({len(instruction)} characters, "
                               f"at most {MAX_TEXT_CHARS}).")
        before, previous = self.session.current_prompt, self.session.current_image
        image = self._render(prompt, instruction, progress) if render else None
        self.session.add_turn(instruction, prompt, image=image, seed=self.seed, backend=self.backend,
                              settings=self.settings, manual=manual)
        text = prompt if prompt != before else f"The prompt stayed the same: {prompt}"
        return self._reply("edit", text, previous=previous)

    def _command(self, command: str) -> Reply:
        previous = self.session.current_image
        if command == "reset":  # a new session; the old one is left as it was (its images too)
            self.session = ChatSession()
            return self._reply("reset", "Starting over. " + START_QUESTION, previous=previous)
        turn = self.session.undo() if command == "undo" else self.session.redo()
        verb = "Went back to" if command == "undo" else "Back again to"
        return self._reply(command, f"{verb}: {turn.prompt_after}", previous=previous)
