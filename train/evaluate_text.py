"""Edit quality on held-out triplets, measured on text: CI, removal, instruction leak, chrF.

    python -m train.evaluate_text --data runs/sft-cpu/data/val.jsonl \
        --methods source,append,base,sft --out runs/eval-text

Methods: `source` (the prompt unchanged), `append` (the instruction appended to it), `base` (the
embedded base model zero-shot), `sft` / `default` (the shipped DiffChat model), and
`editor:SPEC` for any editor `diffchat.editor.load_editor` accepts (a folder, a PPO checkpoint,
`openai:MODEL`). A method may name the editor's runtime after a `#`: `sft#transformers`,
`sft#ctranslate2:int8` (runtime, then the CTranslate2 quantization); without one, the default
(`auto`: CTranslate2 on a CPU). Writes predictions-<method>.jsonl, results.csv, results.md and results.png.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
from dataclasses import replace
from pathlib import Path

from diffchat.editor.rerank import COMMAND_WORDS
from diffchat.scoring.ci import ci_score, keyword_match, keywords, lemma_set
from train.data import EditRow, load_rows

METRICS = ("ci", "removal", "leak", "chrf")


def removal_counts(row: EditRow, prediction: str) -> tuple[int, int]:
    """(source keywords the reference dropped that the prediction dropped too, those the reference dropped)."""
    ref, pred = lemma_set(row.target), lemma_set(prediction)
    dropped = [k for k in keywords(row.source) if not keyword_match(k, ref)]
    return sum(not keyword_match(k, pred) for k in dropped), len(dropped)


def leaks(source: str, prediction: str) -> bool:
    """Does the prediction hold an editing command word that the source did not?"""
    words = lambda t: set(re.findall(r"[a-z]+", t.lower()))  # noqa: E731
    return bool((words(prediction) - words(source)) & COMMAND_WORDS)


def score(rows: list[EditRow], predictions: list[str]) -> dict[str, float]:
    """The four metrics over a set (CI ×100 before thresholding; rates in %; corpus chrF)."""
    from sacrebleu.metrics import CHRF

    ci = [ci_score(r.source, r.instruction, r.target, p) for r, p in zip(rows, predictions)]
    removed = [removal_counts(r, p) for r, p in zip(rows, predictions)]
    n_dropped = sum(d for _, d in removed)
    return {
        "ci": 100 * sum(ci) / len(ci),
        "removal": 100 * sum(k for k, _ in removed) / n_dropped if n_dropped else float("nan"),
        "leak": 100 * sum(leaks(r.source, p) for r, p in zip(rows, predictions)) / len(rows),
        "chrf": CHRF().corpus_score(predictions, [[r.target for r in rows]]).score,
        "n": len(rows),
    }


def predict(method: str, rows: list[EditRow], batch_size: int = 8) -> list[str]:
    if method == "source":
        return [r.source for r in rows]
    if method == "append":
        return [f"{r.source}, {r.instruction}" for r in rows]
    from diffchat.editor import EditorSpec
    from train.evaluate import editor_spec

    es = EditorSpec.parse(method)  # METHOD#RUNTIME:QUANTIZATION
    spec = editor_spec(es.spec)
    if not spec:
        raise SystemExit(f"Unknown method {es.spec!r}: use source, append, base, sft or editor:SPEC")
    editor = replace(es, spec=spec).load()
    print(f"{es.spec}: {editor.name} (template {getattr(editor, 'template', 'chat')}, "
          f"runtime {getattr(editor, 'runtime', 'remote')})")
    return editor.edit_batch([(r.source, r.instruction) for r in rows], batch_size=batch_size, progress=True)


def _slug(method: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", method)


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"ci": "CI (↑)", "removal": "removal % (↑)", "leak": "instruction leak % (↓)", "chrf": "chrF (↑)"}
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
    methods = list(results)
    colors = plt.cm.tab10.colors
    for ax, m in zip(axes, METRICS):
        vals = [results[k][m] for k in methods]
        bars = ax.bar(range(len(methods)), vals, color=[colors[i % 10] for i in range(len(methods))])
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
        ax.set_title(labels[m], fontsize=10)
        ax.set_ylim(0, max(100, max(v for v in vals if v == v) * 1.15 if any(v == v for v in vals) else 100))
    fig.suptitle("Prompt edits on held-out human-written triplets", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_tables(results: dict[str, dict], out: Path) -> str:
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "n", *METRICS])
        for m, r in results.items():
            w.writerow([m, r["n"], *(f"{r[k]:.2f}" for k in METRICS)])
    lines = ["| method | n | CI ↑ | removal % ↑ | leak % ↓ | chrF ↑ |", "|---|---|---|---|---|---|"]
    lines += [f"| {m} | {r['n']} | " + " | ".join(f"{r[k]:.1f}" for k in METRICS) + " |" for m, r in results.items()]
    table = "\n".join(lines) + "\n"
    (out / "results.md").write_text(table)
    return table


def evaluate(data: str, methods: list[str], out: str, limit: int | None = None, batch_size: int = 8,
             refresh: bool = False) -> dict[str, dict]:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, report = load_rows(data)
    rows = rows[:limit] if limit else rows
    print(f"{data}: {report}; evaluating {len(rows)} rows")
    results = {}
    for entry in methods:
        label, method = entry.split("=", 1) if "=" in entry else (entry, entry)
        pred_file = out_dir / f"predictions-{_slug(label)}.jsonl"
        cached = [json.loads(x) for x in pred_file.read_text().splitlines()] if pred_file.is_file() else []
        stale = [(c["input"], c["edit"], c.get("method", label)) for c in cached] != \
            [(r.source, r.instruction, method) for r in rows]
        if refresh or stale:
            preds = predict(method, rows, batch_size)
            with pred_file.open("w", encoding="utf-8") as f:
                for r, p in zip(rows, preds):
                    f.write(json.dumps({**r.as_dict(), "method": method, "prediction": p}, ensure_ascii=False) + "\n")
        else:
            preds = [c["prediction"] for c in cached]
        results[label] = score(rows, preds)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(write_tables(results, out_dir))
    plot(results, out_dir / "results.png")
    return results


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Text metrics of prompt edits (CI, removal, leak, chrF).")
    p.add_argument("--data", required=True, help="held-out triplets (input/edit/output JSONL or InstructPE)")
    p.add_argument("--methods", default="source,append,base,sft",
                   help="comma-separated: source, append, base, sft, editor:SPEC (any load_editor spec); "
                        "LABEL=METHOD names a method in the table and chart, e.g. ppo=editor:runs/ppo/final")
    p.add_argument("--out", default="runs/eval-text")
    p.add_argument("--limit", type=int)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--refresh", action="store_true", help="recompute predictions even if cached")
    a = p.parse_args(argv)
    evaluate(a.data, [m.strip() for m in a.methods.split(",") if m.strip()], a.out, a.limit, a.batch_size, a.refresh)


if __name__ == "__main__":
    main()
