"""A throwaway PostgreSQL server for tests: initdb into a temp folder (as the `postgres` user when
run as root: PostgreSQL refuses to run as root), a free port on 127.0.0.1, stopped and removed after.

    with PostgresCluster() as pg:
        store = open_store(pg.url)   # postgresql://diffchat:<password>@127.0.0.1:<port>/votes

`PostgresCluster.unavailable()` says why one cannot start here (None when it can), for skips.
"""
from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    USER, DB = "diffchat", "votes"

    def __init__(self):
        self.bindir = _bindir()
        self.password = secrets.token_urlsafe(12)
        self.port = _free_port()
        self.folder: Path | None = None

    @staticmethod
    def unavailable() -> str | None:
        if _bindir() is None:
            return "PostgreSQL is not installed (apt-get install postgresql): no initdb found"
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no `postgres` user to run the server as"
            if not shutil.which("runuser"):
                return "running as root without runuser to start the server as `postgres`"
        return None

    @property
    def url(self) -> str:
        return f"postgresql://{self.USER}:{self.password}@127.0.0.1:{self.port}/{self.DB}"

    def _as_server_user(self, *cmd, **kw) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw)

    def psql(self, sql: str, db: str | None = None) -> str:
        """Run SQL with the real `psql` client over TCP as the campaign user; returns its output."""
        env = {**os.environ, "PGPASSWORD": self.password}
        out = subprocess.run([str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER,
                              "-d", db or self.DB, "-At", "-c", sql], check=True, capture_output=True, text=True,
                             env=env)
        return out.stdout.strip()

    def start(self) -> "PostgresCluster":
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="diffchat-pg-"))
            os.chmod(self.folder, 0o755)
            if os.geteuid() == 0:
                shutil.chown(self.folder, "postgres", "postgres")
            pwfile = self.folder / "pw"
            pwfile.write_text("super-" + self.password + "\n")
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            self._as_server_user(self.bindir / "initdb", "-D", self.folder / "data", "-U", "postgres",
                                 "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
                                 "-E", "UTF8", "--no-sync")
        self._as_server_user(self.bindir / "pg_ctl", "-D", self.folder / "data", "-l", self.folder / "server.log",
                             "-w", "-t", "60", "-o",
                             f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                             "start")
        if not getattr(self, "_made", False):
            sql = (f"CREATE ROLE {self.USER} LOGIN PASSWORD '{self.password}';"
                   f"CREATE DATABASE {self.DB} OWNER {self.USER};")
            for statement in sql.split(";")[:2]:
                self._as_server_user(self.bindir / "psql", "-h", self.folder, "-p", self.port, "-U", "postgres",
                                     "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", statement)
            self._made = True
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.folder is not None and (self.folder / "data" / "postmaster.pid").exists():
            self._as_server_user(self.bindir / "pg_ctl", "-D", self.folder / "data", "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
                self.folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.remove()
