"""Score cache: (scorer identity, item key) -> float, in memory and optionally in a SQLite file."""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path


def cache_key(scorer_key: str, item_key: str) -> str:
    return hashlib.sha256(f"{scorer_key}\x1f{item_key}".encode()).hexdigest()


class ScoreCache:
    """Scores by key; `path` (a .sqlite file) makes them survive the process."""

    def __init__(self, path: str | Path | None = None):
        self.mem: dict[str, float] = {}
        self.hits = self.misses = 0
        self.db = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # a long busy timeout: under `accelerate launch` several processes write the same file
            self.db = sqlite3.connect(str(path), check_same_thread=False, timeout=300)
            self.db.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, value REAL NOT NULL)")
            self.db.commit()

    def get_many(self, keys: list[str]) -> dict[str, float]:
        found = {k: self.mem[k] for k in keys if k in self.mem}
        rest = [k for k in dict.fromkeys(keys) if k not in found]
        if self.db is not None and rest:
            for i in range(0, len(rest), 500):
                chunk = rest[i : i + 500]
                q = f"SELECT key, value FROM scores WHERE key IN ({','.join('?' * len(chunk))})"
                found.update(self.db.execute(q, chunk).fetchall())
            self.mem.update(found)
        self.hits += sum(k in found for k in keys)
        self.misses += sum(k not in found for k in keys)
        return found

    def put_many(self, items: dict[str, float]) -> None:
        self.mem.update(items)
        if self.db is not None and items:
            self.db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)", list(items.items()))
            self.db.commit()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
