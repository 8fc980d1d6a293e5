"""Blind judging of prompt edits (rubric: grade 2 correct / 1 partly / 0 failed).

    python -m train.judging make --inputs runs/eval-text/predictions-*.jsonl runs/eval-chat/chats-*.jsonl \
        --out runs/judging
    python -m train.judging score --dir runs/judging

`make` reads the dev-split predictions of `train.evaluate_text` (predictions-<label>.jsonl: input, edit,
output, prediction; the human `output` joins as system "reference") and the chats of
`train.evaluate_chat` (chats-<label>.jsonl: each turn is one candidate, its input the system's own
previous prompt). Each (row, turn, system) becomes one line {id, input, instruction, candidate};
lines identical for several systems of the same row are judged once and count for each. The lines are
shuffled with a fixed seed, given opaque ids and split into batch-NN.jsonl files of about 150 lines;
key.jsonl (id -> systems, set, row, turn, kind) stays with the organiser. `score` reads the judges'
grades-*.jsonl ({id, grade, why}) and writes scores.md / scores.json: per set and system the share of
grades 2 / 1 / 0, for multi-turn chats also per turn and per kind.
"""
from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from train.data import DataError

GRADES = (2, 1, 0)


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def read_jsonl(path) -> list[tuple[int, object]]:
    """(line number, record) of each non-blank line; a clear DataError for a missing file or bad JSON."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"File not found: {path}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
    return out


def candidates(path, set_name: str | None = None) -> list[dict]:
    """One dict per (row, turn, system) from a predictions-<label>.jsonl or chats-<label>.jsonl file, in
    the set `set_name` (default: "dev" for predictions, "multiturn" for chats)."""
    path = Path(path)
    kind, _, label = path.stem.partition("-")
    rows = []
    if kind == "predictions":
        if label == "reference":
            raise DataError(f"{path}: 'reference' is the human reference; rename the file")
        for n, rec in read_jsonl(path):
            if not all(k in rec for k in ("input", "edit", "output", "prediction")):
                raise DataError(f"{path}:{n}: needs input, edit, output and prediction")
            for system, cand in ((label, rec["prediction"]), ("reference", rec["output"])):
                rows.append({"set": set_name or "dev", "row": n, "turn": None, "kind": None, "system": system,
                             "input": rec["input"], "instruction": rec["edit"], "candidate": cand or ""})
    elif kind == "chats":
        for n, rec in read_jsonl(path):
            if not all(k in rec for k in ("id", "kind", "turns", "prompts", "outputs")) or \
                    not len(rec["turns"]) == len(rec["outputs"]) == len(rec["prompts"]) - 1:
                raise DataError(f"{path}:{n}: not a chat of train.evaluate_chat (id, kind, turns, prompts, outputs)")
            for t, (instruction, cand) in enumerate(zip(rec["turns"], rec["outputs"])):
                rows.append({"set": set_name or "multiturn", "row": rec["id"], "turn": t + 1, "kind": rec["kind"],
                             "system": label, "input": rec["prompts"][t], "instruction": instruction,
                             "candidate": cand or ""})
    else:
        raise DataError(f"{path}: expected predictions-<label>.jsonl (evaluate_text) or chats-<label>.jsonl "
                        "(evaluate_chat)")
    return rows


def make(inputs: list[str], out: str, batch_lines: int = 150, seed: int = 0) -> dict:
    out_dir = Path(out)
    if (out_dir / "key.jsonl").exists():
        raise DataError(f"{out_dir} already holds a judging set (key.jsonl); choose a new --out")
    groups: dict[tuple, dict] = {}
    systems_seen: dict[tuple, set] = defaultdict(set)  # (set, row, turn) -> systems
    asked: dict[tuple, tuple] = {}  # (set, row, turn) -> what was asked there
    for entry in inputs:  # PATH or SET=PATH
        set_name, _, path = entry.rpartition("=")
        for c in candidates(path, set_name or None):
            where = (c["set"], c["row"], c["turn"])
            single = c["turn"] is None  # a one-edit set: every system edits the same input
            if asked.setdefault(where, (c["input"] if single else "", c["instruction"])) != \
                    (c["input"] if single else "", c["instruction"]):
                raise DataError(f"{path}: {c['set']} row {c['row']} turn {c['turn']} asks something else than "
                                "in the files before it: the files come from different data")
            if c["system"] in systems_seen[where]:
                if single and c["system"] == "reference":
                    continue  # every predictions file carries the same human reference
                raise DataError(f"{path}: system {c['system']!r} is given twice (two files with one label?)")
            systems_seen[where].add(c["system"])
            text = tuple(c[k].strip() for k in ("input", "instruction", "candidate"))
            g = groups.setdefault((*where, *text), {**c, "systems": []})
            g["systems"].append(c["system"])
    if not groups:
        raise DataError("No candidates: pass predictions-*.jsonl and/or chats-*.jsonl files")
    lines = sorted(groups.values(), key=lambda g: (g["set"], str(g["row"]), g["turn"] or 0, g["input"], g["candidate"]))
    random.Random(seed).shuffle(lines)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_batches = max(1, round(len(lines) / batch_lines))
    for i, g in enumerate(lines, 1):
        g["id"] = f"c{i:04d}"
    with (out_dir / "key.jsonl").open("w", encoding="utf-8") as key:
        for b in range(n_batches):
            part = lines[b * len(lines) // n_batches:(b + 1) * len(lines) // n_batches]
            with (out_dir / f"batch-{b + 1:02d}.jsonl").open("w", encoding="utf-8") as f:
                for g in part:
                    f.write(json.dumps({"id": g["id"], "input": g["input"], "instruction": g["instruction"],
                                        "candidate": g["candidate"]}, ensure_ascii=False) + "\n")
                    key.write(json.dumps({k: g[k] for k in ("id", "systems", "set", "row", "turn", "kind")}) + "\n")
    stats = {"lines": len(lines), "candidates": sum(len(g["systems"]) for g in lines), "batches": n_batches}
    print(f"{out_dir}: {stats['candidates']} candidates as {stats['lines']} judged lines in {n_batches} batches "
          f"(batch-01.jsonl ...); key.jsonl is for scoring only, never for judges")
    return stats


def read_grades(out_dir: Path, partial: bool = False) -> tuple[list[dict], dict[str, int]]:
    """The key and the grade of each id; every problem with the grade files is listed in one DataError."""
    key = [rec for _, rec in read_jsonl(out_dir / "key.jsonl")]
    known = {k["id"] for k in key}
    grades: dict[str, int] = {}
    problems = []
    files = sorted(out_dir.glob("grades-*.jsonl"))
    if not files:
        raise DataError(f"No grades-*.jsonl in {out_dir}")
    for path in files:
        for n, rec in read_jsonl(path):
            cid = rec.get("id") if isinstance(rec, dict) else None
            if cid not in known:
                problems.append(f"{path.name}:{n}: unknown id {cid!r}")
            elif cid in grades:
                problems.append(f"{path.name}:{n}: id {cid} graded twice")
            elif rec.get("grade") not in GRADES or isinstance(rec.get("grade"), bool):
                problems.append(f"{path.name}:{n}: grade must be 2, 1 or 0, not {rec.get('grade')!r}")
            else:
                grades[cid] = rec["grade"]
    missing = sorted(known - grades.keys())
    if missing and not partial:
        problems.append(f"{len(missing)} of {len(known)} ids have no grade: {', '.join(missing[:20])}"
                        + (" ..." if len(missing) > 20 else ""))
    if problems:
        raise DataError("Grades do not match the key:\n  " + "\n  ".join(problems))
    return key, grades


def paired(key: list[dict], grades: dict[str, int]) -> str:
    """Head to head, per set: for each two systems, the edits where their outputs differ, how often each
    was graded higher, and the sum of grade differences (positive: the first is better)."""
    got: dict[tuple, dict[str, int]] = defaultdict(dict)  # (set, row, turn) -> system -> grade
    for k in key:
        if k["id"] in grades:
            for system in k["systems"]:
                got[(k["set"], k["row"], k["turn"])][system] = grades[k["id"]]
    pairs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])  # a higher, b higher, sum a-b
    for (set_name, _, _), by in got.items():
        names = sorted(n for n in by if n != "reference")
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                c = pairs[(set_name, a, b)]
                c[0] += by[a] > by[b]
                c[1] += by[a] < by[b]
                c[2] += by[a] - by[b]
    if not pairs:
        return ""
    lines = ["", "Head to head (edits graded differently; multi-turn: each system on its own chat):", "",
             "| set | A | B | graded differently | A higher | B higher | sum A-B |", "|---|---|---|---|---|---|---|"]
    for (set_name, a, b), c in sorted(pairs.items()):
        lines.append(f"| {set_name} | {a} | {b} | {c[0] + c[1]} | {c[0]} | {c[1]} | {c[2]:+d} |")
    return "\n".join(lines) + "\n"


def compounding(key: list[dict], grades: dict[str, int]) -> str:
    """For chats: how often a failed turn is followed by another failed turn, per set and system, beside
    how often any turn after the first fails (multi-turn failures compound: the next turn edits a wrong
    prompt)."""
    turns: dict[tuple, dict[int, int]] = defaultdict(dict)  # (set, system, row) -> turn -> grade
    for k in key:
        if k["turn"] is not None and k["id"] in grades:
            for system in k["systems"]:
                turns[(k["set"], system, k["row"])][k["turn"]] = grades[k["id"]]
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # after fail: n, failed; after any: n, failed
    for (set_name, system, _), got in turns.items():
        for t, grade in got.items():
            if t - 1 in got:
                c = counts[(set_name, system)]
                c[2] += 1
                c[3] += grade == 0
                if got[t - 1] == 0:
                    c[0] += 1
                    c[1] += grade == 0
    if not counts:
        return ""
    lines = ["", "Failures compounding (chats): a turn after a failed turn, and any turn after the first:", "",
             "| set | system | after a failed turn: n | failed % | after any turn: n | failed % |",
             "|---|---|---|---|---|---|"]
    for (set_name, system), c in sorted(counts.items()):
        lines.append(f"| {set_name} | {system} | {c[0]} | {100 * c[1] / c[0] if c[0] else 0:.1f} | {c[2]} | "
                     f"{100 * c[3] / c[2] if c[2] else 0:.1f} |")
    return "\n".join(lines) + "\n"


def score(out: str, partial: bool = False) -> dict:
    out_dir = Path(out)
    key, grades = read_grades(out_dir, partial)
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])  # (set, system, group) -> n of 2, 1, 0
    for k in key:
        if k["id"] not in grades:
            continue
        groups = ["all"] + ([f"turn {k['turn']}", k["kind"]] if k["turn"] is not None else [])
        for system in k["systems"]:
            for group in groups:
                counts[(k["set"], system, group)][GRADES.index(grades[k["id"]])] += 1
    order = {"all": 0, "short": 10, "medium": 11, "long": 12}
    rows = sorted(counts, key=lambda r: (r[0], r[1] != "reference", r[1],
                                         order.get(r[2], int(r[2].split()[-1]) if r[2].startswith("turn") else 99)))
    table = {}
    lines = ["| set | system | group | n | 2 correct % | 1 partly % | 0 failed % |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        c = counts[r]
        n = sum(c)
        shares = [100 * x / n for x in c]
        table.setdefault(r[0], {}).setdefault(r[1], {})[r[2]] = {"n": n, **dict(zip(("2", "1", "0"), shares))}
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {n} | " + " | ".join(f"{s:.1f}" for s in shares) + " |")
    text = "\n".join(lines) + "\n" + paired(key, grades) + compounding(key, grades)
    if partial:
        text += f"\nPartial: {len(grades)} of {len(key)} judged lines graded.\n"
    (out_dir / "scores.md").write_text(text)
    (out_dir / "scores.json").write_text(json.dumps(table, indent=2))
    print(text)
    return table


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Blind judging of prompt edits: make batches, score grades.")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="blind candidate batches and their key from prediction/chat files")
    m.add_argument("--inputs", nargs="+", required=True, help="predictions-<label>.jsonl and chats-<label>.jsonl, each as PATH or SET=PATH "
                   "(default sets: dev, multiturn)")
    m.add_argument("--out", required=True, help="a new folder for batch-NN.jsonl and key.jsonl")
    m.add_argument("--batch-lines", type=int, default=150)
    m.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("score", help="tables from grades-*.jsonl and key.jsonl")
    s.add_argument("--dir", required=True)
    s.add_argument("--partial", action="store_true", help="score the graded lines even if some have no grade")
    a = p.parse_args(argv)
    try:
        if a.command == "make":
            make(a.inputs, a.out, a.batch_lines, a.seed)
        else:
            score(a.dir, a.partial)
    except DataError as exc:
        raise SystemExit(str(exc)) from exc


if __name__ == "__main__":
    main()
