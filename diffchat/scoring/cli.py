"""`python -m diffchat score`: score images against prompts (and an edit, for directional CLIP / CI)."""
from __future__ import annotations

import argparse
import json
from dataclasses import fields

from ..errors import InvalidInput
from .scorers import SCORER_NAMES, ScorerConfig


def scorer_config(kind: str = "real", options: list[str] | None = None, device: str | None = None,
                  batch_size: int | None = None) -> ScorerConfig:
    """A ScorerConfig: `kind` 'real' (Hub ids / files) or 'tiny' (tiny random models in the cache
    folder), then KEY=VALUE `options` overriding ScorerConfig fields."""
    if kind == "tiny":
        from ..paths import cache_dir
        from .tiny import tiny_scorer_config

        cfg = tiny_scorer_config(cache_dir() / "scorers")
    elif kind == "real":
        cfg = ScorerConfig()
    else:
        raise InvalidInput(f"Unknown scorer set '{kind}': use 'real' or 'tiny'.")
    names = {f.name: f.type for f in fields(ScorerConfig)}
    for opt in options or []:
        key, sep, value = opt.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in names:
            raise InvalidInput(f"Bad scorer option '{opt}': use KEY=VALUE with KEY one of {', '.join(names)}.")
        setattr(cfg, key, int(value) if key == "batch_size" else value)
    if device:
        cfg.device = device
    if batch_size:
        cfg.batch_size = batch_size
    return cfg


def parse_names(text: str | None) -> list[str]:
    names = [n.strip() for n in (text or ",".join(SCORER_NAMES)).split(",") if n.strip()]
    unknown = [n for n in names if n not in SCORER_NAMES]
    if unknown or not names:
        raise InvalidInput(f"Unknown scorer(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(SCORER_NAMES)}.")
    return names


def cmd_score(a) -> None:
    from .suite import ScoreSuite

    n = len(a.images)
    prompts = a.prompt if len(a.prompt) == n else a.prompt * n if len(a.prompt) == 1 else None
    if prompts is None:
        raise InvalidInput(f"Give one --prompt for all images or one per image ({n}); got {len(a.prompt)}.")
    raw_images = [a.raw_image] * n if a.raw_image else None
    raw_prompts = [a.raw_prompt] * n if a.raw_prompt else None
    instructions = [a.instruction] * n if a.instruction else None
    predictions = [a.prediction] * n if a.prediction is not None else None
    names = parse_names(a.scorers)
    lacking = {"dclip": "--raw-image and --raw-prompt" if not (raw_images and raw_prompts) else None,
               "ci": "--raw-prompt and --prediction" if not (raw_prompts and predictions) else None}
    if a.scorers:  # asked for by name: say what is missing
        for m in names:
            if lacking.get(m):
                raise InvalidInput(f"The {m} score needs {lacking[m]}.")
    names = [m for m in names if not lacking.get(m)]
    suite = ScoreSuite(names, scorer_config(a.scorer_set, a.option, a.device, a.batch_size), cache=a.cache)
    scores = suite.score(a.images, prompts, raw_images=raw_images, raw_prompts=raw_prompts,
                         instructions=instructions, predictions=predictions)
    if a.json:
        for i, path in enumerate(a.images):
            print(json.dumps({"image": path, "prompt": prompts[i], **{k: v[i] for k, v in scores.items()}}))
        return
    width = max(len(p) for p in a.images)
    print("image".ljust(width), *[k.rjust(10) for k in scores])
    for i, path in enumerate(a.images):
        print(path.ljust(width), *["-".rjust(10) if v[i] is None else f"{v[i]:10.4f}" for v in scores.values()])


def add_score_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `score` command to the `python -m diffchat` subparsers."""
    p = subparsers.add_parser(
        "score", help="score images: PickScore, aesthetic, HPS v2.1, CLIP score, directional CLIP, CI",
        description="Scores each image against its prompt. Directional CLIP needs --raw-image and --raw-prompt; "
                    "CI needs --raw-prompt, --instruction and --prediction (the prompt an editor produced; "
                    "--prompt is then the reference target).")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--prompt", action="append", required=True,
                   help="the text the images are judged against (once, or once per image)")
    p.add_argument("--raw-image", help="the image before the edit (directional CLIP)")
    p.add_argument("--raw-prompt", help="the prompt before the edit (directional CLIP, CI)")
    p.add_argument("--instruction", help="the edit instruction (CI)")
    p.add_argument("--prediction", help="the edited prompt to check against --prompt (CI)")
    p.add_argument("--scorers", help=f"comma-separated, default all: {','.join(SCORER_NAMES)}")
    p.add_argument("--scorer-set", choices=("real", "tiny"), default="real",
                   help="real weights (Hub ids/files) or tiny random models (offline tests)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scorer setting, e.g. aesthetic_weights=/path/sac+logos+ava1-l14-linearMSE.pth")
    p.add_argument("--device")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--cache", help="SQLite file caching scores between runs")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.set_defaults(func=cmd_score)
    return p
