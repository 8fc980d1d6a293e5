"""A chat session as one zip file (session.json + images/), for the app's download and upload."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import SessionFileError
from ..session import MAX_IMAGE_BYTES, MAX_JSON_BYTES, MAX_TURNS, SESSION_FILE, ChatSession

MAX_ENTRIES = MAX_TURNS + 8
MAX_TOTAL_BYTES = 512 * 1024 * 1024


def pack_session(session: ChatSession, dest: str | os.PathLike) -> Path:
    """Save `session` and zip it to `dest` (a .zip path)."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="diffchat-save-") as tmp:
        session.save(tmp)
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(tmp).as_posix())
    return dest


def unpack_session(path: str | os.PathLike) -> ChatSession:
    """Read a zip written by `pack_session` (or a zipped session folder), checking every entry."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise SessionFileError(f"'{path.name}' is not a DiffChat session zip ({e}).") from None
    with zf, tempfile.TemporaryDirectory(prefix="diffchat-load-") as tmp:
        entries = [i for i in zf.infolist() if not i.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise SessionFileError(f"The zip holds too many files ({len(entries)}).")
        if sum(i.file_size for i in entries) > MAX_TOTAL_BYTES:
            raise SessionFileError("The zip is too large once unpacked.")
        for info in entries:
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts or "\\" in info.filename or ":" in info.filename:
                raise SessionFileError(f"The zip holds an unsafe path: {info.filename!r}.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SessionFileError(f"The zip holds a link: {info.filename!r}.")
            limit = MAX_JSON_BYTES if name.name == SESSION_FILE else MAX_IMAGE_BYTES
            if info.file_size > limit:
                raise SessionFileError(f"'{info.filename}' in the zip is too large.")
            target = Path(tmp, *name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
        roots = [p.parent for p in Path(tmp).rglob(SESSION_FILE)]
        if len(roots) != 1:
            raise SessionFileError(f"The zip must hold exactly one {SESSION_FILE} (found {len(roots)}).")
        return ChatSession.load(roots[0])
