"""Renderer.render overhead vs calling the same loaded diffusers pipeline directly.

    python bench/bench_render.py --backend tiny --backend tiny-sdxl --repeats 20
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from diffchat.backends import get_backend
from diffchat.render import Renderer


def _timed(fn, repeats: int, sync) -> list[float]:
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return times


def bench(renderer: Renderer, backend: str, repeats: int, prompt: str) -> dict:
    spec = get_backend(backend)
    pipe = renderer.pipeline(spec)  # load once, outside the timings
    pipe.set_progress_bar_config(disable=True)
    width, height = spec.width, spec.height
    sync = torch.cuda.synchronize if renderer.device.type == "cuda" else (lambda: None)

    def via_renderer():
        renderer.render(prompt, backend=spec, seed=0, width=width, height=height)

    def direct():
        pipe(prompt, num_inference_steps=spec.steps, guidance_scale=spec.guidance,
             negative_prompt=spec.negative_prompt or None, width=width, height=height,
             generator=torch.Generator("cpu").manual_seed(0)).images[0]

    via_renderer(), direct()  # warm-up
    # interleave the two so that load changes on the machine hit both alike
    r, d = [], []
    for _ in range(repeats):
        r += _timed(via_renderer, 1, sync)
        d += _timed(direct, 1, sync)
    rm, dm = statistics.median(r), statistics.median(d)
    return dict(backend=spec.name, steps=spec.steps, size=f"{width}x{height}", renderer=rm, direct=dm, ratio=rm / dm)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", action="append", help="backend name, Hub id or folder (repeatable; default: tiny)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--device", default=None)
    ap.add_argument("--prompt", default="a watercolor painting of a lighthouse at sunset")
    args = ap.parse_args(argv)
    renderer = Renderer(device=args.device)
    print(f"device={renderer.device} dtype={str(renderer.dtype).removeprefix('torch.')} "
          f"threads={torch.get_num_threads()} repeats={args.repeats}")
    print(f"{'backend':<14}{'steps':>6}{'size':>11}{'render ms':>12}{'direct ms':>12}{'ratio':>8}")
    for name in args.backend or ["tiny"]:
        row = bench(renderer, name, args.repeats, args.prompt)
        print(f"{row['backend']:<14}{row['steps']:>6}{row['size']:>11}{row['renderer'] * 1e3:>12.1f}"
              f"{row['direct'] * 1e3:>12.1f}{row['ratio']:>8.3f}")


if __name__ == "__main__":
    main()
