"""Annotator votes from the compare tab, in SQLite (the default) or PostgreSQL.

`open_store(db)`: a file path gives a `VoteStore` (SQLite); `postgresql://user[:password]@host[:port]/db`
gives a `PostgresVoteStore` (psycopg 3). Both keep the same `votes` table, created on first use, and
run the same SQL: one row per (item, method pair, annotator), so voting again changes the row
(UNIQUE + upsert), and each vote is one short transaction. SQLite uses WAL mode, a busy timeout and
`BEGIN IMMEDIATE`, so several annotators (threads or processes) write at once without losing a vote.
PostgreSQL keeps a few idle connections; one that was lost is dropped and the vote is tried once more
on a new connection (the upsert makes that safe); if the server cannot be reached the annotator gets
a `StorageError` saying the vote was not saved, and the next vote connects again.
"""
from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import sys
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InvalidInput, StorageError
from ..paths import data_dir

VOTES = ("left", "tie", "right")
NAME_MAX = 40  # characters in an annotator name

SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id          {id},
    item        TEXT NOT NULL,
    method_a    TEXT NOT NULL,          -- the pair, sorted: method_a < method_b
    method_b    TEXT NOT NULL,
    left_method TEXT NOT NULL,          -- which of the two stood on the left
    vote        TEXT NOT NULL CHECK (vote IN ('left', 'tie', 'right')),
    winner      TEXT,                   -- method name, NULL for a tie
    annotator   TEXT NOT NULL,
    time        TEXT NOT NULL,          -- ISO 8601, UTC
    UNIQUE (item, method_a, method_b, annotator),
    CHECK (method_a < method_b{collate}),
    CHECK (left_method IN (method_a, method_b))
)
"""

UPSERT = """
INSERT INTO votes (item, method_a, method_b, left_method, vote, winner, annotator, time)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (item, method_a, method_b, annotator) DO UPDATE SET
    left_method = excluded.left_method, vote = excluded.vote,
    winner = excluded.winner, time = excluded.time
"""

SELECT = "SELECT item, method_a, method_b, left_method, vote, winner, annotator, time FROM votes"
POSTGRES_SCHEMES = ("postgresql", "postgres")


def default_db() -> str:
    """$DIFFCHAT_DB, else $DATABASE_URL, else /data/diffchat/votes.sqlite on a Space with persistent
    storage, else votes.sqlite in the user data folder (`diffchat.paths.data_dir()`, $DIFFCHAT_HOME)."""
    for name in ("DIFFCHAT_DB", "DATABASE_URL"):
        if os.environ.get(name):
            return os.environ[name]
    if os.environ.get("SPACE_ID") and os.path.isdir("/data") and os.access("/data", os.W_OK):
        return "/data/diffchat/votes.sqlite"
    return str(data_dir() / "votes.sqlite")


def open_store(db: str | os.PathLike) -> "VoteStore | PostgresVoteStore":
    """The vote store behind `db`: a file path (SQLite) or a postgresql:// URL."""
    text = str(db).strip()
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):", text)  # one letter would be a Windows drive
    if not scheme:
        if not text:
            raise InvalidInput("No vote database given: pass a file path or a postgresql:// URL.")
        return VoteStore(text)
    name = scheme.group(1).lower()
    if name in POSTGRES_SCHEMES:
        return PostgresVoteStore(text)
    if name == "sqlite" and text.lower().startswith("sqlite:///"):
        return VoteStore(text[len("sqlite:///"):])  # sqlite:///relative or sqlite:////absolute
    raise InvalidInput(f"Unknown vote database scheme '{name}:'. Use a file path (SQLite) or "
                       "postgresql://user:password@host:port/database.")


def clean_name(name: str | None) -> str:
    """An annotator name as stored: NFKC, no control / format (bidi) characters, single spaces,
    at most NAME_MAX characters (a longer one is refused, not cut: two names must not merge)."""
    raw = name or ""
    if len(raw) > 10 * NAME_MAX:
        raise InvalidInput(f"That name is too long: use at most {NAME_MAX} characters.")
    text = unicodedata.normalize("NFKC", raw)
    text = " ".join("".join(c if unicodedata.category(c)[0] != "C" else " " for c in text).split())
    if not text:
        raise InvalidInput("Please enter your annotator name before voting.")
    if len(text) > NAME_MAX:
        raise InvalidInput(f"That name is too long: use at most {NAME_MAX} characters.")
    return text


def csv_cell(value):
    """A cell a spreadsheet shows as text: one starting with = + - @ or a tab / CR gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


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
    """Votes in one SQLite file; safe to share between threads and processes. `PostgresVoteStore`
    overrides only how a transaction is opened."""

    ID_COLUMN, COLLATE = "INTEGER PRIMARY KEY AUTOINCREMENT", ""

    def __init__(self, path: str | os.PathLike, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(self.path, timeout=busy_timeout_s) as db:
                db.execute("PRAGMA journal_mode=WAL")
            db.close()
        except (OSError, sqlite3.Error) as e:
            raise StorageError(f"Cannot open the vote database file {self.path}: {e}") from None
        self._run(self._create, write=True)

    def __str__(self) -> str:
        return f"SQLite file {self.path}"

    def _create(self, db) -> None:
        db.execute(SCHEMA.format(id=self.ID_COLUMN, collate=self.COLLATE))

    @contextmanager
    def _transaction(self, write: bool):
        # One short-lived connection per call: no connection is shared between threads.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            db.close()

    def _run(self, fn, write: bool = False):
        """fn(connection) inside one transaction; a database failure becomes a StorageError."""
        try:
            with self._transaction(write) as db:
                return fn(db)
        except sqlite3.Error as e:
            raise StorageError(f"The vote database failed ({e}); {'your vote was not saved, ' if write else ''}"
                               "please try again in a moment.") from None

    def vote(self, item: str, left: str, right: str, vote: str, annotator: str) -> Vote:
        """Record (or change) `annotator`'s vote on `item`, where method `left` stood left."""
        annotator = clean_name(annotator)
        if vote not in VOTES:
            raise InvalidInput(f"Unknown vote {vote!r}: use one of {', '.join(VOTES)}.")
        if not item or not left or not right or left == right:
            raise InvalidInput("A vote needs an item and two different methods.")
        method_a, method_b = sorted((left, right))
        winner = {"left": left, "right": right, "tie": None}[vote]
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        row = Vote(item, method_a, method_b, left, vote, winner, annotator, now)
        self._run(lambda db: db.execute(UPSERT, tuple(asdict(row).values())), write=True)
        return row

    def votes(self, annotator: str | None = None) -> list[Vote]:
        """All votes (of one annotator if given), oldest first."""
        query, args = SELECT, ()
        if annotator is not None:
            query, args = query + " WHERE annotator = ?", (annotator,)
        return [Vote(*r) for r in self._run(lambda db: db.execute(query + " ORDER BY id", args).fetchall())]

    def voted_keys(self, annotator: str) -> set[tuple[str, str, str]]:
        """(item, method_a, method_b) already voted on by `annotator`."""
        return {(v.item, v.method_a, v.method_b) for v in self.votes(annotator)}

    def count(self) -> int:
        return self._run(lambda db: db.execute("SELECT COUNT(*) FROM votes").fetchone()[0])

    def export_csv(self, path: str | os.PathLike) -> Path:
        """All votes as CSV; cells a spreadsheet would run as a formula are escaped (csv_cell)."""
        path = Path(path)
        fields = list(Vote.__dataclass_fields__)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows({k: csv_cell(v) for k, v in asdict(vote).items()} for vote in self.votes())
        return path

    def export_jsonl(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with open(path, "w", encoding="utf-8") as f:
            for v in self.votes():
                f.write(json.dumps(asdict(v), ensure_ascii=False) + "\n")
        return path


class PostgresVoteStore(VoteStore):
    """Votes in a PostgreSQL database (psycopg 3), the same table and SQL as the SQLite store."""

    ID_COLUMN, COLLATE = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", ' COLLATE "C"'
    CONNECT_TIMEOUT_S = 5
    MAX_IDLE = 8

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise StorageError("PostgreSQL votes need psycopg: pip install 'psycopg[binary]'.") from None
        try:
            info = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as e:
            raise InvalidInput(f"Cannot read the PostgreSQL URL: {e}") from None
        self.url = url
        self.where = f"database '{info.get('dbname', '?')}' on {info.get('host', 'localhost')}:{info.get('port', 5432)}"
        self._idle: list = []
        self._lock = threading.Lock()
        self._ready = False

    def __str__(self) -> str:  # never the password
        return f"PostgreSQL {self.where}"

    def _connect(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=self.CONNECT_TIMEOUT_S,
                               application_name="diffchat")

    @contextmanager
    def _transaction(self, write: bool):
        with self._lock:
            db = self._idle.pop() if self._idle else None
        db = db or self._connect()
        try:
            with db.transaction():
                yield _Qmark(db)
        finally:
            with self._lock:  # keep a healthy connection for the next call, drop a lost one
                keep = not (db.broken or db.closed) and len(self._idle) < self.MAX_IDLE
                if keep:
                    self._idle.append(db)
            if not keep:
                db.close()

    def setup(self) -> None:
        """Create the table if it is missing (once per process; one creator at a time)."""
        if self._ready:
            return

        def create(db):
            db.execute("SELECT pg_advisory_xact_lock(7355608)")  # concurrent first uses: one CREATE
            self._create(db)

        self._try(create, write=True)
        self._ready = True

    def _run(self, fn, write: bool = False):
        self.setup()
        return self._try(fn, write)

    def _try(self, fn, write: bool):
        import psycopg

        for attempt in (1, 2):  # a pooled connection may have died since: one retry on a new one
            try:
                with self._transaction(write) as db:
                    return fn(db)
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                if attempt == 2:
                    _log(f"{self}: {e}")  # the reason for the operator; the annotator gets no host names
                    raise StorageError(
                        "The vote database cannot be reached right now; "
                        f"{'your vote was NOT saved: please vote again in a moment' if write else 'please try again in a moment'}."
                    ) from None
            except psycopg.Error as e:
                _log(f"{self}: {e}")
                raise StorageError(f"The vote database refused the request ({e.__class__.__name__}); "
                                   f"{'your vote was not saved, ' if write else ''}please tell the organisers.") from None


def _log(message: str) -> None:
    print(f"diffchat votes: {message}", file=sys.stderr, flush=True)


class _Qmark:
    """A psycopg connection that takes the SQLite store's `?` placeholders."""

    def __init__(self, db):
        self.db = db

    def execute(self, sql: str, args=()):
        return self.db.execute(sql.replace("?", "%s"), args)
