"""load_editor: one entry point for every editor the CLI and app offer, on the runtime that suits
the machine: CTranslate2 on a CPU, transformers on a GPU (and wherever CTranslate2 cannot run)."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, ModelLoadError
from .common import EMBEDDED_BASE, SHIPPED_ADAPTER, SHIPPED_SCRIPT, cpu_cores

RUNTIMES = ("auto", "ctranslate2", "transformers")
RUNTIME_ENV = "DIFFCHAT_EDITOR_RUNTIME"
log = logging.getLogger("diffchat.editor")


@dataclass(frozen=True)
class EditorSpec:
    """An editor to load: `spec` as `load_editor` takes it, on `runtime` with `quantization`, named
    `label` in tables. Its string form, `LABEL=SPEC#RUNTIME:QUANTIZATION` (every part but SPEC optional,
    e.g. `v14=default#ctranslate2:int8`), is parsed here and nowhere else."""
    spec: str = "default"
    runtime: str | None = None
    quantization: str | None = None
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> "EditorSpec":
        label, sep, rest = text.partition("=")
        if not sep:
            label, rest = "", text
        spec, _, backend = rest.partition("#")
        runtime, _, quantization = backend.partition(":")
        if runtime.strip() and runtime.strip() not in RUNTIMES:
            raise InvalidInput(f"Unknown runtime {runtime.strip()!r} in {text!r}; use {', '.join(RUNTIMES)}.")
        return cls(spec.strip() or "default", runtime.strip() or None, quantization.strip() or None,
                   label.strip() or None)

    def __str__(self) -> str:
        out = f"{self.label}={self.spec}" if self.label else self.spec
        if self.runtime or self.quantization:
            out += f"#{self.runtime or 'auto'}" + (f":{self.quantization}" if self.quantization else "")
        return out

    def load(self, **kwargs):
        return load_editor(self.spec, runtime=self.runtime, quantization=self.quantization, **kwargs)


def load_editor(spec: str | None = None, *, runtime: str | None = None, quantization: str | None = None,
                threads: int = 0, **kwargs):
    """Load an editor.

    spec: None / "default": the shipped DiffChat editor (the edit-script model's, the rewrite model's and
    the rules' candidates, the best picked: rerank.py, direct.py); "models": the same without the rules;
    "rewrite" / "script": either shipped adapter alone on the
    embedded base; "best:SCRIPT,REWRITE": that pairing of any two specs ("best:SCRIPT+REWRITE" inside a
    comma-separated list); "base": the embedded base, zero-shot; "openai:MODEL": an OpenAI-compatible endpoint; a path to a .gguf file; a LoRA adapter
    folder; a model folder; or a Hub id.
    runtime: "auto" (default; $DIFFCHAT_EDITOR_RUNTIME overrides): CTranslate2 on a CPU, transformers
    on a GPU or when a GPU device or a dtype is asked for. quantization: the CTranslate2 weights (int8, ...).
    threads: CPU threads of a CTranslate2 editor (0: one a core, at most 4); a pairing splits them between
    its two models, which decode at once.
    kwargs go to the transformers runtime (device, dtype, template, options); template and options
    to both.
    """
    spec = (spec or "default").strip()
    if spec.startswith("openai:"):
        from ..remote import OpenAIEditor

        return OpenAIEditor(model=spec.split(":", 1)[1])
    if spec in ("default", "models") and all((a / "adapter_config.json").is_file()
                                             for a in (SHIPPED_SCRIPT, SHIPPED_ADAPTER)):
        editor = _best(str(SHIPPED_SCRIPT), str(SHIPPED_ADAPTER), runtime, quantization, threads, kwargs,
                       rules=spec == "default")
        editor.name = (f"DiffChat v2 on SmolLM2-135M (edit scripts + rewrite{' + rules' if editor.rules else ''}, "
                       f"best of {editor.n + 1})")
        return editor
    if spec.startswith("best:"):  # best:SCRIPT_MODEL,REWRITE_MODEL (or best:A+B inside comma-separated lists)
        pair = spec[len("best:"):]
        writer, _, judge = pair.partition("," if "," in pair else "+")
        if not judge:
            raise InvalidInput("best: takes two editors, the edit-script model and the rewrite model: best:A,B "
                               "(or best:A+B)")
        return _best(writer.strip(), judge.strip(), runtime, quantization, threads, kwargs)
    model, gguf_file, adapter = resolve_spec(spec)
    if pick_runtime(runtime, kwargs) == "ctranslate2":
        try:
            from .ct2_runtime import CT2Editor

            return CT2Editor.from_pretrained(model, gguf_file=gguf_file, adapter=adapter, quantization=quantization,
                                             threads=threads, template=kwargs.get("template"),
                                             options=kwargs.get("options"))
        except InvalidInput:
            raise
        except (ImportError, ModelLoadError) as exc:
            log.warning("DiffChat: the CTranslate2 runtime is unavailable (%s); using transformers.", exc)
    from .transformers_runtime import PromptEditor

    return PromptEditor.from_pretrained(model, gguf_file=gguf_file, adapter=adapter, **kwargs)


def _best(writer: str, judge: str, runtime, quantization, threads: int, kwargs: dict, rules: bool = True):
    """The reranked editor of two loaded editors: the edit-script model (writer) and the rewrite model."""
    from .rerank import RerankedEditor

    # On CTranslate2 the two models decode at once: half the threads (all cores, at most 8) each.
    each = min(4, max(1, (threads or cpu_cores()) // 2)) if pick_runtime(runtime, kwargs) == "ctranslate2" else threads
    load = lambda s: load_editor(s, runtime=runtime, quantization=quantization, threads=each, **kwargs)  # noqa: E731
    return RerankedEditor(load(writer), load(judge), rules=rules)


def pick_runtime(runtime: str | None, kwargs: dict) -> str:
    runtime = (runtime or os.environ.get(RUNTIME_ENV) or "auto").strip().lower()
    if runtime not in RUNTIMES:
        raise InvalidInput(f"Unknown editor runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}.")
    if runtime != "auto":
        return runtime
    device = kwargs.get("device")
    if kwargs.get("dtype") is not None or (device is not None and str(device) != "cpu"):
        return "transformers"  # a GPU or a dtype asked for: torch
    options = kwargs.get("options")
    if options is not None and options.typical_p is not None:
        return "transformers"  # CTranslate2 has no typical_p
    import torch

    return "transformers" if torch.cuda.is_available() else "ctranslate2"


def resolve_spec(spec: str) -> tuple[str | Path | None, str | None, Path | None]:
    """(base model: None for the embedded base, a folder or a Hub id; gguf file name; adapter folder)."""
    if spec in ("default", "rewrite"):
        return None, None, SHIPPED_ADAPTER if (SHIPPED_ADAPTER / "adapter_config.json").is_file() else None
    if spec == "script":
        return None, None, SHIPPED_SCRIPT
    if spec == "base":
        return None, None, None
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}")
        return path.parent, path.name, None
    if (path / "adapter_config.json").is_file():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        return (None if not base or base == EMBEDDED_BASE else base), None, path
    if not path.exists() and (spec.startswith((".", "/", "~")) or spec.count("/") > 1):
        raise ModelLoadError(f"Model folder not found: {path}")
    return spec, None, None
