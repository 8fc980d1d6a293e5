"""Multi-turn edits: each method edits its own previous output, turn by turn, over hand-written chats.

    python -m train.evaluate_chat --set eval/sets/multiturn.jsonl \
        --methods "shipped=default#ctranslate2,new=runs/new-editor#transformers" --out runs/eval-chat

A method is LABEL=SPEC[#RUNTIME[:QUANTIZATION]], SPEC being anything `load_editor` accepts ("default",
"base", a folder, ...). Every turn step is one batch over all conversations. An empty output keeps the
previous prompt (the chain goes on) and is recorded. Writes chats-<label>.jsonl (per conversation: the
prompt chain, the raw outputs, the turns that came back empty), chats-reference.jsonl (the set's own
references) and summary.md / summary.json (seconds per turn edit, empty outputs). `python -m
train.judging make` turns the chats files into blind candidates.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from diffchat.editor.loading import EditorSpec
from diffchat.errors import DiffChatError
from train.data import DataError
from train.evaluate import editor_spec
from train.judging import read_jsonl, slug

KINDS = ("short", "medium", "long")


def load_set(path) -> list[dict]:
    """The conversations of a multi-turn set, checked: unique ids, a kind, as many references as turns."""
    convs, seen = [], set()
    for n, rec in read_jsonl(path):
        where = f"{path}:{n}"
        if not isinstance(rec, dict) or not all(k in rec for k in ("id", "kind", "prompt", "turns", "references")):
            raise DataError(f"{where}: needs id, kind, prompt, turns and references")
        if rec["id"] in seen:
            raise DataError(f"{where}: duplicate id {rec['id']!r}")
        if rec["kind"] not in KINDS:
            raise DataError(f"{where}: kind must be one of {', '.join(KINDS)}, not {rec['kind']!r}")
        texts = [rec["prompt"], *rec["turns"], *rec["references"]]
        if not rec["turns"] or len(rec["turns"]) != len(rec["references"]) or \
                not all(isinstance(t, str) and t.strip() for t in texts):
            raise DataError(f"{where}: turns and references must be equally many non-empty strings")
        seen.add(rec["id"])
        convs.append(rec)
    if not convs:
        raise DataError(f"{path}: no conversations")
    return convs


def parse_method(entry: str) -> EditorSpec:
    """'LABEL=SPEC#runtime:quant' (EditorSpec's string form; `editor:SPEC` as train/evaluate_text.py
    writes it) -> the spec, its label slugged (no LABEL= names it by its spec)."""
    es = EditorSpec.parse(entry)
    spec = editor_spec(es.spec) or es.spec
    label = slug(es.label or entry.strip())
    if label == "reference":
        raise SystemExit("'reference' is the set's own references; give the method another label")
    return replace(es, spec=spec, label=label)


def run_chats(editor, convs: list[dict], batch_size: int = 8) -> tuple[list[dict], list[float]]:
    """Every conversation turn by turn, each turn editing the method's own previous prompt.

    Returns the chats and the seconds per edit of each turn step (the step's time over its edits)."""
    chains = [[c["prompt"]] for c in convs]
    raw = [[] for _ in convs]
    per_edit = []
    for t in range(max(len(c["turns"]) for c in convs)):
        live = [k for k, c in enumerate(convs) if t < len(c["turns"])]
        start = time.perf_counter()
        outs = editor.edit_batch([(chains[k][-1], convs[k]["turns"][t]) for k in live],
                                 batch_size=batch_size, progress=False)
        per_edit.append((time.perf_counter() - start) / len(live))
        for k, out in zip(live, outs):
            out = (out or "").strip()
            raw[k].append(out)
            chains[k].append(out or chains[k][-1])
    chats = [{"id": c["id"], "kind": c["kind"], "turns": c["turns"], "prompts": chain, "outputs": outs,
              "empty": [t + 1 for t, o in enumerate(outs) if not o]}
             for c, chain, outs in zip(convs, chains, raw)]
    return chats, per_edit


def reference_chats(convs: list[dict]) -> list[dict]:
    return [{"id": c["id"], "kind": c["kind"], "turns": c["turns"], "prompts": [c["prompt"], *c["references"]],
             "outputs": c["references"], "empty": []} for c in convs]


def write_chats(chats: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chats), encoding="utf-8")


def evaluate(set_path: str, methods: list[str], out: str, batch_size: int = 8) -> dict[str, dict]:
    convs = load_set(set_path)
    parsed = [parse_method(m) for m in methods]  # bad labels fail before any model loads
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_chats(reference_chats(convs), out_dir / "chats-reference.jsonl")
    summary = {}
    for es in parsed:
        label, spec, runtime = es.label, es.spec, es.runtime
        editor = es.load()
        print(f"{label}: {getattr(editor, 'name', spec)} (runtime {getattr(editor, 'runtime', '?')})")
        chats, per_edit = run_chats(editor, convs, batch_size)
        write_chats(chats, out_dir / f"chats-{label}.jsonl")
        summary[label] = {"spec": spec, "runtime": getattr(editor, "runtime", runtime), "conversations": len(chats),
                          "edits": sum(len(c["outputs"]) for c in chats),
                          "empty": sum(len(c["empty"]) for c in chats),
                          "unchanged": sum(o == p for c in chats for o, p in zip(c["outputs"], c["prompts"])),
                          "invariants": dict(sorted(getattr(editor, "stats", {}).items())),
                          "p50_s_per_turn": statistics.median(per_edit), "s_per_turn_by_step": per_edit}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = ["| method | runtime | conversations | edits | empty outputs | p50 s / turn |", "|---|---|---|---|---|---|"]
    lines += [f"| {m} | {s['runtime']} | {s['conversations']} | {s['edits']} | {s['empty']} | "
              f"{s['p50_s_per_turn']:.3f} |" for m, s in summary.items()]
    table = "\n".join(lines) + "\n"
    for m, s in summary.items():
        if s["invariants"]:  # the default editor's candidate checks (diffchat/editor/invariants.py)
            table += f"\n{m}: {s['unchanged']} turns unchanged; " + ", ".join(f"{k} {v}" for k, v in s["invariants"].items()) + "\n"
    (out_dir / "summary.md").write_text(table)
    print(table)
    return summary


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Multi-turn prompt edits: each method edits its own previous output.")
    p.add_argument("--set", required=True, help="conversations JSONL (eval/sets/multiturn.jsonl)")
    p.add_argument("--methods", required=True,
                   help="comma-separated LABEL=SPEC[#RUNTIME[:QUANTIZATION]], e.g. shipped=default#ctranslate2")
    p.add_argument("--out", default="runs/eval-chat")
    p.add_argument("--batch-size", type=int, default=8)
    a = p.parse_args(argv)
    try:
        evaluate(a.set, [m.strip() for m in a.methods.split(",") if m.strip()], a.out, a.batch_size)
    except (DataError, DiffChatError) as exc:
        raise SystemExit(str(exc)) from exc


if __name__ == "__main__":
    main()
