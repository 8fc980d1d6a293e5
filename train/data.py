"""Training data: InstructPE records and InstructPix2Pix-style (input, edit, output) JSONL.

Every row becomes an `EditRow(source, instruction, target)`. Rows are cleaned and deduplicated,
and the train/validation split is made by source prompt, so no prompt is on both sides.
Malformed rows are errors that name the row and the reason; with `skip_bad=True` they are skipped
and counted in the `LoadReport`, never dropped silently.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PIX2PIX_FIELDS = ("input", "edit", "output")
INSTRUCTPE_FIELDS = ("source_prompt", "instruction", "beautified_source_prompt", "beautified_target_prompt")


class DataError(ValueError):
    """A data file or row that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class EditRow:
    source: str
    instruction: str
    target: str

    def as_dict(self) -> dict:
        return {"input": self.source, "edit": self.instruction, "output": self.target}


@dataclass
class LoadReport:
    read: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count

    def __str__(self) -> str:
        extra = ", ".join(f"{n} {why}" for why, n in self.skipped.items())
        return f"read {self.read} rows, kept {self.kept}" + (f", skipped {extra}" if extra else "")


def clean_text(text: str) -> str:
    """Normalise unicode and whitespace; U+FFFD (a lost curly quote in the source data) becomes '"'."""
    text = unicodedata.normalize("NFKC", text).replace("\ufffd", '"')
    return re.sub(r"\s+", " ", text).strip()


def _read_records(path: Path) -> list[tuple[int, object]]:
    """(row number, parsed JSON) for a .jsonl file (or .jsonl.gz) or a .json file holding a list."""
    if not path.is_file():
        raise DataError(f"Data file not found: {path}")
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            text = f.read()
        path = path.with_suffix("")  # "x.jsonl.gz" reads as "x.jsonl"
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json" or text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(records, list):
            raise DataError(f"{path}: expected a JSON list of records")
        return list(enumerate(records, 1))
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append((n, DataError(f"{path}:{n}: not valid JSON ({exc.msg})")))
    return out


def detect_format(record: dict) -> str:
    if all(k in record for k in PIX2PIX_FIELDS):
        return "instructpix2pix"
    if "instruction" in record and ("beautified_target_prompt" in record or "source_prompt" in record):
        return "instructpe"
    raise DataError(f"Unknown record format with fields {sorted(record)}; expected {PIX2PIX_FIELDS} "
                    f"or InstructPE's {INSTRUCTPE_FIELDS}")


def _row_fields(record: dict, fmt: str, source_field: str) -> tuple[str, str, str]:
    if fmt == "instructpix2pix":
        names = PIX2PIX_FIELDS
    elif source_field == "source_prompt":
        names = ("source_prompt", "instruction", "beautified_target_prompt")
    else:
        names = (source_field, "instruction", "beautified_target_prompt")
    missing = [k for k in names if k not in record]
    if missing:
        raise DataError(f"missing field(s) {', '.join(missing)}")
    values = [record[k] for k in names]
    bad = [k for k, v in zip(names, values) if not isinstance(v, str)]
    if bad:
        raise DataError(f"field(s) {', '.join(bad)} must be text")
    return tuple(clean_text(v) for v in values)


def load_rows(path, fmt: str = "auto", source_field: str = "beautified_source_prompt",
              skip_bad: bool = False) -> tuple[list[EditRow], LoadReport]:
    """Load, clean and deduplicate edit triplets from one file."""
    path = Path(path)
    report, rows, seen = LoadReport(), [], set()
    for n, record in _read_records(path):
        report.read += 1
        try:
            if isinstance(record, DataError):
                raise record
            if not isinstance(record, dict):
                raise DataError("not a JSON object")
            row_fmt = detect_format(record) if fmt == "auto" else fmt
            source, instruction, target = _row_fields(record, row_fmt, source_field)
            if not (source and instruction and target):
                raise DataError("an empty source, instruction or target")
        except DataError as exc:
            if not skip_bad:
                msg = str(exc) if str(exc).startswith(str(path)) else f"{path}: row {n}: {exc}"
                raise DataError(msg + " (pass skip_bad=True / --skip-bad to skip such rows)") from None
            report.skipped["malformed"] += 1
            continue
        key = (source.lower(), instruction.lower())
        if key in seen:
            report.skipped["duplicate"] += 1
            continue
        seen.add(key)
        rows.append(EditRow(source, instruction, target))
    report.kept = len(rows)
    return rows, report


def split_by_source(rows: list[EditRow], val_fraction: float = 0.1, seed: int = 0):
    """Deterministic split by hashed source prompt: no source prompt lands on both sides."""
    def bucket(row: EditRow) -> float:
        digest = hashlib.sha256(f"{seed}:{row.source.lower()}".encode()).hexdigest()
        return int(digest[:8], 16) / 0xFFFFFFFF

    train = [r for r in rows if bucket(r) >= val_fraction]
    val = [r for r in rows if bucket(r) < val_fraction]
    return train, val


def write_jsonl(rows: list[EditRow], path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r.as_dict(), ensure_ascii=False) + "\n")
