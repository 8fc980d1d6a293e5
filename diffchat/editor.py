"""PromptEditor: a causal language model that rewrites a prompt by an instruction.

    editor = PromptEditor.from_pretrained()            # shipped DiffChat model (offline)
    editor.edit("a horse in a field", "turn the horse into a zebra")
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .errors import DiffChatError, InvalidInput, ModelLoadError
from .paths import ASSETS_DIR
from .templates import TEMPLATES, build_prompt, clean_output

SHIPPED_ADAPTER = ASSETS_DIR / "diffchat-smollm2-lora"
EDITOR_META = "diffchat_editor.json"  # written next to trained models: {"template": ...}
EMBEDDED_BASE = "embedded:SmolLM2-135M-Instruct"
MAX_INPUT_CHARS = 2000


@dataclass
class GenerationOptions:
    """Decoding: greedy by default; sampling (typical_p, temperature, top_p) or beams on request."""

    max_new_tokens: int = 96
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    typical_p: float | None = None
    num_beams: int = 1
    repetition_penalty: float = 1.0
    seed: int | None = None
    retry_unchanged: int = 4        # an edit that comes back unchanged (or empty) is decoded again with
                                    # this many beams, taking the best beam that changes it; 0: off

    def update(self, **overrides) -> "GenerationOptions":
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise InvalidInput(f"Unknown generation option(s): {', '.join(sorted(unknown))}")
        return GenerationOptions(**{**asdict(self), **{k: v for k, v in overrides.items() if v is not None}})

    def generate_kwargs(self) -> dict:
        kw = dict(max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                  repetition_penalty=self.repetition_penalty, do_sample=self.do_sample)
        if self.do_sample:
            kw.update(temperature=self.temperature, top_p=self.top_p)
            if self.typical_p is not None:
                kw["typical_p"] = self.typical_p
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


def validate_pair(prompt: str, instruction: str) -> tuple[str, str]:
    prompt, instruction = (prompt or "").strip(), (instruction or "").strip()
    if not prompt:
        raise InvalidInput("There is no prompt to edit yet: type a starting prompt first.")
    if not instruction:
        raise InvalidInput("The instruction is empty: say what to change, e.g. 'make it snowy'.")
    if len(prompt) > MAX_INPUT_CHARS or len(instruction) > MAX_INPUT_CHARS:
        raise InvalidInput(f"Prompt and instruction must each be under {MAX_INPUT_CHARS} characters.")
    return prompt, instruction


class PromptEditor:
    """Turns (current prompt, instruction) into the target prompt."""

    def __init__(self, model, tokenizer, *, name: str, template: str = "diffchat",
                 options: GenerationOptions | None = None):
        if template not in TEMPLATES:
            raise InvalidInput(f"Unknown template {template!r}; choose one of {TEMPLATES}")
        self.model, self.tokenizer, self.name, self.template = model.eval(), tokenizer, name, template
        self.options = options or GenerationOptions()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # batched generation continues every row from its end
        self.load_seconds = 0.0

    @property
    def device(self):
        return next(self.model.parameters()).device

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, *, gguf_file: str | None = None,
                        adapter: str | Path | None = None, device=None, dtype=None,
                        template: str | None = None, options: GenerationOptions | None = None):
        """Load from a Hub id, a local folder, a GGUF file (folder + gguf_file), or the embedded base
        (model=None), optionally with a PEFT LoRA adapter on top."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        start = time.perf_counter()
        device, dtype = pick_device_dtype(device, dtype)
        if model is None or str(model) == EMBEDDED_BASE:
            from .embedded import embedded_base_folder

            source, name = embedded_base_folder(), "SmolLM2-135M-Instruct"
        else:
            source, name = model, str(model)
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            lm = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(_load_message(name, exc)) from exc
        meta = _read_meta(source)
        if adapter is not None:
            lm, adapter_meta = _attach_adapter(lm, adapter)
            meta.update(adapter_meta)
            name = f"{name} + {Path(adapter).name}"
        template = template or meta.get("template") or ("chat" if model is None and adapter is None else "diffchat")
        if template == "chat" and not getattr(tokenizer, "chat_template", None):
            template = "diffchat"
        lm.to(device)
        editor = cls(lm, tokenizer, name=name, template=template, options=options)
        editor.load_seconds = time.perf_counter() - start
        return editor

    # ---- editing -------------------------------------------------------------------------
    def edit(self, prompt: str, instruction: str, **generation) -> str:
        out = self.edit_batch([(prompt, instruction)], progress=False, **generation)[0]
        if not out:
            raise DiffChatError("The editor returned an empty prompt. Try rephrasing the instruction.")
        return out

    def edit_batch(self, pairs, batch_size: int = 8, progress: bool = True, **generation) -> list[str]:
        """Edit many (prompt, instruction) pairs; returns cleaned prompts (possibly empty strings)."""
        import torch
        from tqdm.auto import tqdm

        pairs = [validate_pair(p, i) for p, i in pairs]
        opts = self.options.update(**generation)
        if opts.seed is not None:
            torch.manual_seed(opts.seed)
        outputs: list[str] = []
        bar = tqdm(total=len(pairs), desc="Editing prompts", unit="prompt", disable=not progress)
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            outputs += self._generate(chunk, opts.generate_kwargs())
            bar.update(len(chunk))
        bar.close()
        if opts.retry_unchanged > 1:
            for k, pair in enumerate(pairs):
                if is_unchanged(outputs[k], pair[0]):
                    outputs[k] = self._changed_beam(pair, opts) or outputs[k]
        return outputs

    def _generate(self, pairs, generate_kwargs: dict) -> list[str]:
        """One `generate` call over (prompt, instruction) pairs: the cleaned new text of every returned sequence."""
        import torch

        texts = [build_prompt(self.tokenizer, p, i, self.template) for p, i in pairs]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=self.template != "chat")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            out = self.model.generate(**enc, **generate_kwargs, pad_token_id=self.tokenizer.pad_token_id,
                                      stop_strings=["\n"], tokenizer=self.tokenizer)
        new = out[:, enc["input_ids"].shape[1]:]
        return [clean_output(t) for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    def _changed_beam(self, pair: tuple[str, str], opts: GenerationOptions) -> str | None:
        """The best of `retry_unchanged` beams that is not the prompt itself (None if every beam is)."""
        n = opts.retry_unchanged
        beams = self._generate([pair], {**opts.update(do_sample=False, num_beams=n).generate_kwargs(),
                                        "num_return_sequences": n})
        return next((b for b in beams if not is_unchanged(b, pair[0])), None)


def is_unchanged(output: str, prompt: str) -> bool:
    """Is the edit a no-op: empty, or the prompt again (case, spacing and end punctuation aside)?"""
    norm = lambda t: " ".join(t.lower().split()).rstrip(" .,;")  # noqa: E731
    return not output.strip() or norm(output) == norm(prompt)


def _load_message(name: str, exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (f"Could not load the editor model '{name}': {text}. Check the id or folder; without network "
            "access only local folders, GGUF files and the embedded model can be loaded.")


def _read_meta(folder) -> dict:
    path = Path(str(folder)) / EDITOR_META
    return json.loads(path.read_text()) if path.is_file() else {}


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
    return lm.merge_and_unload(), _read_meta(adapter)


def load_editor(spec: str | None = None, **kwargs):
    """One entry point for every editor the CLI and app offer.

    None / "default": the shipped DiffChat adapter on the embedded base (the base alone if none ships);
    "base": the embedded base model, zero-shot; "openai:MODEL": an OpenAI-compatible endpoint;
    a path to a .gguf file; a LoRA adapter folder; a model folder; or a Hub id.
    """
    spec = (spec or "default").strip()
    if spec == "default":
        if (SHIPPED_ADAPTER / "adapter_config.json").is_file():
            return PromptEditor.from_pretrained(None, adapter=SHIPPED_ADAPTER, **kwargs)
        return PromptEditor.from_pretrained(None, **kwargs)
    if spec == "base":
        return PromptEditor.from_pretrained(None, **kwargs)
    if spec.startswith("openai:"):
        from .remote import OpenAIEditor

        return OpenAIEditor(model=spec.split(":", 1)[1])
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}")
        return PromptEditor.from_pretrained(path.parent, gguf_file=path.name, **kwargs)
    if (path / "adapter_config.json").is_file():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        base = None if not base or base == EMBEDDED_BASE else base
        return PromptEditor.from_pretrained(base, adapter=path, **kwargs)
    if not path.exists() and (spec.startswith((".", "/", "~")) or spec.count("/") > 1):
        raise ModelLoadError(f"Model folder not found: {path}")
    return PromptEditor.from_pretrained(spec, **kwargs)
