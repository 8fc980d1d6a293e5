import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffchat import session as session_mod
from diffchat.errors import InvalidInput, SessionFileError
from diffchat.session import ChatSession, Turn


class RuleEditor:
    """A deterministic stand-in for PromptEditor: appends the instruction."""

    name = "rules"

    def __init__(self):
        self.calls = []

    def edit(self, prompt, instruction, **gen):
        self.calls.append((prompt, instruction))
        return f"{prompt}, {instruction.strip().lower()}"


def img(value: int, size=(8, 8)) -> Image.Image:
    return Image.new("RGB", size, (value, 255 - value, value // 2))


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


@pytest.fixture(scope="module")
def renderer():
    from diffchat.render import Renderer

    return Renderer(device="cpu")


def chat() -> ChatSession:
    s = ChatSession()
    s.start("a horse in a field", seed=7, backend="tiny", settings={"steps": 2}, image=img(0))
    s.add_turn("make it snowy", "a horse in a snowy field", image=img(10))
    s.add_turn("at night", "a horse in a snowy field at night", image=img(20))
    return s


# -- the tree ------------------------------------------------------------------------------------

def test_start_and_add_turns():
    s = chat()
    assert [t.id for t in s.history()] == [0, 1, 2]
    root, last = s.turns[0], s.current
    assert (root.instruction, root.prompt_before, root.parent) == ("", "", None)
    assert last.prompt_before == "a horse in a snowy field" and last.parent == 1
    assert last.seed == 7 and last.backend == "tiny" and last.settings == {"steps": 2}
    assert s.current_prompt == "a horse in a snowy field at night" and s.seed == 7
    assert same(s.current_image, img(20)) and last.image == "turn-2.png"
    assert isinstance(last, Turn) and last.created[:2] == "20"


def test_empty_session():
    s = ChatSession()
    assert s.is_empty and s.current_prompt is None and s.current_image is None and s.history() == []
    with pytest.raises(InvalidInput, match="Nothing to undo"):
        s.undo()
    with pytest.raises(InvalidInput, match="Start the chat"):
        s.add_turn("snowy", "x")
    with pytest.raises(InvalidInput, match="empty"):
        s.start("  ", seed=0, backend="tiny")


def test_undo_redo():
    s = chat()
    assert s.undo().id == 1 and s.current_prompt == "a horse in a snowy field"
    assert s.undo().id == 0
    with pytest.raises(InvalidInput, match="Nothing to undo"):
        s.undo()
    assert s.redo().id == 1 and s.redo().id == 2
    with pytest.raises(InvalidInput, match="Nothing to redo"):
        s.redo()
    s.undo()
    s.add_turn("add a dog", "a horse and a dog in a snowy field")  # clears redo
    assert s.redo_stack == []
    with pytest.raises(InvalidInput, match="Nothing to redo"):
        s.redo()
    assert [t.id for t in s.history()] == [0, 1, 3]
    assert 2 in s.turns  # the other branch is kept


def test_restore_branches():
    s = chat()
    s.restore(0)
    turn = s.add_turn("as a painting", "a painting of a horse in a field", seed=9, backend="sd15")
    assert turn.parent == 0 and turn.id == 3 and turn.seed == 9 and turn.backend == "sd15"
    assert [t.id for t in s.children(0)] == [1, 3]
    s.restore(2)
    assert [t.id for t in s.history()] == [0, 1, 2]
    with pytest.raises(InvalidInput, match="no turn 42"):
        s.restore(42)


def test_reset_and_bad_inputs():
    s = chat()
    s.reset()
    assert s.is_empty and len(s) == 0 and s.current_image is None
    with pytest.raises(InvalidInput, match="seed"):
        s.start("a cat", seed=-1, backend="tiny")
    with pytest.raises(InvalidInput, match="seed"):
        s.start("a cat", seed=True, backend="tiny")
    with pytest.raises(InvalidInput, match="Could not read"):
        s.start("a cat", seed=0, backend="tiny", image="/no/such/file.png")
    assert s.is_empty  # a failed start changes nothing
    s = chat()
    with pytest.raises(InvalidInput, match="empty"):
        s.add_turn("x", "   ")
    with pytest.raises(InvalidInput, match="too long"):
        s.add_turn("x", "y" * 5000)
    with pytest.raises(InvalidInput, match="instruction"):
        s.add_turn("x" * 5000, "y")
    with pytest.raises(InvalidInput, match="settings"):
        s.add_turn("x", "y", settings={"steps": object()})
    with pytest.raises(InvalidInput, match="scores"):
        s.add_turn("x", "y", scores={"clip": "high"})
    with pytest.raises(InvalidInput, match="backend"):
        s.add_turn("x", "y", backend="")
    assert len(s) == 3 and s.head == 2


# -- save / load ---------------------------------------------------------------------------------

def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.is_symlink(), p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_save_load_round_trip(tmp_path):
    s = chat()
    s.undo()
    s.add_turn("add a dog", "a horse and a dog in a snowy field", image=img(30), scores={"clip": 31.5})
    s.restore(2)
    s.undo()  # redo stack = [2]
    s.save(tmp_path / "chat")
    files = sorted(p.name for p in (tmp_path / "chat").rglob("*"))
    assert files == ["images", "session.json", "turn-0.png", "turn-1.png", "turn-2.png", "turn-3.png"]
    data = json.loads((tmp_path / "chat" / "session.json").read_text())
    assert data["version"] == 1 and data["format"] == "diffchat-session"

    before = snapshot(tmp_path / "chat")
    t = ChatSession.load(tmp_path / "chat")
    assert snapshot(tmp_path / "chat") == before  # load writes nothing
    assert t.to_dict() == s.to_dict()
    assert t.head == 1 and t.redo_stack == [2] and t.turns[3].scores == {"clip": 31.5}
    for tid in s.turns:
        assert same(t.image_of(tid), s.image_of(tid))
    assert t.redo().id == 2


def test_source_image_and_turns_without_images(tmp_path):
    s = ChatSession()
    s.start("a beach", seed=1, backend="tiny", image=img(5), source_image=img(99, (16, 8)))
    s.add_turn("at sunset", "a beach at sunset")  # text only: no image
    s.save(tmp_path)
    t = ChatSession.load(tmp_path)
    assert t.source_name == "source.png" and same(t.source_image, img(99, (16, 8)))
    assert t.current.image is None and t.current_image is None


def test_save_is_atomic_and_drops_stale_images(tmp_path):
    s = chat()
    s.save(tmp_path)
    (tmp_path / "images" / "notes.txt").write_text("mine")
    s.reset()
    s.start("a cat", seed=3, backend="tiny", image=img(77))
    s.save(tmp_path)
    names = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert names == ["notes.txt", "turn-0.png"]  # other files are left alone, no temporary files remain
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    t = ChatSession.load(tmp_path)
    assert same(t.current_image, img(77)) and len(t) == 1


def test_unstorable_scores_are_refused_before_writing(tmp_path):
    s = chat()
    s.current.scores["clip"] = np.float32(3.0)  # set after the fact, e.g. by a scorer
    with pytest.raises(SessionFileError, match="JSON cannot store"):
        s.save(tmp_path / "chat")
    assert not (tmp_path / "chat").exists()


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    s = chat()
    s.save(tmp_path)
    old = (tmp_path / "session.json").read_text()
    s.add_turn("add a dog", "a horse with a dog")

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(session_mod.os, "replace", broken)  # the new file is written, the rename fails
    with pytest.raises(SessionFileError, match="disk full"):
        s.save(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "session.json").read_text() == old
    assert not [p for p in tmp_path.rglob("*.tmp")]
    assert len(ChatSession.load(tmp_path)) == 3


# Each case damages a good saved chat; load must refuse it with a clear message and write nothing.
def _edit_json(change):
    def apply(folder: Path):
        data = json.loads((folder / "session.json").read_text())
        change(data)
        (folder / "session.json").write_text(json.dumps(data))
    return apply


def _set_turn(i, key, value):
    return _edit_json(lambda d: d["turns"][i].__setitem__(key, value))


def _write(name, content: bytes):
    return lambda folder: (folder / name).write_bytes(content)


def _symlink_image_outside(folder: Path):
    outside = folder.parent / "outside.png"
    img(1).save(outside)
    (folder / "images" / "turn-1.png").unlink()
    os.symlink(outside, folder / "images" / "turn-1.png")


def _symlink_images_dir(folder: Path):
    other = folder.parent / "elsewhere"
    shutil.copytree(folder / "images", other)
    shutil.rmtree(folder / "images")
    os.symlink(other, folder / "images")


def _jpeg_as_png(folder: Path):
    img(1).save(folder / "images" / "turn-1.png", format="JPEG")


def _truncated_png(folder: Path):
    path = folder / "images" / "turn-1.png"
    Image.effect_noise((64, 64), 50).convert("RGB").save(path)
    path.write_bytes(path.read_bytes()[:200])


BAD = [
    ("not JSON", _write("session.json", b"{not json"), "not valid JSON"),
    ("not UTF-8", _write("session.json", b"\xff\xfe\x00"), "not valid JSON"),
    ("a list", _write("session.json", b"[]"), "JSON object"),
    ("wrong format", _edit_json(lambda d: d.__setitem__("format", "other")), "not a DiffChat chat"),
    ("newer version", _edit_json(lambda d: d.__setitem__("version", 2)), "newer DiffChat"),
    ("version text", _edit_json(lambda d: d.__setitem__("version", "1")), "version"),
    ("old version", _edit_json(lambda d: d.__setitem__("version", 0)), "unsupported"),
    ("extra field", _edit_json(lambda d: d.__setitem__("owner", "x")), "unexpected or missing"),
    ("missing turns", _edit_json(lambda d: d.pop("turns")), "unexpected or missing"),
    ("turns not list", _edit_json(lambda d: d.__setitem__("turns", {})), "list"),
    ("turn not object", _edit_json(lambda d: d["turns"].__setitem__(1, 5)), "not a JSON object"),
    ("turn extra key", _set_turn(1, "evil", 1), "unexpected or missing"),
    ("turn missing key", _edit_json(lambda d: d["turns"][1].pop("seed")), "unexpected or missing"),
    ("id is bool", _set_turn(1, "id", True), "invalid 'id'"),
    ("seed negative", _set_turn(1, "seed", -5), "invalid 'seed'"),
    ("seed float", _set_turn(1, "seed", 1.5), "invalid 'seed'"),
    ("prompt empty", _set_turn(1, "prompt_after", " "), "invalid 'prompt_after'"),
    ("prompt huge", _set_turn(1, "prompt_after", "x" * 5000), "invalid 'prompt_after'"),
    ("settings nested", _set_turn(1, "settings", {"a": {"b": 1}}), "invalid 'settings'"),
    ("settings unknown", _set_turn(1, "settings", {"sampler": "euler"}), "invalid 'settings'"),
    ("steps too many", _set_turn(1, "settings", {"steps": 10**9}), "invalid 'settings'"),
    ("scores text", _set_turn(1, "scores", {"clip": "high"}), "invalid 'scores'"),
    ("bad time", _set_turn(1, "created", "yesterday"), "invalid 'created'"),
    ("manual not bool", _set_turn(1, "manual", "yes"), "invalid 'manual'"),
    ("duplicate id", _set_turn(2, "id", 1), "two turns"),
    ("two roots", _set_turn(1, "parent", None), "exactly one start turn"),
    ("root not 0", _edit_json(lambda d: [d["turns"][0].__setitem__("id", 9)]), "exactly one start turn"),
    ("missing parent", _set_turn(2, "parent", 17), "does not exist"),
    ("cycle", _edit_json(lambda d: (d["turns"][1].__setitem__("parent", 2))), "cycle"),
    ("self parent", _set_turn(2, "parent", 2), "cycle"),
    ("prompt chain", _set_turn(2, "prompt_before", "something else"), "parent turn's prompt"),
    ("root instruction", _set_turn(0, "instruction", "x"), "start turn"),
    ("head unknown", _edit_json(lambda d: d.__setitem__("head", 12)), "'head'"),
    ("head missing", _edit_json(lambda d: d.__setitem__("head", None)), "'head'"),
    ("redo unknown", _edit_json(lambda d: d.__setitem__("redo", [8])), "'redo'"),
    ("redo inconsistent", _edit_json(lambda d: d.__setitem__("redo", [1])), "redo list"),
    ("image dotdot", _set_turn(1, "image", "../session.png"), "plain PNG file name"),
    ("image absolute", _set_turn(1, "image", "/etc/passwd"), "plain PNG file name"),
    ("image subfolder", _set_turn(1, "image", "sub/turn-1.png"), "plain PNG file name"),
    ("image hidden", _set_turn(1, "image", ".turn-1.png"), "plain PNG file name"),
    ("image not png name", _set_turn(1, "image", "turn-1.jpg"), "plain PNG file name"),
    ("image not text", _set_turn(1, "image", 3), "invalid 'image'"),
    ("image missing", _set_turn(1, "image", "turn-9.png"), "missing"),
    ("source traversal", _edit_json(lambda d: d.__setitem__("source_image", "../../x.png")), "plain PNG"),
    ("symlink outside", _symlink_image_outside, "outside"),
    ("images dir symlink", _symlink_images_dir, "link to somewhere else"),
    ("jpeg inside", _jpeg_as_png, "not a readable PNG"),
    ("truncated png", _truncated_png, "not a readable PNG"),
    ("text as png", _write("images/turn-1.png", b"hello"), "not a readable PNG"),
]


@pytest.mark.parametrize("damage, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_load_rejects_damaged_sessions(tmp_path, damage, message):
    folder = tmp_path / "chat"
    chat().save(folder)
    damage(folder)
    before = snapshot(folder)
    with pytest.raises(SessionFileError, match=message) as info:
        ChatSession.load(folder)
    assert str(folder) in str(info.value)
    assert snapshot(folder) == before


def test_load_missing_and_size_limits(tmp_path, monkeypatch):
    with pytest.raises(SessionFileError, match="not a folder"):
        ChatSession.load(tmp_path / "nothing")
    with pytest.raises(SessionFileError, match="session.json is missing"):
        ChatSession.load(tmp_path)
    chat().save(tmp_path)
    monkeypatch.setattr(session_mod, "MAX_IMAGE_PIXELS", 63)
    with pytest.raises(SessionFileError, match="too large"):
        ChatSession.load(tmp_path)
    monkeypatch.setattr(session_mod, "MAX_JSON_BYTES", 100)
    with pytest.raises(SessionFileError, match="too large"):
        ChatSession.load(tmp_path)
    monkeypatch.undo()
    assert len(ChatSession.load(tmp_path)) == 3


def test_symlink_inside_images_is_fine(tmp_path):
    chat().save(tmp_path)
    (tmp_path / "images" / "turn-1.png").unlink()
    os.symlink(tmp_path / "images" / "turn-0.png", tmp_path / "images" / "turn-1.png")
    assert same(ChatSession.load(tmp_path).image_of(1), img(0))


# -- replay --------------------------------------------------------------------------------------

def rendered_chat(renderer, editor, source=None) -> ChatSession:
    s = ChatSession()
    settings = {"steps": 2, "guidance": 3.0, "strength": 0.7}
    first = source if source is not None else renderer.render("a horse in a field", backend="tiny", seed=5, steps=2,
                                                              guidance=3.0)
    s.start("a horse in a field", seed=5, backend="tiny", settings=settings, image=first, source_image=source)
    for i, instruction in enumerate(["make it snowy", "at night"]):
        prompt = editor.edit(s.current_prompt, instruction)
        image = session_mod.render_prompt(renderer, prompt, seed=5 + i, backend="tiny", settings=settings,
                                          source=s.source_image)
        s.add_turn(instruction, prompt, image=image, seed=5 + i)
    return s


@pytest.mark.parametrize("with_source", [False, True])
def test_replay_reproduces_prompts_and_images(renderer, tmp_path, with_source):
    source = img(120, (64, 64)) if with_source else None
    original = rendered_chat(renderer, RuleEditor(), source)
    original.restore(1)
    original.add_turn("add a dog", "a horse and a dog, hand written", image=None, manual=True)
    original.undo()
    original.redo()
    original.save(tmp_path)
    loaded = ChatSession.load(tmp_path)

    editor, steps = RuleEditor(), []
    new = loaded.replay(editor, renderer, progress=lambda i, n: steps.append((i, n)))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert editor.calls == [("a horse in a field", "make it snowy")]  # the hand-written turn is kept
    assert [t.prompt_after for t in new.history()] == [t.prompt_after for t in loaded.history()]
    assert [t.seed for t in new.history()] == [t.seed for t in loaded.history()]
    assert [t.manual for t in new.history()] == [False, False, True]
    for old, fresh in zip(loaded.history(), new.history()):
        if old.image is None:
            assert fresh.image is None
        else:
            assert same(new.image_of(fresh), loaded.image_of(old))
    assert same(new.image_of(1), original.image_of(1))
    assert (new.source_image is None) == (not with_source)


def test_replay_with_a_different_editor_changes_prompts(renderer):
    original = rendered_chat(renderer, RuleEditor())

    class Other(RuleEditor):
        def edit(self, prompt, instruction, **gen):
            return f"{prompt} and {instruction} in a different way"

    new = original.replay(Other(), renderer)
    assert new.current_prompt == ("a horse in a field and make it snowy in a different way and at night "
                                  "in a different way")
    assert not same(new.current_image, original.current_image)
    assert same(new.image_of(0), original.image_of(0))  # the start prompt is the same


def test_replay_empty():
    with pytest.raises(InvalidInput, match="Nothing to replay"):
        ChatSession().replay(RuleEditor(), None)
