"""Editor speed, both runtimes in one run on the same prompts: transformers `generate` (the reference)
and CTranslate2 (each quantization asked for).

    python bench/bench_editor.py [--model default] [--n 30] [--threads 2] [--quantizations int8,float32]

Per runtime: p50/p90 latency of one edit at a time and per edit 8 at a time, tokens/s, cold load
(CTranslate2: merge + conversion into a fresh cache; transformers: the model from the cached base),
warm load, and peak memory (each runtime measured in a process of its own). Latencies are taken in
one process, the runtimes interleaved prompt by prompt, so load on the machine hits all of them alike;
the ratio of medians is the number to read. Prompts: the first N dev-split edits, and a long-prompt
set (the same instructions on prompts of 60+ words) to show what prompt length costs.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared/data/human-written-edits.jsonl"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def dev_rows(n: int):
    from train.data import load_rows, split_by_source

    return split_by_source(load_rows(DATA)[0], 0.1, 0)[1][:n]


def long_pairs(rows, words: int = 60):
    """Each dev instruction on a long prompt: its own prompt followed by the longest dev prompts."""
    filler = " ".join(sorted((r.source for r in dev_rows(69)), key=len)[-6:]).split()
    return [(" ".join((r.source.split() + filler)[:words]), r.instruction) for r in rows]


def load(runtime: str, model: str, quantization: str | None, threads: int):
    from diffchat.editor import load_editor

    return load_editor(model, runtime=runtime, quantization=quantization, threads=threads)


def child(a) -> None:
    """One runtime in a fresh process: cold and warm load, one edit, peak memory (RSS)."""
    runtime, _, quant = a.child.partition(":")
    if runtime == "ctranslate2":  # cold: a fresh cache holding only the dequantised base
        from diffchat.editor.embedded import embedded_base_folder

        base = embedded_base_folder()
        tmp = tempfile.mkdtemp()
        (Path(tmp) / "models").mkdir()
        (Path(tmp) / "models" / base.name).symlink_to(base)
        os.environ["DIFFCHAT_CACHE"] = tmp
    _, cold = timed(lambda: load(runtime, a.model, quant or None, a.threads))
    editor, warm = timed(lambda: load(runtime, a.model, quant or None, a.threads))
    editor.edit("a horse in a field", "turn the horse into a zebra")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if runtime == "ctranslate2":
        shutil.rmtree(os.environ["DIFFCHAT_CACHE"], ignore_errors=True)
    print(json.dumps({"cold": cold, "warm": warm, "peak_mb": peak_mb}))


def stats(latencies: list[float]) -> tuple[float, float]:
    s = sorted(latencies)
    return statistics.median(s), s[int(0.9 * (len(s) - 1))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="editor spec (default: the shipped model)")
    p.add_argument("--n", type=int, default=30, help="dev prompts")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quantizations", default="int8,float32", help="CTranslate2 quantizations to compare")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--out", default="runs/bench-editor.json")
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    if a.child:
        return child(a)
    runtimes = ["transformers"] + [f"ctranslate2:{q}" for q in a.quantizations.split(",")]
    print(f"{a.model}: {', '.join(runtimes)}; {a.threads} threads; {a.n} dev prompts")
    loads = {}
    for r in runtimes:
        out = subprocess.run([sys.executable, __file__, "--child", r, "--model", a.model, "--threads", str(a.threads)],
                             capture_output=True, text=True, check=True).stdout
        loads[r] = json.loads(out.strip().splitlines()[-1])
    editors = {}
    for r in runtimes:
        runtime, _, quant = r.partition(":")
        editors[r] = load(runtime, a.model, quant or None, a.threads)
    rows = dev_rows(a.n)
    sets = {"dev": [(r.source, r.instruction) for r in rows], "long": long_pairs(rows)}
    tokenizer = editors["transformers"].tokenizer
    results = {r: {"load": loads[r]} for r in runtimes}
    for ed in editors.values():
        ed.edit(*sets["dev"][0])  # warm-up
    for name, pairs in sets.items():
        lat = {r: [] for r in runtimes}
        tokens = {r: 0 for r in runtimes}
        outs = {r: [] for r in runtimes}
        for pair in pairs:  # interleaved: every runtime on the same prompt in turn
            for r, ed in editors.items():
                out, dt = timed(lambda: ed.edit_batch([pair], progress=False)[0])
                lat[r].append(dt)
                outs[r].append(out)
                tokens[r] += len(tokenizer(out, add_special_tokens=False)["input_ids"]) + 1
        for r, ed in editors.items():
            _, batch = timed(lambda: ed.edit_batch(pairs, batch_size=8, progress=False))
            p50, p90 = stats(lat[r])
            same = sum(o == t for o, t in zip(outs[r], outs["transformers"]))
            results[r][name] = {"p50": p50, "p90": p90, "tokens_per_s": tokens[r] / sum(lat[r]),
                                "batch8_per_edit": batch / len(pairs), "same_as_transformers": same,
                                "n": len(pairs)}
    ref = results["transformers"]
    lines = ["| runtime | set | p50 s | p90 s | 8 at a time, s/edit | tokens/s | speed-up (p50) | "
             "same output as transformers | cold load s | warm load s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runtimes:
        for name in sets:
            x, ld = results[r][name], results[r]["load"]
            lines.append(f"| {r} | {name} | {x['p50']:.2f} | {x['p90']:.2f} | {x['batch8_per_edit']:.2f} | "
                         f"{x['tokens_per_s']:.1f} | {ref[name]['p50'] / x['p50']:.2f}x | "
                         f"{x['same_as_transformers']}/{x['n']} | {ld['cold']:.1f} | {ld['warm']:.2f} | "
                         f"{ld['peak_mb']:.0f} |")
    print("\n".join(lines))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
