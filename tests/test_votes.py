"""Vote store (SQLite, upsert, concurrency, export), items loader, results rates and chart."""
import csv
import json
import multiprocessing as mp
import sqlite3
import threading

import pytest
from PIL import Image

from diffchat.errors import InvalidInput
from diffchat.storage import VoteStore, default_db_path, load_items
from diffchat.ui.results import pair_rates, plot_rates


def test_vote_is_stored_with_all_fields(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite")
    row = store.vote("item-1", left="sdxl", right="diffchat", vote="right", annotator="alice")
    [stored] = store.votes()
    assert stored == row
    assert (stored.method_a, stored.method_b) == ("diffchat", "sdxl")  # pair stored sorted
    assert stored.left_method == "sdxl" and stored.vote == "right" and stored.winner == "diffchat"
    assert stored.annotator == "alice" and stored.time.endswith("+00:00")
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_second_vote_changes_it_never_duplicates(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite")
    store.vote("item-1", "a", "b", "left", "alice")
    store.vote("item-1", "b", "a", "tie", "alice")  # same pair shown the other way round
    store.vote("item-1", "a", "b", "left", "bob")
    assert store.count() == 2
    alice = store.votes("alice")
    assert len(alice) == 1 and alice[0].vote == "tie" and alice[0].winner is None
    assert store.voted_keys("bob") == {("item-1", "a", "b")}
    with sqlite3.connect(store.path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO votes (item, method_a, method_b, left_method, vote, winner, annotator, time)"
                   " VALUES ('item-1', 'a', 'b', 'a', 'left', 'a', 'bob', 'now')")


@pytest.mark.parametrize("kwargs, message", [
    (dict(annotator="  "), "annotator name"),
    (dict(vote="maybe"), "Unknown vote"),
    (dict(right="a"), "two different methods"),
])
def test_bad_votes_are_refused(tmp_path, kwargs, message):
    store = VoteStore(tmp_path / "votes.sqlite")
    args = dict(item="i", left="a", right="b", vote="left", annotator="alice") | kwargs
    with pytest.raises(InvalidInput, match=message):
        store.vote(**args)
    assert store.count() == 0


def test_concurrent_threads_lose_no_vote(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite")
    errors = []

    def annotate(name):
        try:
            for i in range(40):
                store.vote(f"item-{i}", "a", "b", ("left", "tie", "right")[i % 3], name)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=annotate, args=(f"t{k}",)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count() == 8 * 40


def _process_annotator(path, name, n):
    store = VoteStore(path)
    for i in range(n):
        store.vote(f"item-{i}", "a", "b", "left", name)
        store.vote(f"item-{i}", "b", "a", "right", name)  # re-vote: must update, not add


def test_concurrent_processes_lose_no_vote(tmp_path):
    path = tmp_path / "votes.sqlite"
    VoteStore(path)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_process_annotator, args=(path, f"p{k}", 25)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    votes = VoteStore(path).votes()
    assert len(votes) == 4 * 25
    assert all(v.left_method == "b" and v.vote == "right" and v.winner == "a" for v in votes)


def test_export_csv_and_jsonl(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite")
    store.vote("x", "a", "b", "left", "alice")
    store.vote("y", "a", "b", "tie", "bob")
    rows = list(csv.DictReader(open(store.export_csv(tmp_path / "v.csv"))))
    assert [(r["item"], r["vote"], r["winner"]) for r in rows] == [("x", "left", "a"), ("y", "tie", "")]
    lines = [json.loads(l) for l in open(store.export_jsonl(tmp_path / "v.jsonl"))]
    assert [(r["item"], r["winner"]) for r in lines] == [("x", "a"), ("y", None)]


def test_default_db_path(monkeypatch, tmp_path):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("DIFFCHAT_DB", str(tmp_path / "x.sqlite"))
    assert default_db_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("DIFFCHAT_DB")
    monkeypatch.setenv("DIFFCHAT_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "votes.sqlite"  # the data folder, not the working directory


def test_pair_rates_and_chart(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite")
    store.vote("1", "diffchat", "base", "left", "u")     # diffchat wins
    store.vote("2", "base", "diffchat", "right", "u")    # diffchat wins
    store.vote("3", "diffchat", "base", "tie", "u")
    store.vote("4", "diffchat", "base", "right", "u")    # base wins
    [r] = pair_rates(store.votes(), focus="diffchat")
    assert (r.method, r.other, r.n) == ("diffchat", "base", 4)
    assert (r.win, r.tie, r.lose) == (0.5, 0.25, 0.25)
    [flipped] = pair_rates(store.votes())
    assert (flipped.method, flipped.win, flipped.lose) == ("base", 0.25, 0.5)
    fig = plot_rates([r])
    bars = fig.axes[0].patches
    assert [round(b.get_width()) for b in bars] == [50, 25, 25]
    assert [round(b.get_x()) for b in bars] == [0, 50, 75]
    fig.savefig(tmp_path / "chart.png")
    assert plot_rates([]).axes  # empty chart says "No votes yet"


# ---- items loader ----------------------------------------------------------------------------

def write_items(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    for rel in ("raw/0.png", "a/0.png", "b/0.png"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(folder / rel)
    (folder / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def item_row(**kw):
    return {"id": "0", "raw_image": "raw/0.png", "instruction": "make it red", "raw_prompt": "a car",
            "images": {"a": "a/0.png", "b": "b/0.png"}} | kw


def test_load_items_from_folder_and_file(tmp_path):
    folder = write_items(tmp_path / "set", [item_row(), item_row(id="1")])
    items = load_items(folder)
    assert [i.id for i in items] == ["0", "1"] and items[0].methods == ["a", "b"]
    assert items[0].images["a"] == (folder / "a/0.png").resolve()
    assert load_items(folder / "items.jsonl") == items


@pytest.mark.parametrize("row, message", [
    (item_row(images={"a": "../outside.png", "b": "b/0.png"}), "outside"),
    (item_row(raw_image="/etc/passwd"), "relative"),
    (item_row(images={"a": "a/0.png"}), "at least two"),
    (item_row(images={"a": "a/0.png", "b": "b/missing.png"}), "does not exist"),
    (item_row(instruction=""), "instruction"),
    ({"id": "0"}, "missing field"),
    (item_row(images={"a": "a/0.png", "b": "items.jsonl"}), "not an image"),
])
def test_load_items_is_strict(tmp_path, row, message):
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")
    folder = write_items(tmp_path / "set", [row])
    with pytest.raises(InvalidInput, match=message):
        load_items(folder)


def test_load_items_reports_line_of_bad_json_and_duplicates(tmp_path):
    folder = write_items(tmp_path / "set", [item_row()])
    with open(folder / "items.jsonl", "a") as f:
        f.write("{not json\n")
    with pytest.raises(InvalidInput, match="line 2: not valid JSON"):
        load_items(folder)
    write_items(folder, [item_row(), item_row()])
    with pytest.raises(InvalidInput, match="duplicate id"):
        load_items(folder)
    with pytest.raises(InvalidInput, match="No items file"):
        load_items(tmp_path / "nowhere")
