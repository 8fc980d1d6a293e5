"""Comparison items for the compare tab, as written by the evaluation harness (train/evaluate.py).

`items.jsonl`, one JSON object a line:
    {"id": "...", "raw_image": "raw/0.png", "instruction": "...", "raw_prompt": "...",
     "images": {"method_a": "a/0.png", "method_b": "b/0.png"}}
Image paths are relative to the file's folder and must stay inside it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput

ITEMS_FILE = "items.jsonl"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


@dataclass(frozen=True)
class Item:
    id: str
    raw_image: Path
    instruction: str
    raw_prompt: str
    images: dict[str, Path]

    @property
    def methods(self) -> list[str]:
        return sorted(self.images)


def _safe_path(root: Path, rel: object, where: str) -> Path:
    """`root / rel`, refusing absolute paths, '..' escapes, symlinks out, and missing files."""
    if not isinstance(rel, str) or not rel.strip():
        raise InvalidInput(f"{where}: expected a relative image path, got {rel!r}.")
    if os.path.isabs(rel) or rel.startswith(("/", "\\")) or ":" in Path(rel).parts[0]:
        raise InvalidInput(f"{where}: image path {rel!r} must be relative to the items file.")
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput(f"{where}: image path {rel!r} points outside {root}.")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InvalidInput(f"{where}: {rel!r} is not an image ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    if not path.is_file():
        raise InvalidInput(f"{where}: image {rel!r} does not exist in {root}.")
    return path


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: field {key!r} must be a non-empty string.")
    return value.strip()


def items_file(path: str | os.PathLike) -> Path:
    """The items file `path` names: the file itself, `<folder>/items.jsonl`, or, for the output folder
    of `python -m train.evaluate`, `<folder>/compare/items.jsonl`."""
    path = Path(path)
    if path.is_dir():
        direct, evaluated = path / ITEMS_FILE, path / "compare" / ITEMS_FILE
        return evaluated if evaluated.is_file() and not direct.is_file() else direct
    return path


def load_items(path: str | os.PathLike) -> list[Item]:
    """Read items from an `items.jsonl` file, a folder holding one, or an evaluation's output folder;
    strict, with line numbers."""
    path = items_file(path)
    if not path.is_file():
        raise InvalidInput(f"No items file at {path}. Pass an items.jsonl file, the folder holding one, or the "
                           "--out folder of `python -m train.evaluate` (it writes compare/items.jsonl).")
    root = path.parent.resolve()
    items, seen = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"{where}: not valid JSON ({e.msg}).") from None
        if not isinstance(row, dict):
            raise InvalidInput(f"{where}: expected a JSON object.")
        missing = [k for k in ("id", "raw_image", "instruction", "raw_prompt", "images") if k not in row]
        if missing:
            raise InvalidInput(f"{where}: missing field(s) {', '.join(missing)}.")
        item_id = str(row["id"]).strip()
        if not item_id:
            raise InvalidInput(f"{where}: field 'id' is empty.")
        if item_id in seen:
            raise InvalidInput(f"{where}: duplicate id {item_id!r}.")
        seen.add(item_id)
        images = row["images"]
        if not isinstance(images, dict) or len(images) < 2:
            raise InvalidInput(f"{where}: 'images' must map at least two method names to image paths.")
        items.append(Item(
            id=item_id,
            raw_image=_safe_path(root, row["raw_image"], where),
            instruction=_text(row, "instruction", where),
            raw_prompt=_text(row, "raw_prompt", where),
            images={str(m): _safe_path(root, p, f"{where}, method {m!r}") for m, p in images.items()},
        ))
    if not items:
        raise InvalidInput(f"{path} holds no items.")
    return items
