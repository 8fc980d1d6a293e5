"""The compare and results tabs against hostile input: served files, annotator tokens, admin token,
item text and names shown as text, a vote database that goes away."""
import json
import socket
from pathlib import Path

import httpx
import pytest
from PIL import Image

from diffchat.storage import Annotators, load_items, open_store
from diffchat.ui import AppConfig, BackgroundLoader, CompareApp, build_demo, launch_kwargs

TOKENS = {"3fQ9x2LkVb7Tz1Wd": "alice", "Hq8nR4sY0cJm6PaE": "bob"}
ADMIN = "admin-token-123456"


@pytest.fixture
def items_dir(tmp_path):
    """Two items whose text tries Markdown and HTML, beside a database and a secrets file."""
    folder = tmp_path / "items"
    rows = []
    for i in range(2):
        for name in ("raw", "base", "diffchat"):
            (folder / name).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 16), (i * 90, 40 if name == "base" else 0, 0)).save(folder / name / f"{i}.png")
        rows.append({"id": f"item-{i}", "raw_image": f"raw/{i}.png",
                     "instruction": "make it red <img src=x onerror=alert(1)> ![t](http://attacker.test/x.png)",
                     "raw_prompt": "a <b>car</b> **bold**", "images": {m: f"{m}/{i}.png" for m in ("base", "diffchat")}})
    (folder / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / ".env").write_text("HF_TOKEN=hf_secret\n")
    open_store(str(folder / "votes.sqlite")).vote("x", "a", "b", "left", "someone")
    return folder


def compare_app(tmp_path, items_dir, annotators=None):
    return CompareApp(open_store(str(tmp_path / "votes.sqlite")), load_items(items_dir), seed=0, annotators=annotators)


def test_item_text_and_names_are_shown_as_text(tmp_path, items_dir):
    app = compare_app(tmp_path, items_dir)
    state, _, _, status, text, *_ = app.start("<b>mallory</b> ![x](http://a.test/y)", CompareApp.new_state())
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "<img" not in text
    assert "a &lt;b&gt;car&lt;/b&gt; **bold**" in text  # the Markdown stays as typed, inert in an HTML box
    assert "&lt;b&gt;mallory&lt;/b&gt;" in status and "<b>mallory" not in status
    assert state["annotator"] == "<b>mallory</b> ![x](http://a.test/y)"  # stored as typed (cleaned)


def test_images_are_cache_copies_that_tell_neither_method_nor_side(tmp_path, items_dir):
    app = compare_app(tmp_path, items_dir)
    state, *_, raw, left, right = app.start("alice", CompareApp.new_state())
    task = state["current"]
    item = app.items[task["item"]]
    for served, original in ((raw, item.raw_image), (left, item.images[task["left"]]),
                             (right, item.images[task["right"]])):
        assert open(served, "rb").read() == original.read_bytes()
        assert str(items_dir) not in served and served.endswith("/image.png")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_serves_no_file_of_the_items_folder(tmp_path, items_dir):
    """Old code passed the whole items folder as allowed_paths: .env and votes.sqlite came back 200."""
    demo = build_demo(AppConfig(db=str(tmp_path / "v.sqlite"), items=items_dir),
                      editor=BackgroundLoader(lambda: "unused"), seed=0)
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        **launch_kwargs(demo))
    try:
        base = f"http://127.0.0.1:{port}/gradio_api/file="
        for name in (".env", "votes.sqlite", "items.jsonl", "raw/0.png", "diffchat/1.png"):
            assert httpx.get(base + str(items_dir / name)).status_code == 403, name
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = client.predict("alice", api_name="/start")
        images = [o for o in out if isinstance(o, str) and o.endswith(".png")]
        assert len(images) == 3  # raw, left, right reached the browser side through Gradio's cache
        originals = {p.read_bytes() for p in items_dir.glob("*/*.png")}
        assert all(open(p, "rb").read() in originals for p in images)
    finally:
        demo.close()


def test_tokens_decide_who_votes(tmp_path, items_dir):
    app = compare_app(tmp_path, items_dir, Annotators(TOKENS, ADMIN))
    with pytest.warns(UserWarning, match="token is not known"):
        state, *_ = app.start("alice", CompareApp.new_state())  # a name is not a token
    assert state["annotator"] == ""
    state, *_ = app.start(" Hq8nR4sY0cJm6PaE ", CompareApp.new_state())
    assert state["annotator"] == "bob"
    state, *_ = app.vote("left", state)
    assert [v.annotator for v in app.store.votes()] == ["bob"]


def test_results_and_export_need_the_admin_token(tmp_path, items_dir):
    app = compare_app(tmp_path, items_dir, Annotators(TOKENS, ADMIN))
    state, *_ = app.start("3fQ9x2LkVb7Tz1Wd", CompareApp.new_state())
    app.vote("right", state)
    for token in (None, "", "3fQ9x2LkVb7Tz1Wd", ADMIN + "x"):
        _, table, summary = app.results(token)  # a wrong token also gets a warning (no token: the tab just asks)
        assert table == [] and "admin token" in summary
        with pytest.warns(UserWarning, match="admin token"):
            assert app.export("csv", token) is None
    _, table, summary = app.results(ADMIN)
    assert len(table) == 1 and summary == "1 votes stored."  # no database path or URL
    rows = [json.loads(line) for line in open(app.export("jsonl", ADMIN))]
    assert [r["annotator"] for r in rows] == ["alice"]


def test_open_campaign_results_show_no_database_path(tmp_path, items_dir):
    app = compare_app(tmp_path, items_dir)
    _, _, summary = app.results()
    assert summary == "0 votes stored." and str(tmp_path) not in summary


def test_a_vote_the_database_did_not_take_keeps_the_item(tmp_path, items_dir):
    app = compare_app(tmp_path, items_dir)
    state, *_ = app.start("alice", CompareApp.new_state())
    app.store = open_store("postgresql://diffchat:pw@127.0.0.1:1/votes")  # nothing listens on port 1
    with pytest.warns(UserWarning, match="NOT saved"):
        after, *_ = app.vote("left", state)
    assert after["current"] == state["current"] and after["history"] == []  # vote again on the same item
    with pytest.warns(UserWarning, match="cannot be reached"):
        _, table, summary = app.results()
    assert table == [] and "127.0.0.1" not in summary and "pw" not in summary


def test_names_are_bounded(tmp_path, items_dir):
    app = compare_app(tmp_path, items_dir)
    with pytest.warns(UserWarning, match="too long"):
        state, *_ = app.start("m" * 1_000_000, CompareApp.new_state())
    assert state["annotator"] == ""
    state, *_ = app.start(" al\u202eice\x07 ", CompareApp.new_state())
    assert state["annotator"] == "al ice"


def test_exports_reuse_one_folder(tmp_path, items_dir):
    """Old code made a new temp folder per export and never removed it."""
    app = compare_app(tmp_path, items_dir)
    state, *_ = app.start("alice", CompareApp.new_state())
    app.vote("left", state)
    first, again, jsonl = app.export("csv"), app.export("csv"), app.export("jsonl")
    assert first == again and Path(first).parent == Path(jsonl).parent
    assert sorted(p.name for p in Path(first).parent.iterdir()) == ["votes.csv", "votes.jsonl"]


def test_app_refuses_an_unknown_database_and_bad_tokens(tmp_path, monkeypatch):
    """Old code took `--db postgresql://...` (or any URL) as a path: a folder named 'postgresql:' appeared."""
    import app as app_module

    monkeypatch.chdir(tmp_path)
    for var in ("DIFFCHAT_DB", "DATABASE_URL", "DIFFCHAT_ANNOTATORS", "DIFFCHAT_ADMIN_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SystemExit, match="Unknown vote database scheme 'mysql:'"):
        app_module.main(["--backend", "tiny", "--db", "mysql://u:p@host/votes"])
    (tmp_path / "tokens.txt").write_text("3fQ9x2LkVb7Tz1Wd alice\n")
    with pytest.raises(SystemExit, match="need an admin token"):
        app_module.main(["--backend", "tiny", "--db", "v.sqlite", "--annotators", "tokens.txt"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.txt"]
