"""One way to read a run config: a YAML file into a dataclass, with overrides and clear errors."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import yaml

from diffchat.errors import InvalidInput


def config_from_yaml(cls, path, overrides: dict | None = None, lists: tuple[str, ...] = ("data",)):
    """`cls(**yaml)` after applying the non-None `overrides`; unknown keys are an error naming them.
    Keys in `lists` may be written as one string and become a one-item list."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"Config file not found: {path}")
    raw = yaml.safe_load(path.read_text()) or {}
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise InvalidInput(f"{path}: unknown config key(s) {sorted(unknown)}; known: {sorted(known)}")
    for key in lists:
        if isinstance(raw.get(key), str):
            raw[key] = [raw[key]]
    return cls(**raw)
