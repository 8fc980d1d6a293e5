"""Scoring throughput: milliseconds per image, one at a time vs batched, in the same run.

    python bench/bench_scoring.py                       # tiny random scorer models (CPU, offline)
    python bench/bench_scoring.py --real --device cuda  # the real weights (Hub ids or --option paths)

Each scorer is timed alone (its backbone's embedding memo cleared first), then the whole suite
(scorers sharing a backbone encode each image once), then the suite again from its score cache.
Images are 512x512 noise, like a Stable Diffusion 1.5 render; prompts are short captions.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffchat.scoring.cache import ScoreCache  # noqa: E402
from diffchat.scoring.cli import parse_names, scorer_config  # noqa: E402
from diffchat.scoring.suite import ScoreSuite  # noqa: E402

WORDS = "cat dog castle forest city river portrait dragon car beach mountain robot garden night".split()


def inputs(n: int, size: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    img = lambda: Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))  # noqa: E731
    cap = lambda: "a " + " ".join(rng.choice(WORDS, 4)) + ", highly detailed"  # noqa: E731
    return dict(images=[img() for _ in range(n)], prompts=[cap() for _ in range(n)],
                raw_images=[img() for _ in range(n)], raw_prompts=[cap() for _ in range(n)],
                instructions=["make it " + rng.choice(WORDS) for _ in range(n)], predictions=[cap() for _ in range(n)])


def timed(suite: ScoreSuite, data: dict, batch_size: int, use_cache: bool = False) -> float:
    suite.clear_memos()
    t = time.perf_counter()
    suite.score(**data, batch_size=batch_size, progress=False, use_cache=use_cache)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--real", action="store_true", help="real scorer weights instead of tiny random models")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="ScorerConfig override")
    p.add_argument("--scorers", help="comma-separated (default: all)")
    p.add_argument("-n", "--images", type=int, default=32)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    a = p.parse_args(argv)

    cfg = scorer_config("real" if a.real else "tiny", a.option, a.device)
    names = parse_names(a.scorers)
    data = inputs(a.images, a.size)
    warm = inputs(2, a.size, seed=1)
    suites = {name: ScoreSuite([name], cfg) for name in names}
    for s in suites.values():
        s.score(**warm, batch_size=2, progress=False, use_cache=False)

    device = next((s.backbone.device for st in suites.values() for s in st.scorers.values() if hasattr(s, "backbone")), "cpu")
    print(f"{a.images} images of {a.size}x{a.size}, device {device}, torch threads {torch.get_num_threads()}, "
          f"{'real' if a.real else 'tiny'} scorers")
    print(f"{'scorer':<12}{'1 at a time':>14}{'batch ' + str(a.batch_size):>14}{'speed-up':>10}   (ms per image)")
    rows = []
    for name, suite in suites.items():
        one = timed(suite, data, 1) / a.images * 1000
        many = timed(suite, data, a.batch_size) / a.images * 1000
        rows.append({"scorer": name, "one_ms": one, "batched_ms": many})
        print(f"{name:<12}{one:>14.2f}{many:>14.2f}{one / many:>9.2f}x")

    suite = ScoreSuite(names, cfg, cache=ScoreCache())
    one = timed(suite, data, 1) / a.images * 1000
    many = timed(suite, data, a.batch_size) / a.images * 1000
    print(f"{'all (suite)':<12}{one:>14.2f}{many:>14.2f}{one / many:>9.2f}x")
    timed(suite, data, a.batch_size, use_cache=True)  # fills the cache
    cached = timed(suite, data, a.batch_size, use_cache=True) / a.images * 1000
    print(f"{'all, cached':<12}{'':>14}{cached:>14.2f}")
    rows += [{"scorer": "all", "one_ms": one, "batched_ms": many}, {"scorer": "all_cached", "batched_ms": cached}]
    if a.json:
        Path(a.json).write_text(json.dumps({"device": str(device), "images": a.images, "size": a.size,
                                            "batch_size": a.batch_size, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
