"""The app's handlers called directly: the real shipped editor, the tiny pipeline, the tiny captioner."""
import json
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app as app_module
from diffchat.storage import VoteStore, load_items
from diffchat.ui import (AppConfig, BackgroundLoader, ChatApp, ChatState, CompareApp, build_demo, editor_loader,
                         launch_kwargs)
from diffchat.ui.chat_tab import MANUAL_INSTRUCTION, PLACEHOLDER_PROMPT, WARN, WELCOME, diff_html, parse_size

C = ["tiny", "fixed", 7, 4, 5.0, "", "backend default", 0.6]  # backend, seed mode, seed, steps, guidance, ...


@pytest.fixture(scope="module")
def renderer():
    from diffchat.render import Renderer

    return Renderer()


@pytest.fixture(scope="module")
def chat(renderer):
    from diffchat.caption import Captioner

    captioner = BackgroundLoader(lambda: Captioner.from_pretrained("tiny"), name="captioner")
    return ChatApp(editor_loader(None), renderer, captioner, backend="tiny")


def same(a, b) -> bool:
    """Equal pixels; an image may be a file (a loaded session's images are shown from their files)."""
    a, b = (Image.open(x).convert("RGB") if isinstance(x, (str, Path)) else x for x in (a, b))
    return a is not None and b is not None and np.array_equal(np.asarray(a), np.asarray(b))


def turn(chat, state, message, review=False, controls=C):
    """send + render, as the Send button chains them."""
    out = chat.send(message, state, *controls)
    assert out[-1] == ""  # the instruction box is cleared
    return chat.render(state, out[5], review, *controls)


def test_three_turns_with_diff_undo_redo_and_branch(chat):
    state = ChatState()
    out = chat.send("a cat sitting on a bench in a park", state, *C)
    assert state.messages[-1] == {"role": "user", "content": "a cat sitting on a bench in a park"}
    assert out[5] == "a cat sitting on a bench in a park" and out[3] is None  # nothing rendered yet
    state_, messages, before, current, gallery, prompt, seed = chat.render(state, out[5], False, *C)
    assert state.session.current_prompt == "a cat sitting on a bench in a park"  # rendered as is
    assert before is None and current.size == (64, 64) and seed == 7 and len(gallery) == 1

    first_image = current
    out = chat.send("make it snowy", state, *C)
    proposal = out[5]
    assert state.pending == {"instruction": "make it snowy", "proposal": proposal}
    assert state.messages[-1]["content"] == diff_html("a cat sitting on a bench in a park", proposal)
    assert len(state.session) == 1  # not committed before rendering
    out = chat.render(state, proposal, False, *C)
    assert state.session.current_prompt == proposal and not state.session.current.manual
    assert same(out[2], first_image) and not same(out[3], first_image)
    assert state.session.current.seed == 7  # same seed as the image before

    out = turn(chat, state, "add a red umbrella")
    third = state.session.current
    assert third.id == 2 and len(out[4]) == 3 and out[4][2][1] == "\u25b6 2 · add a red umbrella"

    out = chat.undo(state)
    assert state.session.head == 1 and "Went back to" in state.messages[-1]["content"]
    assert same(out[3], state.session.image_of(1)) and same(out[2], first_image)
    chat.redo(state)
    assert state.session.head == 2
    out = chat.restore_turn(state, 0)
    assert state.session.head == 0 and out[2] is None and same(out[3], first_image)
    turn(chat, state, "turn the cat into a dog")
    assert [t.id for t in state.session.children(0)] == [1, 3]  # a new branch; turn 1 is kept
    assert state.gallery_ids == [0, 1, 2, 3]  # each branch after the turn it came from
    labels = [label for _, label in chat.view(state)[4]]
    assert labels == ["0 · start", "1 · make it snowy", "2 · add a red umbrella", "\u25b6 3 \u2190 0 · turn the cat into a dog"]

    old, old_messages = state.session, list(state.messages)
    chat.start_over(state)
    assert state.session.is_empty and state.messages[0] == {"role": "assistant", "content": WELCOME}
    assert "Undo" in state.messages[-1]["content"] and len(old) == 4 and old.image_of(1) is not None
    out = chat.undo(state)  # Start over is undone: the old chat comes back whole
    assert state.session is old and state.session.head == 3 and same(out[3], old.image_of(3))
    assert state.messages[:len(old_messages)] == old_messages
    with pytest.warns(UserWarning, match="Nothing to redo"):
        chat.redo(state)  # the new chat was empty: nothing to go forward to
    assert state.session is old
    chat.start_over(state)
    turn(chat, state, "a dog on a beach")
    new = state.session
    chat.undo(state)  # at the start of the new chat: back to the old one
    assert state.session is old
    chat.redo(state)
    assert state.session is new and state.session.current_prompt == "a dog on a beach"


def test_typed_commands_and_clarifying_questions(chat):
    state = ChatState()
    turn(chat, state, "a house by a lake")
    out = chat.send("make it better", state, *C)
    assert state.pending is None and len(state.session) == 1
    assert state.messages[-1]["role"] == "assistant" and "?" in state.messages[-1]["content"]
    chat.render(state, out[5], False, *C)  # the chained render does nothing without a pending prompt
    assert len(state.session) == 1
    with pytest.warns(UserWarning, match="Nothing to undo"):
        chat.send("undo", state, *C)
    assert state.session.head == 0 and state.messages[-1]["content"].startswith(WARN)


def test_empty_message_and_bad_settings_keep_the_session(chat):
    state = ChatState()
    turn(chat, state, "a red car")
    snapshot = state.session.to_dict()
    with pytest.warns(UserWarning, match="Type a message first"):
        out = chat.send("   ", state, *C)
    assert out[-1] == "   "
    bad_seed = ["tiny", "fixed", -1, 4, 5.0, "", "backend default", 0.6]
    with pytest.warns(UserWarning, match="seed"):
        out = chat.send("make it blue", state, *bad_seed)
    assert out[-1] == "make it blue"  # kept in the box to try again
    with pytest.warns(UserWarning, match="'no-such-backend' is not offered here"):
        chat.render_prompt(state, "a blue car", "no-such-backend", *C[1:])
    assert state.session.to_dict() == snapshot


def test_offline_backend_fails_at_once_and_keeps_the_view(chat):
    state = ChatState()
    turn(chat, state, "a lighthouse at dusk")
    snapshot, messages = state.session.to_dict(), list(state.messages)
    offline = ["sd15", *C[1:]]  # needs a download: cannot load offline
    with pytest.warns(UserWarning, match="'sd15'.*not downloaded.*Use tiny"):
        out = chat.send("make it stormy", state, *offline)
    assert out[-1] == "make it stormy" and out[5] == "a lighthouse at dusk"  # kept in the box; prompt = image's
    assert state.pending is None and state.messages == messages and state.session.to_dict() == snapshot
    with pytest.warns(UserWarning, match="not downloaded"):
        chat.render_prompt(state, "a lighthouse in a storm", *offline)
    assert state.messages[-1]["content"].startswith(WARN) and state.session.to_dict() == snapshot
    with pytest.warns(UserWarning, match="not downloaded"):
        assert "not downloaded" in chat.backend_defaults("sd15")[-1]  # said when it is chosen
    assert "noise" in chat.backend_defaults("tiny")[-1]


def test_a_library_crash_while_rendering_is_shown_not_raised(chat, monkeypatch):
    state = ChatState()
    turn(chat, state, "a windmill")
    snapshot = state.session.to_dict()
    chat.send("make it snowy", state, *C)

    def crash(*args, **kwargs):
        raise RuntimeError("Failed to import diffusers.pipelines.auto_pipeline")

    monkeypatch.setattr(chat.renderer, "render", crash)
    with pytest.warns(UserWarning, match="Rendering failed: RuntimeError"):
        chat.render(state, state.pending["proposal"], False, *C)
    assert state.session.to_dict() == snapshot and state.pending is not None


def test_review_then_edit_by_hand(chat):
    state = ChatState()
    turn(chat, state, "a bowl of fruit on a table", review=True)  # the start renders anyway
    assert len(state.session) == 1
    turn(chat, state, "add a candle", review=True)
    assert len(state.session) == 1 and "Render" in state.messages[-1]["content"]
    chat.render_prompt(state, "a bowl of fruit and a lit candle on a table", *C)
    head = state.session.current
    assert head.manual and head.instruction == "add a candle"
    assert head.prompt_after == "a bowl of fruit and a lit candle on a table"
    assert state.messages[-1]["content"].startswith("\u270e") and "<ins>candle</ins>" in state.messages[-1]["content"]
    chat.render_prompt(state, "a still life with a candle", *C)  # typed into the prompt box, no instruction
    assert state.session.current.instruction == MANUAL_INSTRUCTION and state.session.current.manual


def test_editor_that_cannot_load_is_shown_not_raised(renderer):
    broken = ChatApp(editor_loader("/no/such/model-folder"), renderer, None, backend="tiny")
    state = ChatState()
    turn(broken, state, "a tree on a hill")  # the starting prompt needs no editor
    assert len(state.session) == 1
    with pytest.warns(UserWarning, match="Model folder not found"):
        broken.send("make it autumn", state, *C)
    assert len(state.session) == 1 and state.messages[-1]["content"].startswith(WARN)
    assert broken.editor_status().startswith(WARN)


def test_start_from_uploaded_image(chat, tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(path)
    state = ChatState()
    out = chat.start_from_image(str(path), True, state, *C)
    new = out[0]
    assert new.session.source_image is not None and same(out[3], Image.open(path).convert("RGB"))
    # the tiny captioner has random weights: its words are never shown as a caption
    assert new.session.current_prompt == PLACEHOLDER_PROMPT and "random weights" in new.messages[-1]["content"]
    turn(chat, new, "make it snowy")  # img2img from the source
    assert len(new.session) == 2 and new.session.current_image.size[0] % 8 == 0

    out = chat.start_from_image(str(path), False, ChatState(), *C)
    assert out[0].session.source_image is None and out[3].size == (64, 64)  # rendered from the caption


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("not an image"), "not an image"),
    (lambda p: Image.new("1", (4100, 4100)).save(p), "too large"),
])
def test_bad_uploads_warn_and_keep_the_session(chat, tmp_path, make, message):
    path = tmp_path / "upload.png"
    make(path)
    state = ChatState()
    turn(chat, state, "a boat")
    snapshot = state.session.to_dict()
    with pytest.warns(UserWarning, match=message):
        out = chat.start_from_image(str(path), True, state, *C)
    assert out[0] is state and state.session.to_dict() == snapshot


def test_download_and_load_session_zip(chat, tmp_path):
    state = ChatState()
    turn(chat, state, "a small cabin in the woods")
    turn(chat, state, "add snow on the roof")
    path = chat.download(state)
    names = zipfile.ZipFile(path).namelist()
    assert "session.json" in names and "images/turn-1.png" in names
    out = chat.load(path, ChatState())
    loaded = out[0]
    assert loaded.session.to_dict()["turns"] == state.session.to_dict()["turns"]
    assert same(out[3], state.session.current_image) and same(out[2], state.session.image_of(0))
    assert "Loaded a chat of 2 turns" in loaded.messages[-1]["content"]
    with pytest.warns(UserWarning, match="Nothing to download"):
        assert chat.download(ChatState()) is None


def test_loading_a_bad_zip_warns_and_keeps_the_chat(chat, tmp_path):
    state = ChatState()
    turn(chat, state, "a red kite")
    not_zip = tmp_path / "x.zip"
    not_zip.write_text("hello")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../session.json", "{}")
    for path, message in ((not_zip, "not a DiffChat session zip"), (evil, "unsafe path")):
        with pytest.warns(UserWarning, match=message):
            out = chat.load(str(path), state)
        assert out[0] is state and len(state.session) == 1


def test_backend_defaults_and_sizes(chat):
    assert chat.backend_defaults("sd-turbo")[:2] == (1, 0.0)
    assert parse_size("768×512") == (768, 512) and parse_size("backend default") == (None, None)


# ---- compare tab -------------------------------------------------------------------------------

@pytest.fixture
def items_dir(tmp_path):
    folder = tmp_path / "items"
    rows = []
    for i in range(3):
        for name in ("raw", "base", "diffchat", "sdxl"):
            (folder / name).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(folder / name / f"{i}.png")
        rows.append({"id": f"item-{i}", "raw_image": f"raw/{i}.png", "instruction": "make it red",
                     "raw_prompt": "a car", "images": {m: f"{m}/{i}.png" for m in ("base", "diffchat")}})
    rows[0]["images"]["sdxl"] = "sdxl/0.png"  # three methods: three pairs for item-0
    (folder / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return folder


def test_compare_votes_back_skip_and_results(tmp_path, items_dir):
    store = VoteStore(tmp_path / "votes.sqlite")
    compare = CompareApp(store, load_items(items_dir), seed=0)
    assert len(compare.tasks()) == 5
    with pytest.warns(UserWarning, match="enter your name"):
        compare.start("  ", CompareApp.new_state())
    state, setup, voting, status, text, raw, left, right = compare.start("alice", CompareApp.new_state())
    assert setup["visible"] is False and voting["visible"] is True
    task = state["current"]
    item = compare.items[task["item"]]
    def same_file(served, original):
        return open(served, "rb").read() == original.read_bytes()

    assert same_file(raw, item.raw_image) and same_file(left, item.images[task["left"]])
    assert same_file(right, item.images[task["right"]]) and "make it red" in text

    state, *_ = compare.vote("left", state)
    [row] = store.votes()
    assert (row.item, row.left_method, row.winner, row.annotator) == (task["item"], task["left"], task["left"], "alice")
    state, *_ = compare.back(state)  # the same item again, same sides
    assert state["current"] == task
    state, *_ = compare.vote("right", state)  # changes the vote, no second row
    [row] = store.votes()
    assert row.winner == task["right"] and row.vote == "right"

    state, *_ = compare.skip(state)
    while state["current"]:
        state, *_ = compare.vote("tie", state)
    assert store.count() == 4  # five tasks, one skipped
    assert "All items are done" in compare.view(state)[2]
    # a new session of the same annotator only shows what is left (the skipped task)
    again, *_ = compare.start("alice", CompareApp.new_state())
    assert again["current"] is not None and not again["queue"]

    fig, table, summary = compare.results()
    pairs = {(v.method_a, v.method_b) for v in store.votes()}
    # rates are from diffchat's side in the pairs that hold it
    expected = sorted(("diffchat", b if a == "diffchat" else a) if "diffchat" in (a, b) else (a, b) for a, b in pairs)
    assert [row[0] for row in table] == [f"{a} vs {b}" for a, b in expected]
    assert "4 votes" in summary and fig.axes
    assert compare.export("csv").endswith(".csv")
    rows = [json.loads(l) for l in open(compare.export("jsonl"))]
    assert len(rows) == 4 and {r["annotator"] for r in rows} == {"alice"}


def test_compare_without_items_says_so(tmp_path):
    compare = CompareApp(VoteStore(tmp_path / "v.sqlite"), None)
    with pytest.warns(UserWarning, match="No comparison items"):
        compare.start("bob", CompareApp.new_state())


# ---- the app as a whole ------------------------------------------------------------------------

def test_demo_has_the_stable_element_ids(tmp_path, items_dir):
    demo = build_demo(AppConfig(db=tmp_path / "v.sqlite", items=items_dir),
                      editor=BackgroundLoader(lambda: "unused"))
    ids = {block.elem_id for block in demo.blocks.values()}
    for elem_id in ("instruction", "send", "chat", "current-image", "undo", "backend",
                    "vote-left", "vote-tie", "vote-right"):
        assert elem_id in ids
    assert "allowed_paths" not in launch_kwargs(demo)  # nothing of the items folder is served as such
    with sqlite3.connect(tmp_path / "v.sqlite") as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name='votes'").fetchone()


def test_app_flags_and_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFCHAT_DB", str(tmp_path / "env.sqlite"))
    monkeypatch.setenv("DIFFCHAT_BACKEND", "tiny")
    args = app_module.parse_args([])
    assert args.db == str(tmp_path / "env.sqlite") and args.backend == "tiny" and args.model is None
    args = app_module.parse_args(["--db", "x.sqlite", "--backend", "sd-turbo", "--model", "base", "--port", "9"])
    assert (args.db, args.backend, args.model, args.port) == ("x.sqlite", "sd-turbo", "base", 9)


def test_long_input_is_said_bounded_and_shown_compactly(chat):
    state = ChatState()
    text = "a quiet harbour with fishing boats at dawn " * 480  # 20,640 characters
    out = chat.send(text, state, *C)
    assert out[-1] == "" and len(out[5]) <= 1000 and text.startswith(out[5] + " ")
    assert "I used its first" in state.messages[-1]["content"]  # said, not silently cut
    assert len(state.messages[-2]["content"]) < 600  # the user's message is shown by its start and length
    chat.render(state, out[5], False, *C)
    assert "This prompt is long" in state.messages[-1]["content"]  # over 77 CLIP tokens: encoded in chunks
    instruction = "make the boats red " * 120
    with pytest.warns(UserWarning, match="instructions can be at most 300"):
        out = chat.send(instruction, state, *C)
    assert out[-1] == instruction and state.pending is None  # kept in the box, nothing edited
    html_diff = diff_html(state.session.current_prompt, "a red boat")
    assert "removed words" in html_diff and len(html_diff) < 800


def test_status_line_is_sent_only_when_it_changes(chat):
    import gradio as gr

    text = chat.editor_status()
    out = chat.status_tick("Loading the editor…" if text != "Loading the editor…" else "")
    assert out[0] == text and out[1] == text
    out = chat.status_tick(text)
    assert isinstance(out[0], type(gr.skip())) and out[1] == text  # unchanged: nothing is sent
