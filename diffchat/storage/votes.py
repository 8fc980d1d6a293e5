"""SQLite store of annotator votes from the compare tab.

One row per (item, method pair, annotator): voting again changes the row (UNIQUE + upsert).
WAL mode, a busy timeout and short `BEGIN IMMEDIATE` transactions let several annotators
(threads or processes) write at once without losing a vote.
"""
from __future__ import annotations

import csv
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InvalidInput
from ..paths import data_dir

VOTES = ("left", "tie", "right")

SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    item        TEXT NOT NULL,
    method_a    TEXT NOT NULL,          -- the pair, sorted: method_a < method_b
    method_b    TEXT NOT NULL,
    left_method TEXT NOT NULL,          -- which of the two stood on the left
    vote        TEXT NOT NULL CHECK (vote IN ('left', 'tie', 'right')),
    winner      TEXT,                   -- method name, NULL for a tie
    annotator   TEXT NOT NULL,
    time        TEXT NOT NULL,          -- ISO 8601, UTC
    UNIQUE (item, method_a, method_b, annotator),
    CHECK (method_a < method_b),
    CHECK (left_method IN (method_a, method_b))
);
"""

UPSERT = """
INSERT INTO votes (item, method_a, method_b, left_method, vote, winner, annotator, time)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (item, method_a, method_b, annotator) DO UPDATE SET
    left_method = excluded.left_method, vote = excluded.vote,
    winner = excluded.winner, time = excluded.time
"""


def default_db_path() -> Path:
    """$DIFFCHAT_DB, else /data/diffchat/votes.sqlite on a Space with persistent storage,
    else votes.sqlite in the user data folder (`diffchat.paths.data_dir()`, $DIFFCHAT_HOME)."""
    if os.environ.get("DIFFCHAT_DB"):
        return Path(os.environ["DIFFCHAT_DB"])
    if os.environ.get("SPACE_ID") and os.path.isdir("/data") and os.access("/data", os.W_OK):
        return Path("/data/diffchat/votes.sqlite")
    return data_dir() / "votes.sqlite"


@dataclass
class Vote:
    item: str
    method_a: str
    method_b: str
    left_method: str
    vote: str
    winner: str | None
    annotator: str
    time: str


class VoteStore:
    """Votes in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self):
        # One short-lived connection per call: no connection is shared between threads.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    def vote(self, item: str, left: str, right: str, vote: str, annotator: str) -> Vote:
        """Record (or change) `annotator`'s vote on `item`, where method `left` stood left."""
        annotator = (annotator or "").strip()
        if not annotator:
            raise InvalidInput("Please enter your annotator name before voting.")
        if vote not in VOTES:
            raise InvalidInput(f"Unknown vote {vote!r}: use one of {', '.join(VOTES)}.")
        if not item or not left or not right or left == right:
            raise InvalidInput("A vote needs an item and two different methods.")
        method_a, method_b = sorted((left, right))
        winner = {"left": left, "right": right, "tie": None}[vote]
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        row = Vote(item, method_a, method_b, left, vote, winner, annotator, now)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(UPSERT, (row.item, row.method_a, row.method_b, row.left_method,
                                    row.vote, row.winner, row.annotator, row.time))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return row

    def votes(self, annotator: str | None = None) -> list[Vote]:
        """All votes (of one annotator if given), oldest first."""
        query = "SELECT item, method_a, method_b, left_method, vote, winner, annotator, time FROM votes"
        args: tuple = ()
        if annotator is not None:
            query, args = query + " WHERE annotator = ?", (annotator,)
        with self._connect() as db:
            return [Vote(*r) for r in db.execute(query + " ORDER BY id", args)]

    def voted_keys(self, annotator: str) -> set[tuple[str, str, str]]:
        """(item, method_a, method_b) already voted on by `annotator`."""
        return {(v.item, v.method_a, v.method_b) for v in self.votes(annotator)}

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]

    def export_csv(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        fields = list(Vote.__dataclass_fields__)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(asdict(v) for v in self.votes())
        return path

    def export_jsonl(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with open(path, "w", encoding="utf-8") as f:
            for v in self.votes():
                f.write(json.dumps(asdict(v), ensure_ascii=False) + "\n")
        return path
