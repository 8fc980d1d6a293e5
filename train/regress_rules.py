"""The corpus regression check of the rule edits (diffchat/editor/direct.py): every (prompt, instruction) of
the evaluation sets (eval/sets: single edits, and each chat turn on the reference chain) and of the human
data, with the rule edits they give, against the committed snapshot (eval/rules-snapshot.jsonl.gz).

    python -m train.regress_rules            # check: identical, or each difference listed (exit 1)
    python -m train.regress_rules --write    # a change to the rules that says why: write the new snapshot

A change to the rules must leave every pair's edits identical, or its commit says why they differ.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "eval" / "rules-snapshot.jsonl.gz"
HUMAN = ROOT.parent / "shared" / "data" / "human-written-edits.jsonl"


def corpus(sets=ROOT / "eval" / "sets", human=HUMAN) -> list[tuple[str, str]]:
    """Every (prompt, instruction) pair, in a fixed order, each once."""
    pairs = []
    for path in sorted(Path(sets).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            if "turns" in rec:  # a chat: each turn edits the reference of the turn before
                prompts = [rec["prompt"], *rec["references"]]
                pairs += [(prompts[t], turn) for t, turn in enumerate(rec["turns"])]
            else:
                pairs.append((rec["input"], rec["edit"]))
    if Path(human).is_file():
        for line in Path(human).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                pairs.append((rec["input"], rec["edit"]))
    return list(dict.fromkeys(pairs))


def rule_edits(pairs) -> list[dict]:
    from diffchat.editor.direct import direct_edits

    return [{"input": p, "edit": i, "edits": [[e.text, e.sure] for e in direct_edits(p, i)]} for p, i in pairs]


def read(path=SNAPSHOT) -> tuple[dict, dict[tuple[str, str], list]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return lines[0], {(r["input"], r["edit"]): r["edits"] for r in lines[1:]}


def write(rows: list[dict], path=SNAPSHOT) -> None:
    from diffchat.editor.direct import RULES_VERSION

    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"rules_version": RULES_VERSION, "pairs": len(rows)}) + "\n")
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def differences(rows: list[dict], snapshot: dict) -> list[dict]:
    """Pairs whose edits differ from the snapshot's (a pair the snapshot lacks counts as differing)."""
    return [{**r, "before": snapshot.get((r["input"], r["edit"]))} for r in rows
            if snapshot.get((r["input"], r["edit"])) != r["edits"]]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="write the snapshot anew")
    p.add_argument("--show", type=int, default=20, help="how many differences to print")
    args = p.parse_args(argv)
    rows = rule_edits(corpus())
    if args.write:
        write(rows)
        print(f"{SNAPSHOT}: {len(rows)} pairs written")
        return 0
    header, snapshot = read()
    diff = differences(rows, snapshot)
    print(f"rule edits on {len(rows)} pairs (snapshot: rules v{header['rules_version']}, {header['pairs']} pairs): "
          f"{len(rows) - len(diff)} identical, {len(diff)} differ")
    for d in diff[:args.show]:
        print(f"- {d['input']!r} + {d['edit']!r}\n    before: {d['before']}\n    now:    {d['edits']}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
