"""Editor speed: load time (cold GGUF dequantisation vs the cached copy), edit latency, tokens/s.

    python bench/bench_editor.py [--model default] [--n 20] [--threads 2]

Cold load uses a fresh temporary cache, so the GGUF file is dequantised as on a first run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="editor spec for the latency part (default: shipped)")
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/human-written-edits.jsonl"))
    p.add_argument("--n", type=int, default=20, help="prompts to edit one at a time")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from diffchat.editor import PromptEditor, load_editor
    from train.data import load_rows

    print(f"torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DIFFCHAT_CACHE"] = tmp
        _, cold = timed(lambda: PromptEditor.from_pretrained(None))
        _, warm = timed(lambda: PromptEditor.from_pretrained(None))
    del os.environ["DIFFCHAT_CACHE"]
    print(f"load embedded base: cold (GGUF -> cache) {cold:.1f} s, warm (cached safetensors) {warm:.2f} s")

    editor, load = timed(lambda: load_editor(a.model))
    print(f"load '{a.model}' ({editor.name}): {load:.2f} s")
    rows = load_rows(a.data)[0][: a.n]
    editor.edit(rows[0].source, rows[0].instruction)  # warm-up
    latencies, tokens = [], 0
    for r in rows:
        out, dt = timed(lambda: editor.edit_batch([(r.source, r.instruction)], progress=False)[0])
        latencies.append(dt)
        tokens += len(editor.tokenizer(out, add_special_tokens=False)["input_ids"]) + 1
    latencies.sort()
    p50 = statistics.median(latencies)
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    print(f"edit latency over {len(rows)} prompts: p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms; "
          f"{tokens / sum(latencies):.1f} tokens/s")
    pairs = [(r.source, r.instruction) for r in rows]
    _, batch = timed(lambda: editor.edit_batch(pairs, batch_size=8, progress=False))
    print(f"batched (8 a batch): {batch / len(rows) * 1000:.0f} ms per prompt")


if __name__ == "__main__":
    main()
