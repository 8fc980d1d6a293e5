"""Tiny random scorer models built from configs, saved like the real ones and loaded by the same loaders.

`tiny_scorer_config(folder)` writes (once) a tiny transformers CLIP for CLIP score / directional
CLIP / aesthetic, a second one for PickScore, an aesthetic MLP on its embedding size, and a tiny
open_clip model with an HPS-style checkpoint, and returns the `ScorerConfig` pointing at them.
The tokenizers are the real CLIP BPE (diffchat.tiny.clip_tokenizer, built offline from open_clip's file).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..tiny import clip_tokenizer
from .scorers import AESTHETIC_DIMS, ScorerConfig

TINY_EMBED = 16
_VERSION = 1  # bump to rebuild cached tiny scorers


def _save_tiny_clip(folder: Path, seed: int) -> None:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    torch.manual_seed(seed)
    text = dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407,
                pad_token_id=49407)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=32, patch_size=8)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=TINY_EMBED))
    size = vision["image_size"]
    image_processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=image_processor, tokenizer=clip_tokenizer()).save_pretrained(folder)


def _save_tiny_aesthetic(path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    dims = (TINY_EMBED,) + AESTHETIC_DIMS[1:]
    sd = {}
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        layer = torch.nn.Linear(a, b)
        idx = (0, 2, 4, 6, 7)[i]  # the LAION MLP's Sequential indices (dropouts in between)
        sd[f"layers.{idx}.weight"], sd[f"layers.{idx}.bias"] = layer.weight.data, layer.bias.data
    sd["layers.7.bias"] += 5.0  # centre the tiny scores near the real 5-6.5 range
    torch.save(sd, path)


def _save_tiny_open_clip(folder: Path, checkpoint: Path, seed: int) -> None:
    import open_clip

    cfg = {
        "embed_dim": TINY_EMBED,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}, indent=2))
    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{folder}", load_weights=False)  # random init, saved below
    torch.save({"state_dict": model.state_dict()}, checkpoint)


def tiny_scorer_config(folder: str | Path, **overrides) -> ScorerConfig:
    """Build the tiny scorer models under `folder` if missing; return a config that uses them."""
    folder = Path(folder) / f"tiny-scorers-v{_VERSION}"
    done = folder / "DONE"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _save_tiny_clip(folder / "clip-l", seed=1)
        _save_tiny_clip(folder / "clip-h", seed=2)
        _save_tiny_aesthetic(folder / "aesthetic.pth", seed=3)
        _save_tiny_open_clip(folder / "hps-arch", folder / "hps.pt", seed=4)
        done.write_text("ok\n")
    kw = dict(
        pickscore_model=str(folder / "clip-h"), pickscore_processor=str(folder / "clip-h"),
        clip_model=str(folder / "clip-l"), aesthetic_weights=str(folder / "aesthetic.pth"),
        hps_arch=str(folder / "hps-arch"), hps_checkpoint=str(folder / "hps.pt"),
    )
    kw.update(overrides)
    return ScorerConfig(**kw)
