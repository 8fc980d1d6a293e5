"""The prompt editor: template, cleaning, real loaders on tiny models, LoRA, GGUF, decoding, bad input."""
import json

import pytest
import torch

from diffchat.editor import GenerationOptions, PromptEditor, load_editor
from diffchat.errors import DiffChatError, InvalidInput, ModelLoadError
from diffchat.editor.templates import build_prompt, clean_output, format_prompt

PAIRS = [("a horse in a field", "turn the horse into a zebra"),
         ("a photo of a city street at night, highly detailed", "make it snowy"),
         ("portrait of an old man", "in the style of van gogh")]


def test_diffchat_template_is_the_papers():
    assert format_prompt(" a cat ", "make it blue") == (
        "Instruction: Give a description of the image and a modification to generate a drawing prompt.\n"
        "Input: a cat\nModification: make it blue\nOutput:")


@pytest.mark.parametrize("raw, clean", [
    (' "a zebra in a field"\nInput: junk', "a zebra in a field"),
    ("Output: 'a red car'", "a red car"),
    ("\n\n  a   snowy   street \n", "a snowy street"),
    ("Input: x\nModification: y\nOutput: a dog", "a dog"),
    ("", ""),
    # decoding loops collapse to one copy; a loop cut off at the end leaves no dangling "on"
    ("photograph of willie nelson on willie nelson on willie nelson on willie", "photograph of willie nelson"),
    ("a very very very very red car", "a very red car"),
    ("a cat, a cat, a cat sitting", "a cat sitting"),
    # ordinary repeats stay
    ("Walla Walla wine country", "Walla Walla wine country"),
    ("New York, New York skyline at night", "New York, New York skyline at night"),
    ("a red red rose", "a red red rose"),
])
def test_clean_output(raw, clean):
    assert clean_output(raw) == clean


def test_clean_output_bounds_length():
    assert len(clean_output(" ".join(f"word{k}" for k in range(500))).split()) == 120


def test_tiny_model_loads_and_batch_equals_single(tiny_lm_dir):
    editor = PromptEditor.from_pretrained(tiny_lm_dir, template="diffchat")
    assert editor.device.type == "cpu" and next(editor.model.parameters()).dtype == torch.float32
    batch = editor.edit_batch(PAIRS, batch_size=3, progress=False, max_new_tokens=12)
    single = [editor.edit_batch([p], progress=False, max_new_tokens=12)[0] for p in PAIRS]
    assert batch == single  # left padding must not change what a row generates
    assert all(isinstance(x, str) and "\n" not in x for x in batch)


def test_sampling_options_are_used_and_seeded(tiny_lm_dir):
    editor = PromptEditor.from_pretrained(tiny_lm_dir)
    a = editor.edit_batch(PAIRS[:1] * 4, progress=False, do_sample=True, typical_p=0.97, temperature=1.5,
                          seed=1, max_new_tokens=10)
    b = editor.edit_batch(PAIRS[:1] * 4, progress=False, do_sample=True, typical_p=0.97, temperature=1.5,
                          seed=1, max_new_tokens=10)
    greedy = editor.edit_batch(PAIRS[:1] * 4, progress=False, max_new_tokens=10)
    assert a == b  # same seed, same samples
    assert len(set(greedy)) == 1
    assert a != greedy  # a random model sampled hot differs from its greedy output
    with pytest.raises(InvalidInput, match="Unknown generation option"):
        editor.edit_batch(PAIRS[:1], progress=False, top_k_typo=3)


def test_generation_options_kwargs():
    from diffchat.editor.transformers_runtime import generate_kwargs

    kw = generate_kwargs(GenerationOptions().update(do_sample=True, typical_p=0.97, num_beams=1))
    assert kw["do_sample"] and kw["typical_p"] == 0.97
    assert "typical_p" not in generate_kwargs(GenerationOptions())


def test_lora_adapter_on_top(tiny_lm_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_lm_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules="all-linear",
                                                 init_lora_weights=False, task_type="CAUSAL_LM"))
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    conf = json.loads((adapter / "adapter_config.json").read_text())
    conf["base_model_name_or_path"] = str(tiny_lm_dir)
    (adapter / "adapter_config.json").write_text(json.dumps(conf))

    plain = PromptEditor.from_pretrained(tiny_lm_dir)
    tuned = load_editor(str(adapter), runtime="transformers")
    assert "adapter" in tuned.name
    ids = plain.tokenizer(build_prompt(plain.tokenizer, *PAIRS[0]), return_tensors="pt")
    with torch.no_grad():
        assert not torch.allclose(plain.model(**ids).logits, tuned.model(**ids).logits)


def test_editor_meta_picks_template(tiny_lm_dir, tmp_path):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_lm_dir, folder)
    (folder / "diffchat_editor.json").write_text(json.dumps({"template": "chat"}))
    assert PromptEditor.from_pretrained(folder).template == "chat"
    assert PromptEditor.from_pretrained(tiny_lm_dir).template == "diffchat"


def test_bad_input(tiny_lm_dir, tmp_path):
    editor = PromptEditor.from_pretrained(tiny_lm_dir)
    with pytest.raises(InvalidInput, match="instruction is empty"):
        editor.edit("a cat", "   ")
    with pytest.raises(InvalidInput, match="no prompt"):
        editor.edit("", "make it red")
    with pytest.raises(InvalidInput, match="under"):
        editor.edit("a cat", "x" * 5000)
    with pytest.raises(ModelLoadError, match="Could not load the editor model 'no-such/model'"):
        load_editor("no-such/model")
    with pytest.raises(ModelLoadError, match="GGUF file not found"):
        load_editor(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelLoadError, match="not found"):
        load_editor(str(tmp_path / "nothing" / "here"))
    with pytest.raises(ModelLoadError, match="not a LoRA adapter"):
        PromptEditor.from_pretrained(tiny_lm_dir, adapter=tmp_path)


def test_empty_generation_is_an_error_not_a_silent_edit(tiny_lm_dir):
    editor = PromptEditor.from_pretrained(tiny_lm_dir)
    with torch.no_grad():  # a broken model: all logits equal, so it writes only special tokens
        editor.model.model.norm.weight.zero_()
    assert editor.edit_batch([PAIRS[0]], progress=False, max_new_tokens=4) == [""]
    with pytest.raises(DiffChatError, match="empty prompt"):
        editor.edit(*PAIRS[0], max_new_tokens=4)


def test_an_unchanged_edit_is_decoded_again_with_beams(tiny_lm_dir):
    editor = PromptEditor.from_pretrained(tiny_lm_dir)
    tok, real_generate, calls = editor.tokenizer, editor.model.generate, []

    def scripted(**kw):  # greedy copies the prompt back; the beams offer the copy first, then an edit
        calls.append(kw.get("num_return_sequences", 1))
        width = kw["input_ids"].shape[1]
        texts = [" a horse in a field."] if len(calls) == 1 else [" A horse in a field", " a zebra in a field",
                                                                  " a horse", " a field"]
        rows = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
        longest = max(map(len, rows))
        rows = [r + [tok.pad_token_id or 0] * (longest - len(r)) for r in rows]
        return torch.cat([kw["input_ids"].repeat(len(rows), 1), torch.tensor(rows)], dim=1)[:, :width + longest]

    editor.model.generate = scripted
    assert editor.edit("a horse in a field", "turn the horse into a zebra") == "a zebra in a field"
    assert calls == [1, 4]  # one greedy pass, then one retry with 4 beams
    calls.clear()
    assert editor.edit_batch([("a horse in a field", "turn the horse into a zebra")], progress=False,
                             retry_unchanged=0) == ["a horse in a field."]  # retries can be switched off
    assert calls == [1]
    editor.model.generate = real_generate
