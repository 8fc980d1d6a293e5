"""Two or more editors' speed in one run, on the same prompts: the shipped default against a candidate.

    python bench/bench_editors.py --models "v14=default,v3=best:assets/diffchat-smollm2-script-v3+rewrite" [--n 30]

Every editor on CTranslate2 int8 with the same threads; the editors are interleaved prompt by prompt, so
load on the machine hits all of them alike, and the ratio of medians to the first editor is the number
to read. Prompts: the first N dev-split edits (short, as people write them) and the same instructions on
prompts of 60+ words (bench_editor.long_pairs). A sure rule edit takes milliseconds, so the share of
edits the rules answered is printed beside each editor's latency.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_editor import dev_rows, long_pairs, stats  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="v14=default,v3=best:assets/diffchat-smollm2-script-v3+rewrite",
                   help="comma-separated LABEL=SPEC (EditorSpec's string form); the first is the baseline")
    p.add_argument("--n", type=int, default=30, help="dev prompts")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/bench-editors.json")
    a = p.parse_args()
    from diffchat.editor import EditorSpec

    specs = [EditorSpec.parse(m.strip()) for m in a.models.split(",") if m.strip()]
    editors = {}
    for s in specs:
        label = s.label or s.spec
        editors[label] = replace(s, runtime=s.runtime or "ctranslate2").load(threads=a.threads)
        print(f"{label}: {getattr(editors[label], 'name', s.spec)}")
    rows = dev_rows(a.n)
    sets = {"short (dev)": [(r.source, r.instruction) for r in rows], "long (60+ words)": long_pairs(rows)}
    for ed in editors.values():
        ed.edit(*sets["short (dev)"][0])  # warm-up
    results = {}
    for name, pairs in sets.items():
        lat = {k: [] for k in editors}
        for pair in pairs:  # interleaved: every editor on the same prompt in turn
            for k, ed in editors.items():
                start = time.perf_counter()
                ed.edit_batch([pair], progress=False)
                lat[k].append(time.perf_counter() - start)
        results[name] = {k: dict(zip(("p50_s", "p90_s"), stats(v))) for k, v in lat.items()}
    base = next(iter(editors))
    lines = ["| prompts | editor | p50 s | p90 s | p50 / " + base + " |", "|---|---|---|---|---|"]
    for name, by in results.items():
        for k, r in by.items():
            lines.append(f"| {name} | {k} | {r['p50_s']:.3f} | {r['p90_s']:.3f} | "
                         f"{r['p50_s'] / by[base]['p50_s']:.2f} |")
    table = "\n".join(lines)
    print(table)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"models": a.models, "threads": a.threads, "n": a.n, "results": results}, indent=2))
    out.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
