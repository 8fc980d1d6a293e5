"""Chat tab: create an image by chatting. Each instruction edits the prompt (shown as a word diff),
then the image is rendered again with the same seed and shown beside the previous one."""
from __future__ import annotations

import html
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from PIL import Image

from ..backends import BACKENDS, backend_label, get_backend, require_available
from ..chat import ChatController, Reply, bound_message, diff_words
from ..editor.templates import clean_text
from ..errors import BackendError, DiffChatError, InvalidInput
from ..intent import clarifying_question, parse_command
from ..long_prompt import long_prompt_note
from ..session import ChatSession
from ..settings import RenderSettings
from .loader import BackgroundLoader
from .session_zip import owned_folder, pack_session, unpack_session

MAX_UPLOAD_PIXELS = 4096 * 4096  # an upload larger than this is refused before it is decoded
MAX_SOURCE_SIDE = 2048  # a kept upload is shrunk to fit in this square (the largest size a backend renders)
STATE_TTL = 2 * 3600  # seconds a browser session's chat is kept after its last change
SIZES = ["backend default", "512×512", "768×768", "1024×1024", "768×512", "512×768", "64×64"]
SEED_MODES = ["fixed", "new each image"]
MANUAL_INSTRUCTION = "(prompt edited by hand)"
WELCOME = ("Hi! Describe the image you want, or start from an image of yours (below). "
           "Then tell me what to change, e.g. <em>make it night</em> or <em>add a red umbrella</em>. "
           "Type <em>undo</em>, <em>redo</em> or <em>start over</em> at any time.")
WARN = "\u26a0 "  # the warning sign without the emoji selector: DejaVu has it, so no box in plain Chromium
MAX_CHATS = 20  # chats kept for Undo after Start over (the oldest goes beyond that)
TINY_NOTE = ("**Test backend `{name}`: its weights are random, so every image is noise.** It shows how the "
             "app works offline; choose a real backend (e.g. sd-turbo) for pictures.")
PLACEHOLDER_PROMPT = "a picture"
RANDOM_CAPTIONER = ("The captioner here is an offline test model with random weights: it cannot see your image, "
                    "so I did not ask it. The starting prompt is the placeholder <em>{prompt}</em>. Type what your "
                    "image shows in the Prompt box and press <b>Render</b>, or tell me what to change.")


def as_text(text: str) -> str:
    """`text` for the chat, which shows HTML but no Markdown (render_markdown=False): what a user
    typed or a shared session holds is shown as typed, and a tag in it (<img src=...>) stays text."""
    return html.escape(str(text), quote=False)


def _key(word: str) -> str:
    return word.lower().strip(".,;:!?\"'()") or word


TAGS = {"+": "ins", "-": "del"}
DIFF_RUN = 12  # a run of more kept or removed words than this is shown by its ends and a count


def _compact(run: list[str], tag: str | None) -> list[str]:
    """A run of kept (None) or removed ("-") words, shortened to its ends when it is long."""
    if len(run) <= DIFF_RUN:
        return run
    what = "unchanged" if tag is None else "removed"
    return run[:4] + [f"<small>… {len(run) - 7} {what} words …</small>"] + run[-3:]


def diff_html(before: str, after: str) -> str:
    """The new prompt with removed words struck through and added words highlighted. Case and
    punctuation next to a word do not count as changes ("a park" -> "A park." changes nothing).
    Long runs of kept or removed words are shortened ("… 40 unchanged words …")."""
    old, new = (before or "").split(), (after or "").split()
    i = j = 0
    runs: list[tuple[str | None, list[str]]] = []
    for _, tag in diff_words(" ".join(map(_key, old)), " ".join(map(_key, new))):
        if tag == "-":
            word = as_text(old[i])
            i += 1
        else:
            word = as_text(new[j])
            i, j = i + (tag is None), j + 1
        if not runs or runs[-1][0] != tag:
            runs.append((tag, []))
        runs[-1][1].append(word)
    words = []
    for tag, run in runs:
        for word in (run if tag == "+" else _compact(run, tag)):
            words.append(word if tag is None or word.startswith("<small>") else f"<{TAGS[tag]}>{word}</{TAGS[tag]}>")
    return " ".join(words)


def _shorten(text: str, limit: int = 400) -> str:
    """A long message as the chat shows it: its start and its length (the whole text is still used)."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + f" … ({len(text):,} characters)"


def history_order(session: ChatSession) -> list:
    """The turns depth first from the start: each branch follows the turn it branched from."""
    order, stack = [], [t for t in session.turns.values() if t.parent is None]
    while stack:
        turn = stack.pop()
        order.append(turn)
        stack.extend(sorted(session.children(turn.id), key=lambda t: t.id, reverse=True))
    return order


def history_label(session: ChatSession, turn) -> str:
    """'▶ 3 ← 1 · add snow': the turn, the turn it came from when that is not the one before it in
    the list (a branch), and its instruction; ▶ marks the turn shown now."""
    mark = "\u25b6 " if turn.id == session.head else ""
    siblings = session.children(turn.parent) if turn.parent is not None else []
    branch = f" \u2190 {turn.parent}" if len(siblings) > 1 and turn.id != min(t.id for t in siblings) else ""
    return f"{mark}{turn.id}{branch} · {_shorten(turn.instruction or 'start', 48)}"


def parse_size(size: str | None) -> tuple[int | None, int | None]:
    if not size or size == SIZES[0]:
        return None, None
    try:
        w, h = (int(v) for v in size.lower().replace("x", "×").split("×"))
    except ValueError:
        raise InvalidInput(f"Size must look like 512×512, not {size!r}.") from None
    return w, h


@dataclass(frozen=True)
class Controls:
    """The settings controls' values, read once per event (`read`, in the order of `build_chat_tab`'s
    `controls` list) and passed on as one object; a bad value is an InvalidInput from `read`."""
    backend: str | None
    seed_mode: str
    seed: int
    settings: RenderSettings

    @classmethod
    def read(cls, backend, seed_mode, seed, steps, guidance, negative, size, strength) -> "Controls":
        width, height = parse_size(size)
        try:
            seed = int(seed or 0)
        except (TypeError, ValueError):
            raise InvalidInput(f"The seed must be a whole number, not {seed!r}.") from None
        settings = RenderSettings(negative_prompt=negative or None, steps=int(steps) if steps else None,
                                  guidance=None if guidance is None else float(guidance), width=width,
                                  height=height, strength=None if strength is None else float(strength))
        return cls(backend, seed_mode, seed, settings)


def check_upload(path: str | None) -> Image.Image:
    """The uploaded file as an RGB image at most MAX_SOURCE_SIDE pixels a side, or InvalidInput
    with a message for the user. The size is checked from the header, before decoding."""
    if not path:
        raise InvalidInput("No file was uploaded.")
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_UPLOAD_PIXELS:
                raise InvalidInput(f"The image is too large ({im.width}×{im.height} pixels); "
                                   f"use one of at most {MAX_UPLOAD_PIXELS // 10**6} megapixels.")
            im.draft("RGB", (MAX_SOURCE_SIDE, MAX_SOURCE_SIDE))  # JPEG: decode at a reduced scale
            image = im.convert("RGB")
        image.thumbnail((MAX_SOURCE_SIDE, MAX_SOURCE_SIDE), Image.LANCZOS)
        return image
    except InvalidInput:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidInput(f"'{Path(path).name}' is not an image DiffChat can read. "
                           "Upload a PNG, JPEG or WebP picture.") from None


class LazyEditor:
    """The editor as the ChatController sees it: waits for the background load; one edit at a time
    for a local model, while an editor that says it is `concurrent` (a remote endpoint: the wait
    is the network) serves every user at once, so no lock is held across a network call."""

    def __init__(self, loader: BackgroundLoader):
        self.loader = loader
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return getattr(self.loader.get(), "name", "editor")

    def edit(self, prompt: str, instruction: str, **generation) -> str:
        editor = self.loader.get()
        if getattr(editor, "concurrent", False):
            return editor.edit(prompt, instruction, **generation)
        with self._lock:
            return editor.edit(prompt, instruction, **generation)


@dataclass
class ChatState:
    """One browser session: its chat session, the chat messages, and a prompt waiting to render."""

    session: ChatSession = field(default_factory=ChatSession)
    messages: list = field(default_factory=lambda: [{"role": "assistant", "content": WELCOME}])
    pending: dict | None = None  # {"instruction", "proposal"} of an edit not rendered yet
    gallery_ids: list = field(default_factory=list)  # turn id of each history thumbnail
    earlier: list = field(default_factory=list)  # (session, messages) of chats left by Start over
    later: list = field(default_factory=list)  # (session, messages) of chats left by Undo across a Start over
    files: Path | None = None  # this session's download folder, removed with the state

    def say(self, role: str, text: str) -> None:
        self.messages.append({"role": role, "content": text})

    def folder(self) -> Path:
        """A temporary folder of this browser session, removed when the state is dropped."""
        if self.files is None or not self.files.is_dir():
            self.files = owned_folder(self, "diffchat-download-")
        return self.files

    def close(self) -> None:
        """Drop what the session holds (Gradio calls this when the state expires)."""
        for session in [self.session, *(s for s, _ in self.earlier + self.later)]:
            session.reset()
        self.messages, self.pending, self.earlier, self.later = [], None, [], []
        if self.files is not None:
            shutil.rmtree(self.files, ignore_errors=True)


class ChatApp:
    """The chat tab's handlers. Each takes the session's ChatState and the settings controls and
    returns the new view; a failure leaves the session as it was and shows a warning."""

    def __init__(self, editor: BackgroundLoader, renderer, captioner: BackgroundLoader | None = None,
                 backend: str = "tiny", allowed_backends: tuple[str, ...] | None = ()):
        self.editor = LazyEditor(editor)
        self.editor_loader = editor
        self.renderer = renderer
        self.captioner = captioner
        self.backend = get_backend(backend).name
        # None: any backend (a server folder, any Hub id); else the registry, the default and these
        self.allowed_backends = None if allowed_backends is None or "*" in allowed_backends else (
            tuple(dict.fromkeys([*BACKENDS, self.backend, *allowed_backends])))

    def check_backend(self, backend: str | None) -> str:
        """The backend box's value if this app offers it. On a restricted app nothing else is looked
        up: no server folder is read, no model downloaded, and the message does not say why."""
        name = str(backend or self.backend).strip()
        if self.allowed_backends is not None and name not in self.allowed_backends and \
                name.lower() not in BACKENDS:
            raise BackendError(f"The backend '{name[:80]}' is not offered here. "
                               f"Choose one of: {', '.join(self.allowed_backends)}.")
        return name

    # ---- helpers -------------------------------------------------------------------------------

    def controller(self, state: ChatState, controls: Controls) -> ChatController:
        """A ChatController over this session with the settings from the controls."""
        ctl = ChatController(self.editor, self.renderer, state.session)
        ctl.set_backend(self.check_backend(controls.backend))
        if controls.seed_mode == SEED_MODES[1]:
            ctl.new_seed()
        else:
            ctl.set_seed(controls.seed)
        ctl.use_settings(controls.settings)
        return ctl

    def view(self, state: ChatState, seed: int | None = None):
        """(state, chat, before image, current image, history gallery, prompt box, seed)."""
        session = state.session
        head = session.current
        # images a loaded session keeps on disk are shown from their files, never decoded here
        show = lambda t: None if t is None else (session.image_file(t) or session.image_of(t))  # noqa: E731
        before = show(head.parent) if head is not None and head.parent is not None else None
        turns = [t for t in history_order(session) if t.image]
        state.gallery_ids = [t.id for t in turns]
        gallery = [(show(t), history_label(session, t)) for t in turns]
        prompt = state.pending["proposal"] if state.pending else (session.current_prompt or "")
        return (state, list(state.messages), before, show(head), gallery, prompt,
                gr.skip() if seed is None else seed)

    def _fail(self, state: ChatState, error: DiffChatError | str, chat: bool = True):
        text = str(error)
        gr.Warning(text)
        if chat:
            state.say("assistant", WARN + as_text(text))
        return self.view(state)

    def _show_reply(self, state: ChatState, reply: Reply):
        """Add the controller's reply (to a command or a restore) to the chat."""
        if reply.kind == "error":
            return self._fail(state, reply.text)
        state.say("assistant", as_text(reply.text))
        return self.view(state, seed=reply.turn.seed if reply.turn else None)

    # ---- chat ----------------------------------------------------------------------------------

    def send(self, message: str, state: ChatState, backend, seed_mode, seed, steps, guidance, negative,
             size, strength, progress=gr.Progress()):
        """A chat message: a command (undo, redo, start over), the starting prompt, a clarifying
        question, or an instruction whose proposed prompt is shown now and rendered by `render`.
        Returns the view plus the instruction box's new text."""
        text = clean_text(message)
        if not text:
            gr.Warning("Type a message first: a starting prompt, or what to change.")
            return *self.view(state), message
        state.pending = None
        session = state.session
        if parse_command(text) is not None:
            state.say("user", as_text(text))
            return *self.apply_command(state, text), ""
        try:  # nothing is worked on for a message that cannot go anywhere: it stays in the box
            text, note = bound_message(text, start=session.is_empty)
            require_available(self.check_backend(backend))  # an offered backend that can load here
        except DiffChatError as e:
            gr.Warning(str(e))
            return *self.view(state), message
        state.say("user", as_text(_shorten(text)))
        if note:
            state.say("assistant", as_text(note))
        if session.is_empty:
            # the starting prompt is rendered as typed
            state.pending = {"instruction": "", "proposal": text, "start": True}
            return *self.view(state), ""
        question = clarifying_question(text, session.current_prompt)
        if question:
            state.say("assistant", as_text(question))
            return *self.view(state), ""
        try:
            ctl = self.controller(state, Controls.read(backend, seed_mode, seed, steps, guidance, negative, size,
                                                       strength))
            if not self.editor_loader.ready:
                progress(None, desc="Loading the editor model…")
            proposal = ctl.propose(text)
        except DiffChatError as e:
            return *self._fail(state, e), message
        except Exception as e:  # noqa: BLE001 - a library crash becomes a message, the chat stays
            return *self._fail(state, f"The editor failed: {type(e).__name__}: {e}"), message
        state.pending = {"instruction": text, "proposal": proposal}
        state.say("assistant", diff_html(session.current_prompt, proposal))
        return *self.view(state), ""

    def render(self, state: ChatState, prompt_text: str, review: bool, backend, seed_mode, seed, steps,
               guidance, negative, size, strength, progress=gr.Progress()):
        """Render the pending prompt (after `send`), unless the user wants to review it first."""
        pending = state.pending
        if not pending:
            return self.view(state)
        if review and not pending.get("start"):
            state.say("assistant", "Edit the prompt on the right if you like, then press <b>Render</b>.")
            return self.view(state)
        return self.render_prompt(state, pending["proposal"], backend, seed_mode, seed, steps, guidance,
                                  negative, size, strength, progress)

    def render_prompt(self, state: ChatState, prompt_text: str, backend, seed_mode, seed, steps, guidance,
                      negative, size, strength, progress=gr.Progress()):
        """Render `prompt_text` as the next turn: the pending edit (possibly changed by hand), the
        starting prompt, or a prompt the user typed into the prompt box."""
        try:
            controls = Controls.read(backend, seed_mode, seed, steps, guidance, negative, size, strength)
        except DiffChatError as e:
            return self._fail(state, e)
        return self._render(state, prompt_text, controls, progress)

    def _render(self, state: ChatState, prompt_text: str, controls: Controls, progress):
        prompt_text = clean_text(prompt_text)
        if not prompt_text:
            return self._fail(state, "The prompt is empty: describe the image to render.", chat=False)
        try:  # a long prompt is cut at a word and said; a huge one is refused before anything is rendered
            prompt_text, note = bound_message(prompt_text, start=True)
        except DiffChatError as e:
            return self._fail(state, e, chat=False)
        if note:
            state.say("assistant", as_text(note))
        pending, session = state.pending, state.session
        before = session.current_prompt
        try:
            ctl = self.controller(state, controls)
        except DiffChatError as e:
            return self._fail(state, e)
        on_step = lambda step, total: progress((step, total), desc="Rendering", unit="steps")  # noqa: E731
        progress(0, desc="Loading the image model…")
        try:
            if pending and pending.get("start") or session.is_empty:
                reply = ctl.apply_prompt(prompt_text, "", progress=on_step)
            else:
                proposal = pending["proposal"] if pending else None
                manual = prompt_text != proposal
                instruction = pending["instruction"] if pending else (
                    MANUAL_INSTRUCTION if prompt_text != before else "(rendered again)")
                reply = ctl.apply_prompt(prompt_text, instruction, progress=on_step)
                if reply.kind == "edit" and reply.turn is not None:
                    reply.turn.manual = manual
                if reply.kind == "edit" and manual:
                    state.say("assistant", "\u270e " + diff_html(before, prompt_text))
        except Exception as e:  # noqa: BLE001 - a library crash becomes a message; the turn was not added
            return self._fail(state, f"Rendering failed: {type(e).__name__}: {e}")
        if reply.kind == "error":
            return self._fail(state, reply.text)  # pending kept: the user may retry or change settings
        state.pending = None
        if reply.kind == "start":
            state.say("assistant", "Here it is. Tell me what to change.")
        note = long_prompt_note(prompt_text)
        if note:
            state.say("assistant", "\u2139 " + as_text(note))
        return self.view(state, seed=ctl.seed)

    def apply_command(self, state: ChatState, command: str):
        """undo / redo / start over, typed or from a button. Start over keeps the chat it leaves:
        Undo at the start of the new chat goes back to it, Redo returns."""
        state.pending = None
        kind, head = parse_command(command), state.session.current
        if kind == "undo" and state.earlier and (head is None or head.parent is None):
            return self._switch(state, state.earlier, state.later, "Back to the chat before <em>Start over</em> "
                                "(Redo returns to the newer one).")
        if kind == "redo" and state.later and not state.session.redo_stack:
            return self._switch(state, state.later, state.earlier, "Back to the newer chat (Undo at its start "
                                "returns to the older one).")
        ctl = ChatController(self.editor, self.renderer, state.session)
        reply = ctl.handle(command)
        if reply.kind == "reset":
            if head is not None:
                state.earlier.append((state.session, state.messages))
                del state.earlier[:-MAX_CHATS]
            state.session = ctl.session
            state.messages = [{"role": "assistant", "content": WELCOME}]
            if head is not None:
                state.say("assistant", "Started over. The last chat is kept: press <b>Undo</b> to go back to it.")
            return self.view(state)
        return self._show_reply(state, reply)

    def _switch(self, state: ChatState, source: list, other: list, text: str):
        """Show the last chat of `source`; the one shown now (unless empty) goes to `other`."""
        if not state.session.is_empty:
            other.append((state.session, state.messages))
        state.session, state.messages = source.pop()
        state.say("assistant", text)
        return self.view(state, seed=state.session.seed)

    def undo(self, state: ChatState):
        return self.apply_command(state, "undo")

    def redo(self, state: ChatState):
        return self.apply_command(state, "redo")

    def start_over(self, state: ChatState):
        return self.apply_command(state, "start over")

    def restore(self, state: ChatState, evt: gr.SelectData):
        """A click on a history thumbnail: that turn becomes the current one (later edits branch)."""
        return self.restore_turn(state, state.gallery_ids[evt.index])

    def restore_turn(self, state: ChatState, turn_id: int):
        state.pending = None
        reply = ChatController(self.editor, self.renderer, state.session).restore(turn_id)
        return self._show_reply(state, reply)

    # ---- image upload, saving and loading ------------------------------------------------------

    def start_from_image(self, path: str | None, keep: bool, state: ChatState, backend, seed_mode, seed,
                         steps, guidance, negative, size, strength, progress=gr.Progress()):
        """Caption the uploaded image into a starting prompt; keep it as the img2img source if asked."""
        if not path:
            return self.view(state)
        try:
            image = check_upload(path)
            if self.captioner is None:
                raise InvalidInput("Starting from an image is not available: no captioning model is configured.")
            progress(None, desc="Describing your image…")
            captioner = self.captioner.get()
            fresh = ChatState(messages=list(state.messages), earlier=list(state.earlier), later=list(state.later))
            ctl = self.controller(fresh, Controls.read(backend, seed_mode, seed, steps, guidance, negative, size,
                                                       strength))
        except DiffChatError as e:
            return self._fail(state, e, chat=False)
        on_step = lambda step, total: progress((step, total), desc="Rendering", unit="steps")  # noqa: E731
        blind = getattr(captioner, "random_weights", False)  # a test model cannot see: its words are noise
        if blind:
            captioner = lambda image: PLACEHOLDER_PROMPT  # noqa: E731
        try:
            reply = ctl.start_from_image(image, captioner, keep_as_source=bool(keep), progress=on_step)
        except Exception as e:  # noqa: BLE001 - a library crash becomes a message; `state` is untouched
            return self._fail(state, f"Starting from the image failed: {type(e).__name__}: {e}", chat=False)
        if reply.kind == "error":
            return self._fail(state, reply.text, chat=False)
        fresh.say("user", "(uploaded an image)")
        if blind:
            fresh.say("assistant", RANDOM_CAPTIONER.format(prompt=as_text(fresh.session.current_prompt)))
        else:
            fresh.say("assistant", as_text(reply.text))
        if not state.session.is_empty:  # the chat it replaces is kept, as with Start over
            fresh.earlier = [*fresh.earlier, (state.session, state.messages)][-MAX_CHATS:]
        return self.view(fresh, seed=ctl.seed)

    def download(self, state: ChatState) -> str | None:
        """The session as a zip (session.json + images), or a warning for an empty chat."""
        if state.session.is_empty:
            gr.Warning("Nothing to download yet: the chat is empty.")
            return None
        # one file per browser session, replaced by the next download, removed with the state
        try:
            return str(pack_session(state.session, state.folder() / "diffchat-session.zip"))
        except (DiffChatError, OSError):  # a full disk, say; the message names no server path
            gr.Warning("Could not prepare the download on the server. Try again in a moment.")
            return None

    def load(self, path: str | None, state: ChatState):
        """Open a downloaded session zip; the current chat is replaced only if it loads."""
        if not path:
            return self.view(state)
        try:
            session = unpack_session(path)
        except DiffChatError as e:
            return self._fail(state, e, chat=False)
        fresh = ChatState(session=session, earlier=list(state.earlier), later=list(state.later))
        if not state.session.is_empty:  # the chat it replaces is kept: Undo at the loaded chat's start
            fresh.earlier = [*fresh.earlier, (state.session, state.messages)][-MAX_CHATS:]
        for turn in session.history():
            if turn.parent is None:
                fresh.say("user", as_text(turn.prompt_after))
            else:
                fresh.say("user", as_text(turn.instruction))
                fresh.say("assistant", diff_html(turn.prompt_before, turn.prompt_after))
        fresh.say("assistant", f"Loaded a chat of {len(session)} turns. Tell me what to change next.")
        return self.view(fresh, seed=session.seed)

    def backend_defaults(self, backend: str):
        """Steps, guidance, negative prompt and size of a backend, for the controls, and its note.
        A backend that cannot load here (offline, not downloaded) is said at once."""
        try:
            spec = get_backend(self.check_backend(backend))
        except DiffChatError as e:
            gr.Warning(str(e))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), WARN + html.escape(str(e), quote=False)
        note = backend_note(spec)
        if note.startswith(WARN):
            gr.Warning(note[len(WARN):])
        return spec.steps, spec.guidance, spec.negative_prompt, SIZES[0], note

    def editor_status(self) -> str:
        return self.editor_loader.status()

    def status_tick(self, shown: str):
        """The editor status line, sent only when it changed (no flicker); the timer stops once loaded."""
        text = self.editor_status()
        timer = gr.Timer(active=False) if self.editor_loader.done else gr.skip()
        if text == shown:
            return gr.skip(), shown, timer
        return text, text, timer


def backend_note(spec) -> str:
    """A line under the images: tiny backends draw noise; a backend that cannot load here says so."""
    try:
        spec = require_available(spec)
    except DiffChatError as e:
        return WARN + html.escape(str(e), quote=False)
    return TINY_NOTE.format(name=spec.name) if spec.tiny else ""


def build_chat_tab(app: ChatApp) -> None:
    """The chat tab's components and events (call inside a gr.Blocks / gr.Tab)."""
    spec = get_backend(app.backend)
    state = gr.State(ChatState(), time_to_live=STATE_TTL, delete_callback=ChatState.close)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=360):
            chat = gr.Chatbot(value=ChatState().messages, elem_id="chat", height=460, show_label=False,
                              buttons=["copy"], feedback_options=None, group_consecutive_messages=False,
                              render_markdown=False, latex_delimiters=[])  # user text: never markup
            with gr.Row():
                instruction = gr.Textbox(placeholder="A prompt to start, then what to change…", show_label=False,
                                         elem_id="instruction", scale=6, autofocus=True, submit_btn=False)
                send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
            with gr.Row():
                undo = gr.Button("↩ Undo", size="sm", elem_id="undo")
                redo = gr.Button("↪ Redo", size="sm", elem_id="redo")
                reset = gr.Button("✕ Start over", size="sm", elem_id="start-over")
            status = gr.Markdown(app.editor_status(), elem_id="editor-status")
        with gr.Column(scale=6, min_width=360):
            with gr.Row(equal_height=True):
                before = gr.Image(label="Before", type="pil", format="png", interactive=False, elem_id="before-image",
                                  buttons=["download"], height=300)
                current = gr.Image(label="After", type="pil", format="png", interactive=False,
                                   elem_id="current-image", buttons=["download", "fullscreen"], height=300)
            note = gr.Markdown(backend_note(spec), elem_id="backend-note")
            with gr.Row(equal_height=True):
                prompt = gr.Textbox(label="Prompt (edit it by hand, then Render)", lines=2, scale=6,
                                    elem_id="prompt")
                render = gr.Button("Render", elem_id="render", scale=1, min_width=80)
            with gr.Row(equal_height=True):
                backend = gr.Dropdown([(backend_label(n), n) for n in (app.allowed_backends or BACKENDS)],
                                      value=app.backend, label="Backend", elem_id="backend",
                                      allow_custom_value=app.allowed_backends is None, scale=4, min_width=260)
                seed_mode = gr.Radio(SEED_MODES, value=SEED_MODES[0], label="Seed", elem_id="seed-mode", scale=3)
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed value", elem_id="seed", scale=1)
            review = gr.Checkbox(label="Let me check each new prompt before rendering", value=False,
                                 elem_id="review")
            history = gr.Gallery(label="History: click a turn to go back to it (new edits branch from there)",
                                 columns=6, height=150, allow_preview=False, object_fit="cover", elem_id="history",
                                 format="png")
    with gr.Row():
        with gr.Accordion("More image settings", open=False, elem_id="settings"):
            with gr.Row():
                steps = gr.Slider(1, 100, value=spec.steps, step=1, label="Steps", elem_id="steps")
                guidance = gr.Slider(0, 20, value=spec.guidance, step=0.5, label="Guidance", elem_id="guidance")
                size = gr.Dropdown(SIZES, value=SIZES[0], label="Size", elem_id="size")
            with gr.Row():
                strength = gr.Slider(0.05, 1.0, value=0.6, step=0.05, label="Image-to-image strength",
                                     info="for chats started from your image", elem_id="strength")
                negative = gr.Textbox(value=spec.negative_prompt, label="Negative prompt", elem_id="negative",
                                      scale=2)
        with gr.Accordion("Start from an image · save · load", open=False, elem_id="files"):
            with gr.Row():
                upload = gr.File(label="Start from an image", file_types=["image"], type="filepath",
                                 elem_id="upload-image", height=120)
                with gr.Column():
                    keep = gr.Checkbox(value=True, label="Keep my image as the source (image-to-image)",
                                       elem_id="keep-source")
                    download = gr.Button("⬇ Download session (.zip)", elem_id="download")
                    saved = gr.File(label="Session file", interactive=False, elem_id="session-file", height=60)
                load = gr.File(label="Load a session (.zip)", file_types=[".zip"], type="filepath",
                               elem_id="load-session", height=120)

    controls = [backend, seed_mode, seed, steps, guidance, negative, size, strength]
    view = [state, chat, before, current, history, prompt, seed]
    # `send` has no concurrency limit: a starting prompt, a command or a question never waits behind
    # other users' edits (a local editor runs one edit at a time by itself; a remote one is network)
    gr.on([send.click, instruction.submit], app.send, [instruction, state, *controls], [*view, instruction],
          show_progress_on=[chat], concurrency_limit=None).then(
        app.render, [state, prompt, review, *controls], view, show_progress_on=[current])
    render.click(app.render_prompt, [state, prompt, *controls], view, show_progress_on=[current])
    undo.click(app.undo, state, view)
    redo.click(app.redo, state, view)
    # Start over (the button, or the chat's own trash icon) also empties the two file boxes
    for event in (reset.click, chat.clear):
        event(lambda s: (*app.start_over(s), None, None), state, [*view, upload, load])
    history.select(app.restore, state, view)
    upload.upload(app.start_from_image, [upload, keep, state, *controls], view, show_progress_on=[current])
    download.click(app.download, state, saved)
    load.upload(app.load, [load, state], view)
    backend.change(app.backend_defaults, backend, [steps, guidance, negative, size, note])
    shown = gr.State(app.editor_status())
    timer = gr.Timer(1.0)
    timer.tick(app.status_tick, shown, [status, shown, timer], show_progress="hidden", queue=False)
