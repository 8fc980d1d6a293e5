"""The machine check of LLM-written InstructPE-style triplets (train/instructpe/SPEC.md).

    python -m train.instructpe_check train/instructpe/shards --out train/instructpe/checked.jsonl.gz

Reads every shard (`*.jsonl`), keeps a record when it passes every check below, and writes the kept
records (gzipped JSONL, the `input`/`edit`/`output` fields train/data.py reads, plus `kind`, `style`,
`shard`) and a report (`--report`, markdown): counts by kind and style, and every reason a record was
dropped, with the first examples of each.

A record is dropped when:
  fields       input / edit / output missing or not strings, or kind / style not in the spec's tables
  unchanged    output equals input (spacing and case aside)
  length       input not 3-70 words, edit not 1-20 words, output more than twice input's words + 20
  command      output adds a command word ("make", "remove", "instead", "please", ...) input lacks
  script       the edit script of (input, output) does not turn input back into output
  duplicate    the (input, edit) pair was already kept (case and spacing aside)
  held out     its input, or its (input, edit) pair, is in an evaluation set (eval/sets/*, the
               human dev split), so training on it would leak the test
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from diffchat.editor.edit_script import apply_script, diff_script

KINDS = ("attribute", "replace", "add", "remove", "style", "move", "scene", "mood", "creative", "person", "statement")
STYLES = ("title", "casual", "prompt")
COMMAND_WORDS = frozenset("""make turn change add remove replace swap delete erase instead please pls plz can could
should would""".split())
EVAL_SETS = Path(__file__).resolve().parents[1] / "eval" / "sets"


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def held_out(eval_dir: Path = EVAL_SETS, human: str | Path | None = None) -> tuple[set[str], set[tuple[str, str]]]:
    """Every evaluation input and (input, edit) pair: the eval sets' edits and chats (each turn's prompt),
    and the human data's dev split."""
    inputs, pairs = set(), set()
    for path in sorted(eval_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if "turns" in rec:
                chain = [rec["prompt"], *rec["references"]]
                for prompt, turn in zip(chain, rec["turns"]):
                    inputs.add(_key(prompt))
                    pairs.add((_key(prompt), _key(turn)))
            elif "input" in rec:
                inputs.add(_key(rec["input"]))
                pairs.add((_key(rec["input"]), _key(rec.get("edit", ""))))
    if human and Path(human).is_file():
        from train.data import load_rows, split_by_source

        _, dev = split_by_source(load_rows(human)[0])
        for row in dev:
            inputs.add(_key(row.source))
            pairs.add((_key(row.source), _key(row.instruction)))
    return inputs, pairs


def problem(rec, seen: set, inputs: set, pairs: set) -> str | None:
    """Why `rec` is dropped, or None when it is kept."""
    if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) and rec[k].strip()
                                            for k in ("input", "edit", "output")):
        return "fields"
    if rec.get("kind") not in KINDS or rec.get("style") not in STYLES:
        return "fields"
    source, edit, target = rec["input"].strip(), rec["edit"].strip(), rec["output"].strip()
    if _key(source) == _key(target):
        return "unchanged"
    n_in, n_edit, n_out = len(_words(source)), len(_words(edit)), len(_words(target))
    if not 3 <= n_in <= 70 or not 1 <= n_edit <= 20 or n_out > 2 * n_in + 20:
        return "length"
    if (set(_words(target)) - set(_words(source))) & COMMAND_WORDS:
        return "command"
    made = apply_script(source, diff_script(source, target))
    if made is None or _key(made) != _key(target):
        return "script"
    if _key(source) in inputs or (_key(source), _key(edit)) in pairs:
        return "held out"
    if (_key(source), _key(edit)) in seen:
        return "duplicate"
    return None


def check(shard_dir: str | Path, human: str | Path | None = None) -> tuple[list[dict], Counter, dict, Counter]:
    inputs, pairs = held_out(human=human)
    kept, dropped, examples, total = [], Counter(), defaultdict(list), Counter()
    seen: set = set()
    for path in sorted(Path(shard_dir).glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            total[path.name] += 1
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                rec = None
            why = problem(rec, seen, inputs, pairs)
            if why:
                dropped[why] += 1
                if len(examples[why]) < 3:
                    examples[why].append(f"{path.name}:{n}: {line[:160]}")
                continue
            seen.add((_key(rec["input"]), _key(rec["edit"])))
            kept.append({"input": rec["input"].strip(), "edit": rec["edit"].strip(), "output": rec["output"].strip(),
                         "kind": rec["kind"], "style": rec["style"], "shard": path.stem})
    return kept, dropped, examples, total


def report(kept: list[dict], dropped: Counter, examples: dict, total: Counter) -> str:
    lines = [f"# Checked triplets: {len(kept)} kept of {sum(total.values())}", "",
             "| shard | records |", "|---|---|", *(f"| {k} | {v} |" for k, v in sorted(total.items())), "",
             "| kind | " + " | ".join(STYLES) + " | all |", "|---" * (len(STYLES) + 2) + "|"]
    by = Counter((r["kind"], r["style"]) for r in kept)
    for kind in KINDS:
        row = [by[(kind, s)] for s in STYLES]
        lines.append(f"| {kind} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    lines.append("| all | " + " | ".join(str(sum(by[(k, s)] for k in KINDS)) for s in STYLES) + f" | {len(kept)} |")
    lines += ["", "| dropped because | records |", "|---|---|", *(f"| {k} | {v} |" for k, v in dropped.most_common())]
    for why, exs in examples.items():
        lines += ["", f"{why}:", *(f"    {e}" for e in exs)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shards", help="folder of shard JSONL files")
    p.add_argument("--out", default="train/instructpe/checked.jsonl.gz")
    p.add_argument("--report", default="train/instructpe/REPORT.md")
    p.add_argument("--human", default=str(Path(__file__).resolve().parents[2] / "shared/data/human-written-edits.jsonl"),
                   help="the human data, whose dev split is held out too")
    args = p.parse_args(argv)
    kept, dropped, examples, total = check(args.shards, args.human)
    for path in (args.out, args.report):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as f:
        for rec in kept:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    text = report(kept, dropped, examples, total)
    Path(args.report).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
