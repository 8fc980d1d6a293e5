"""How well the editor's invariants (diffchat/editor/invariants.py) tell failed edits from good ones, on
every candidate judged blind so far (eval/judging/**: batches, keys, grades).

    python -m train.calibrate_invariants [--judging eval/judging] [--show subject_lost!:ref]

For each check (a trailing "!" marks its severe form): how many human references, correct, partly and
failed candidates it flags, and the share of flagged non-references that the judges graded failed /
failed or partly. A severe check should flag almost no reference. A candidate judged by several judges
(or in several rounds) counts once, with its mean grade.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter, defaultdict
from pathlib import Path


def judged(root: str | Path) -> list[dict]:
    """Every judged (input, instruction, candidate) once: mean grade, and whether a reference wrote it."""
    rows: dict[tuple, dict] = {}
    for batch in sorted(Path(root).rglob("batch-*.jsonl")):
        grades_path = batch.with_name("grades-" + batch.name[len("batch-"):])
        if not grades_path.is_file():
            continue
        key_path = batch.with_name("key.jsonl")
        key = {}
        if key_path.is_file():
            for line in key_path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                key[rec["id"]] = rec.get("systems") or [rec.get("system")]
        grades = {}
        for line in grades_path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                grades[rec["id"]] = float(rec["grade"])
            except (ValueError, KeyError, TypeError):
                continue
        for line in batch.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["id"] not in grades:
                continue
            row = rows.setdefault((rec["input"], rec["instruction"], rec["candidate"]), {"grades": [], "ref": False})
            row["grades"].append(grades[rec["id"]])
            row["ref"] |= "reference" in key.get(rec["id"], [])
    return [{"input": i, "instruction": ins, "candidate": c, "grade": sum(r["grades"]) / len(r["grades"]),
             "reference": r["ref"]} for (i, ins, c), r in rows.items()]


def group(row: dict) -> str:
    if row["reference"]:
        return "ref"
    return "failed" if row["grade"] < 0.75 else "partly" if row["grade"] < 1.75 else "correct"


def calibrate(rows: list[dict]) -> tuple[dict[str, Counter], dict[tuple, list]]:
    from diffchat.editor.invariants import check

    counts: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple, list] = defaultdict(list)
    for row in rows:
        found = check(row["input"], row["instruction"], row["candidate"])
        g = group(row)
        flags = {v.name + ("!" if v.severe else "") for v in found}
        flags |= {"any"} if found else set()
        flags |= {"any severe"} if any(v.severe for v in found) else set()
        for name in flags | {"all candidates"}:
            counts[name][g] += 1
            examples[(name, g)].append((row["input"], row["instruction"], row["candidate"],
                                        [(v.name, v.detail) for v in found]))
    return counts, examples


def table(counts: dict[str, Counter]) -> str:
    lines = ["| check | references | correct | partly | failed | failed, of flagged | failed or partly, of flagged |",
             "|---|---|---|---|---|---|---|"]
    for name, c in sorted(counts.items()):
        n = c["correct"] + c["partly"] + c["failed"]
        lines.append(f"| {name} | {c['ref']} | {c['correct']} | {c['partly']} | {c['failed']} | "
                     f"{c['failed'] / max(1, n):.2f} | {(c['failed'] + c['partly']) / max(1, n):.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--judging", default="eval/judging")
    p.add_argument("--show", default="", help="CHECK:GROUP[,...] to print up to 12 examples of (e.g. subject_lost!:ref)")
    args = p.parse_args(argv)
    counts, examples = calibrate(judged(args.judging))
    print(table(counts))
    rng = random.Random(0)
    for spec in filter(None, args.show.split(",")):
        name, _, g = spec.partition(":")
        found = examples[(name, g)]
        for ex in rng.sample(found, min(12, len(found))):
            print(name, g, ex)


if __name__ == "__main__":
    main()
