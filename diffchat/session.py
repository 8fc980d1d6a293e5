"""ChatSession: the turns of a chat as a tree (undo, redo, branch), saved as a folder.

A saved session is a folder with `session.json` and `images/turn-<id>.png` (plus `images/source.png`
when the chat started from the user's image). `ChatSession.load` trusts nothing in that folder.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from .backends import get_backend
from .errors import BackendError, InvalidInput, SessionFileError
from .settings import RenderSettings

FORMAT = "diffchat-session"
VERSION = 1
SESSION_FILE = "session.json"
IMAGES_DIR = "images"
SOURCE_NAME = "source.png"

MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_TURNS = 5000
MAX_TEXT_CHARS = 4000
MAX_SETTINGS = 64
MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_SESSION_PIXELS = 512 * 2**20  # all images of one saved chat together (about 30 of 4096x4096)
MAX_SEED = 2**63 - 1
_IMAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.png")
_OUR_IMAGE = re.compile(r"(?:turn-\d+|source)\.png")



def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Turn:
    """One message of the chat and the prompt and image it led to."""

    id: int
    parent: int | None
    instruction: str
    prompt_before: str
    prompt_after: str
    seed: int
    backend: str
    settings: dict = field(default_factory=dict)
    image: str | None = None  # file name inside the session's images/ folder
    scores: dict = field(default_factory=dict)
    created: str = field(default_factory=_now)
    manual: bool = False  # prompt_after was typed by the user, not written by the editor


def render_prompt(renderer, prompt: str, *, seed: int, backend: str, settings: dict | None = None,
                  source: Image.Image | None = None, previous: Image.Image | None = None,
                  instruction: str | None = None, progress=None) -> Image.Image:
    """Render a turn the way every turn is rendered: its seed, backend and settings; img2img from
    the chat's source image when it has one; InstructPix2Pix backends edit the previous image."""
    kwargs = RenderSettings.from_dict(settings).as_dict()
    if get_backend(backend).kind == "ip2p":
        if previous is None and source is None:
            raise BackendError(f"'{backend}' edits an existing image: start from an image, or make the "
                               "first image with a text-to-image backend and then switch.")
        kwargs["init_image"] = previous if previous is not None else source
    elif source is not None:
        kwargs["init_image"] = source
    return renderer.render(prompt, backend=backend, seed=seed, instruction=instruction or None,
                           progress=progress, **kwargs)


def as_image(image, what: str) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (str, os.PathLike)):
        try:
            with Image.open(image) as im:
                im.load()
                return im.copy()
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise InvalidInput(f"Could not read the {what} '{image}': {e}") from e
    raise InvalidInput(f"The {what} must be a PIL image or a file path, not {type(image).__name__}.")


class ChatSession:
    """Turns form a tree rooted at turn 0 (the starting prompt); `head` is the turn shown now."""

    def __init__(self):
        self.turns: dict[int, Turn] = {}
        self.head: int | None = None
        self.source_name: str | None = None
        self._redo: list[int] = []
        self._images: dict[str, Image.Image | Path] = {}  # decoded, or a checked PNG file read when needed
        self._on_disk: set[tuple[str, str]] = set()  # (folder, image name) already written there

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.turns)

    @property
    def is_empty(self) -> bool:
        return self.head is None

    @property
    def current(self) -> Turn | None:
        return None if self.head is None else self.turns[self.head]

    @property
    def current_prompt(self) -> str | None:
        return None if self.head is None else self.turns[self.head].prompt_after

    @property
    def current_image(self) -> Image.Image | None:
        return self.image_of(self.head)

    @property
    def seed(self) -> int | None:
        return None if self.head is None else self.turns[self.head].seed

    @property
    def source_image(self) -> Image.Image | None:
        return self._image(self.source_name)

    @property
    def redo_stack(self) -> list[int]:
        return list(self._redo)

    def get(self, turn_id: int) -> Turn:
        if turn_id not in self.turns:
            raise InvalidInput(f"There is no turn {turn_id} in this chat.")
        return self.turns[turn_id]

    def image_of(self, turn: Turn | int | None) -> Image.Image | None:
        if turn is None:
            return None
        turn = turn if isinstance(turn, Turn) else self.get(turn)
        return self._image(turn.image)

    def image_file(self, turn: Turn | int | None) -> Path | None:
        """The PNG file of a turn's image when the session keeps it on disk (loaded with
        `lazy=True`), else None: a viewer can show the file without decoding it."""
        if turn is None:
            return None
        turn = turn if isinstance(turn, Turn) else self.get(turn)
        value = self._images.get(turn.image) if turn.image else None
        return value if isinstance(value, Path) else None

    def _image(self, name: str | None) -> Image.Image | None:
        value = self._images.get(name) if name else None
        if isinstance(value, Path):  # checked when loaded; decoded for each use, not kept
            with Image.open(value, formats=["PNG"]) as im:
                im.load()
                return im.copy()
        return value

    def children(self, turn_id: int) -> list[Turn]:
        return [t for t in self.turns.values() if t.parent == turn_id]

    def history(self) -> list[Turn]:
        """The turns from the start to the head."""
        path, tid = [], self.head
        while tid is not None:
            path.append(self.turns[tid])
            tid = self.turns[tid].parent
        return path[::-1]

    # -- changing ----------------------------------------------------------------------------

    def _attach(self, turn: Turn, image) -> None:
        if image is None:
            turn.image = None
            return
        turn.image = f"turn-{turn.id}.png"
        self._images[turn.image] = as_image(image, "image")
        self._on_disk = {k for k in self._on_disk if k[1] != turn.image}

    def start(self, prompt: str, *, seed: int, backend: str, settings: dict | None = None,
              image=None, source_image=None) -> Turn:
        """Forget everything and begin a new chat from `prompt` (turn 0)."""
        prompt = check_text(prompt, "starting prompt")
        source = as_image(source_image, "source image") if source_image is not None else None
        image = as_image(image, "image") if image is not None else None
        self.reset()
        turn = _checked(Turn(0, None, "", "", prompt, _check_seed(seed), str(backend), dict(settings or {})))
        self._attach(turn, image)
        if source is not None:
            self.source_name = SOURCE_NAME
            self._images[SOURCE_NAME] = source
        self.turns[0] = turn
        self.head = 0
        return turn

    def add_turn(self, instruction: str, prompt_after: str, *, image=None, seed: int | None = None,
                 backend: str | None = None, settings: dict | None = None,
                 scores: dict | None = None, manual: bool = False) -> Turn:
        """A new turn, child of the head, becomes the head (and clears redo)."""
        if self.head is None:
            raise InvalidInput("Start the chat with a prompt first.")
        head = self.turns[self.head]
        turn = _checked(Turn(
            id=max(self.turns) + 1,
            parent=head.id,
            instruction=str(instruction),
            prompt_before=head.prompt_after,
            prompt_after=check_text(prompt_after, "prompt"),
            seed=head.seed if seed is None else _check_seed(seed),
            backend=head.backend if backend is None else str(backend),
            settings=dict(head.settings if settings is None else settings),
            scores=dict(scores or {}),
            manual=bool(manual),
        ))
        self._attach(turn, image)
        self.turns[turn.id] = turn
        self.head = turn.id
        self._redo.clear()
        return turn

    def undo(self) -> Turn:
        """Go back to the head's parent; `redo` comes back here."""
        if self.head is None or self.turns[self.head].parent is None:
            raise InvalidInput("Nothing to undo.")
        self._redo.append(self.head)
        self.head = self.turns[self.head].parent
        return self.turns[self.head]

    def redo(self) -> Turn:
        if not self._redo:
            raise InvalidInput("Nothing to redo.")
        self.head = self._redo.pop()
        return self.turns[self.head]

    def restore(self, turn_id: int) -> Turn:
        """Make any turn the head; the next turn branches from it, other branches are kept."""
        turn = self.get(turn_id)
        self.head = turn.id
        self._redo.clear()
        return turn

    def reset(self) -> None:
        """Start over: no turns, no images."""
        self.turns.clear()
        self.head = None
        self.source_name = None
        self._redo.clear()
        self._images.clear()
        self._on_disk.clear()

    # -- replay ------------------------------------------------------------------------------

    def replay(self, editor, renderer, progress: Callable[[int, int], None] | None = None) -> ChatSession:
        """Re-run the turns from the start to the head with the same instructions, seeds, backends
        and settings: a new session (prompts typed by hand are kept as they were)."""
        path = self.history()
        if not path:
            raise InvalidInput("Nothing to replay: the chat is empty.")
        source = self.source_image
        new = ChatSession()
        for i, turn in enumerate(path):
            if turn.parent is None:
                prompt = turn.prompt_after
            elif turn.manual:
                prompt = turn.prompt_after
            else:
                prompt = editor.edit(new.current_prompt, turn.instruction)
            image = None
            if turn.image is not None:
                if turn.parent is None and source is not None:
                    image = source  # a chat started from an image shows that image first
                else:
                    image = render_prompt(renderer, prompt, seed=turn.seed, backend=turn.backend,
                                          settings=turn.settings, source=source,
                                          previous=new.current_image, instruction=turn.instruction)
            if turn.parent is None:
                new.start(prompt, seed=turn.seed, backend=turn.backend, settings=turn.settings,
                          image=image, source_image=source)
            else:
                new.add_turn(turn.instruction, prompt, image=image, seed=turn.seed,
                             backend=turn.backend, settings=turn.settings, manual=turn.manual)
            if progress is not None:
                progress(i + 1, len(path))
        return new

    # -- saving ------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "head": self.head,
            "redo": list(self._redo),
            "source_image": self.source_name,
            "turns": [asdict(t) for t in sorted(self.turns.values(), key=lambda t: t.id)],
        }

    def save(self, folder: str | os.PathLike) -> Path:
        """Write `session.json` and the images into `folder`, each file atomically."""
        folder = Path(folder)
        images = folder / IMAGES_DIR
        names = {t.image for t in self.turns.values() if t.image} | ({self.source_name} - {None})
        try:
            text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise SessionFileError(f"Could not save the chat: a turn holds a value JSON cannot store ({e}).") from e
        try:
            images.mkdir(parents=True, exist_ok=True)
            key = str(folder.resolve())
            for name in sorted(names):
                if (key, name) not in self._on_disk or not (images / name).is_file():
                    value = self._images[name]
                    if isinstance(value, Path):
                        _atomic_write(images / name, lambda f, src=value: f.write(src.read_bytes()))
                    else:
                        _atomic_write(images / name, lambda f, im=value: im.save(f, format="PNG"))
                    self._on_disk.add((key, name))
            _atomic_write(folder / SESSION_FILE, lambda f: f.write(text.encode("utf-8")))
            for old in images.iterdir():  # images of turns that are gone (after "start over")
                if _OUR_IMAGE.fullmatch(old.name) and old.name not in names and not old.is_symlink():
                    old.unlink()
        except OSError as e:
            raise SessionFileError(f"Could not save the chat to '{folder}': {e}") from e
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, *, lazy: bool = False) -> ChatSession:
        """Read a saved chat, checking everything; never writes. Any problem -> SessionFileError.
        With `lazy` the images stay in `folder` and are decoded when used (the caller keeps the
        folder as it is while the session lives); otherwise they are read into memory."""
        folder = Path(folder)
        if not folder.is_dir():
            raise SessionFileError(f"No saved chat at '{folder}': it is not a folder.")
        root = folder.resolve()
        path = folder / SESSION_FILE
        if not path.is_file() or path.resolve().parent != root:
            raise SessionFileError(f"'{folder}' is not a saved chat: {SESSION_FILE} is missing.")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise SessionFileError(f"{path} is too large (over {MAX_JSON_BYTES // 2**20} MB).")
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise SessionFileError(f"{path} is not valid JSON: {e}") from e
        try:
            return _from_dict(data, folder, lazy)
        except SessionFileError as e:
            raise SessionFileError(f"Cannot open the saved chat '{folder}': {e}") from None


# -- helpers ---------------------------------------------------------------------------------

def check_text(text, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"The {what} is empty.")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"The {what} is too long ({len(text)} characters, at most {MAX_TEXT_CHARS}).")
    return text.strip()


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"The seed must be a whole number from 0 to {MAX_SEED}, not {seed!r}.")
    return seed


def _valid_settings(settings: dict) -> bool:
    try:
        checked = RenderSettings.from_dict(settings)
    except (InvalidInput, TypeError):
        return False
    return len(checked.negative_prompt or "") <= MAX_TEXT_CHARS


def _checked(turn: Turn) -> Turn:
    """The turn, if it can be saved and loaded back (the same checks as `load`)."""
    for key, ok in _TURN_TYPES.items():
        if not ok(getattr(turn, key)):
            raise InvalidInput(f"Invalid {key} for a chat turn: {str(getattr(turn, key))[:80]!r}.")
    return turn


def _atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fail(message: str):
    raise SessionFileError(message)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return (_is_int(x) or isinstance(x, float)) and not (isinstance(x, float) and math.isinf(x))


_TURN_TYPES = {
    "id": _is_int,
    "parent": lambda x: x is None or _is_int(x),
    "instruction": lambda x: isinstance(x, str) and len(x) <= MAX_TEXT_CHARS,
    "prompt_before": lambda x: isinstance(x, str) and len(x) <= MAX_TEXT_CHARS,
    "prompt_after": lambda x: isinstance(x, str) and 0 < len(x.strip()) and len(x) <= MAX_TEXT_CHARS,
    "seed": lambda x: _is_int(x) and 0 <= x <= MAX_SEED,
    "backend": lambda x: isinstance(x, str) and 0 < len(x) <= 200,
    "settings": lambda x: isinstance(x, dict) and len(x) <= MAX_SETTINGS and _valid_settings(x),
    "image": lambda x: x is None or isinstance(x, str),
    "scores": lambda x: isinstance(x, dict) and len(x) <= MAX_SETTINGS and all(
        isinstance(k, str) and (_is_number(v) or v is None) for k, v in x.items()),
    "created": lambda x: isinstance(x, str) and _is_iso_time(x),
    "manual": lambda x: isinstance(x, bool),
}
assert set(_TURN_TYPES) == {f.name for f in fields(Turn)}


def _is_iso_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
        return len(text) <= 64
    except ValueError:
        return False


def _from_dict(data, folder: Path, lazy: bool = False) -> ChatSession:
    if not isinstance(data, dict):
        _fail("session.json must hold a JSON object.")
    if data.get("format") != FORMAT:
        _fail(f"session.json is not a DiffChat chat (format is {data.get('format')!r}, expected {FORMAT!r}).")
    version = data.get("version")
    if not _is_int(version):
        _fail("session.json has no valid 'version' number.")
    if version > VERSION:
        _fail(f"it was saved by a newer DiffChat (version {version}; this one reads {VERSION}). Upgrade DiffChat.")
    if version != VERSION:
        _fail(f"unsupported session version {version}.")
    expected = {"format", "version", "head", "redo", "source_image", "turns"}
    if set(data) != expected:
        _fail(f"session.json has unexpected or missing fields: {sorted(set(data) ^ expected)}.")
    turns = data["turns"]
    if not isinstance(turns, list) or len(turns) > MAX_TURNS:
        _fail(f"'turns' must be a list of at most {MAX_TURNS} turns.")

    session = ChatSession()
    for i, raw in enumerate(turns):
        if not isinstance(raw, dict):
            _fail(f"turn #{i} is not a JSON object.")
        if set(raw) != set(_TURN_TYPES):
            _fail(f"turn #{i} has unexpected or missing fields: {sorted(set(raw) ^ set(_TURN_TYPES))}.")
        for key, ok in _TURN_TYPES.items():
            if not ok(raw[key]):
                _fail(f"turn #{i} has an invalid '{key}': {str(raw[key])[:80]!r}.")
        turn = Turn(**raw)
        if turn.id in session.turns:
            _fail(f"two turns have the id {turn.id}.")
        session.turns[turn.id] = turn

    # The tree: turn 0 is the only root, every parent exists, no cycles.
    ids = session.turns
    roots = [t.id for t in ids.values() if t.parent is None]
    if ids and roots != [0]:
        _fail(f"the chat must have exactly one start turn, with id 0 (found roots {roots}).")
    for turn in ids.values():
        if turn.parent is not None and turn.parent not in ids:
            _fail(f"turn {turn.id} points to a parent turn {turn.parent} that does not exist.")
    reaches_root: set[int] = set(roots)
    for turn in ids.values():
        seen, tid = [], turn.id
        while tid not in reaches_root:
            if tid in seen:
                _fail(f"the turns form a cycle ({' -> '.join(map(str, seen))}).")
            seen.append(tid)
            tid = ids[tid].parent
        reaches_root.update(seen)
    for turn in ids.values():
        if turn.parent is None:
            if turn.instruction or turn.prompt_before:
                _fail("the start turn must have an empty instruction and previous prompt.")
        elif turn.prompt_before != ids[turn.parent].prompt_after:
            _fail(f"turn {turn.id}'s previous prompt differs from its parent turn's prompt.")

    head, redo = data["head"], data["redo"]
    if ids and not (_is_int(head) and head in ids):
        _fail(f"'head' must be the id of a turn, not {head!r}.")
    if not ids and head is not None:
        _fail("'head' must be null in a chat without turns.")
    if not isinstance(redo, list) or not all(_is_int(r) and r in ids for r in redo):
        _fail("'redo' must be a list of turn ids.")
    at = head
    for tid in reversed(redo):
        if ids[tid].parent != at:
            _fail(f"the redo list is inconsistent: turn {tid} is not a child of turn {at}.")
        at = tid
    session.head, session._redo = head, list(redo)

    source = data["source_image"]
    if source is not None and not isinstance(source, str):
        _fail("'source_image' must be an image file name or null.")
    session.source_name = source

    names = {t.image for t in ids.values() if t.image} | ({source} - {None})
    if names:
        images = folder / IMAGES_DIR
        if not images.is_dir() or images.resolve() != folder.resolve() / IMAGES_DIR:
            _fail(f"the '{IMAGES_DIR}' folder is missing or is a link to somewhere else.")
        key = str(folder.resolve())
        sizes = {name: _png_size(images, name) for name in sorted(names)}  # headers only: nothing decoded yet
        if sum(w * h for w, h in sizes.values()) > MAX_SESSION_PIXELS:
            _fail(f"its images are too large together (over {MAX_SESSION_PIXELS // 2**20} megapixels).")
        for name in sorted(names):
            image = _read_png(images / name, name)  # decodes, so a damaged image is found now
            session._images[name] = (images / name).resolve() if lazy else image
            session._on_disk.add((key, name))
    return session


def _png_size(images: Path, name: str) -> tuple[int, int]:
    """The size of a plain PNG inside `images`, from its header, after checking its name and place."""
    if not _IMAGE_NAME.fullmatch(name) or len(name) > 128:
        _fail(f"image name {name[:80]!r} is not a plain PNG file name inside '{IMAGES_DIR}/'.")
    path = images / name
    real = path.resolve()
    if real.parent != images.resolve():
        _fail(f"image '{name}' is a link pointing outside the chat's '{IMAGES_DIR}' folder.")
    if not real.is_file():
        _fail(f"image '{name}' is missing from '{IMAGES_DIR}/'.")
    if real.stat().st_size > MAX_IMAGE_BYTES:
        _fail(f"image '{name}' is too large (over {MAX_IMAGE_BYTES // 2**20} MB).")
    try:
        with Image.open(real, formats=["PNG"]) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                _fail(f"image '{name}' is too large ({im.width}x{im.height} pixels).")
            return im.size
    except SessionFileError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        _fail(f"image '{name}' is not a readable PNG image ({e}).")


def _read_png(path: Path, name: str) -> Image.Image:
    try:
        with Image.open(path, formats=["PNG"]) as im:
            im.load()
            return im.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        _fail(f"image '{name}' is not a readable PNG image ({e}).")


__all__ = ["ChatSession", "Turn", "render_prompt"]
