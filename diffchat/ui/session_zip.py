"""A chat session as one zip file (session.json + images/), for the app's download and upload.

`unpack_session` checks every entry of the zip (count, names, sizes, image headers) before it
extracts anything, and the loaded session keeps its images as files in a folder of its own,
removed when the session is closed or garbage-collected."""
from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import tempfile
import weakref
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..errors import SessionFileError
from ..session import (IMAGES_DIR, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_JSON_BYTES, MAX_SESSION_PIXELS,
                       MAX_TURNS, SESSION_FILE, ChatSession)

MAX_ENTRIES = MAX_TURNS + 8
MAX_TOTAL_BYTES = 512 * 1024 * 1024
_PNG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.png")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def owned_folder(owner: object, prefix: str) -> Path:
    """A new temporary folder removed when `owner` is garbage-collected (or at exit)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    weakref.finalize(owner, shutil.rmtree, folder, True)
    return folder


def _check_entries(zf: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    """The zip's files, if it holds only what a saved chat holds: one session.json and PNG images
    (optionally inside one top folder), within the size and pixel limits. Reads no more than each
    image's 24-byte header."""
    entries = [i for i in zf.infolist() if not i.is_dir()]
    if len(entries) > MAX_ENTRIES:
        raise SessionFileError(f"'{label}' holds too many files ({len(entries)}) for a DiffChat session.")
    if sum(i.file_size for i in entries) > MAX_TOTAL_BYTES:
        raise SessionFileError(f"'{label}' is too large once unpacked (over {MAX_TOTAL_BYTES // 2**20} MB).")
    roots, pixels = set(), 0
    for info in entries:
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts or "\\" in info.filename or ":" in info.filename:
            raise SessionFileError(f"'{label}' holds an unsafe path: {info.filename[:100]!r}.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise SessionFileError(f"'{label}' holds a link: {info.filename[:100]!r}.")
        parts = name.parts
        if parts[-1] == SESSION_FILE and len(parts) <= 2:
            roots.add(parts[:-1])
            if info.file_size > MAX_JSON_BYTES:
                raise SessionFileError(f"{SESSION_FILE} in '{label}' is too large.")
            continue
        if not (len(parts) in (2, 3) and parts[-2] == IMAGES_DIR and _PNG_NAME.fullmatch(parts[-1])):
            raise SessionFileError(f"'{label}' holds a file a DiffChat session does not have: "
                                   f"{info.filename[:100]!r}.")
        roots.add(parts[:-2])
        if info.file_size > MAX_IMAGE_BYTES:
            raise SessionFileError(f"'{info.filename[:100]}' in '{label}' is too large.")
        with zf.open(info) as f:
            head = f.read(24)
        if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
            raise SessionFileError(f"'{info.filename[:100]}' in '{label}' is not a PNG image.")
        width, height = struct.unpack(">II", head[16:24])
        if width * height > MAX_IMAGE_PIXELS:
            raise SessionFileError(f"'{info.filename[:100]}' in '{label}' is too large ({width}x{height} pixels).")
        pixels += width * height
    if len(roots) > 1:
        raise SessionFileError(f"'{label}' must hold one session: its files are in several folders.")
    if pixels > MAX_SESSION_PIXELS:
        raise SessionFileError(f"The images in '{label}' are too large together "
                               f"(over {MAX_SESSION_PIXELS // 2**20} megapixels).")
    return entries


def unpack_session(path: str | os.PathLike, name: str | None = None) -> ChatSession:
    """Read a zip written by `pack_session` (or a zipped session folder), checking every entry
    first. `name` is how messages call the file (default: its file name); no server path is shown.
    The session's images stay on disk, in a folder that lives as long as the session."""
    path = Path(path)
    label = (name or path.name)[:100]
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise SessionFileError(f"'{label}' is not a DiffChat session zip (not a readable zip file).") from None
    session = None
    folder = Path(tempfile.mkdtemp(prefix="diffchat-chat-"))
    try:
        with zf:
            entries = _check_entries(zf, label)
            for info in entries:
                target = Path(folder, *PurePosixPath(info.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
        roots = [p.parent for p in folder.rglob(SESSION_FILE)]
        if len(roots) != 1:
            raise SessionFileError(f"'{label}' must hold exactly one {SESSION_FILE} (found {len(roots)}).")
        try:
            session = ChatSession.load(roots[0], lazy=True)
        except SessionFileError as e:
            text = str(e)
            for p in sorted({str(roots[0]), str(roots[0].resolve()), str(folder), str(folder.resolve())},
                            key=len, reverse=True):
                text = text.replace(p, label)
            raise SessionFileError(text) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
        # CRC errors, mismatched headers, truncated data, unsupported compression or encryption
        raise SessionFileError(f"'{label}' is damaged or uses a zip feature DiffChat cannot read "
                               f"({type(e).__name__}); download the session again.") from None
    except OSError as e:
        reason = e.strerror or type(e).__name__  # never the server path
        raise SessionFileError(f"Could not unpack '{label}' on the server ({reason}).") from None
    finally:
        if session is None:
            shutil.rmtree(folder, ignore_errors=True)
    weakref.finalize(session, shutil.rmtree, folder, True)  # the images live as long as the session
    return session
