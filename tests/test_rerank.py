"""The best-of-n editor: the verifier's checks, the pick, scoring in both runtimes, loading."""
import json
import shutil

import pytest

from diffchat.editor import load_editor
from diffchat.editor.rerank import RerankedEditor, targets, verify

PAIR = ("a horse in a field by a river", "turn the horse into a zebra")


def test_targets_of_an_instruction():
    assert targets("turn the horse into a zebra") == {"horse"}
    assert targets("replace the palms with ficus trees") == {"palm"}
    assert targets("remove the boats") == {"boat"}
    assert targets("zebras instead of horses") == {"horse"}
    assert targets("make it snowy") == set()


def test_verify_prefers_the_substitution_that_keeps_the_rest():
    src, ins = PAIR
    good = "a zebra in a field by a river"
    appended = "a horse and a zebra in a field by a river"   # the replaced thing kept beside the new one
    lossy = "a zebra in a field"                            # untouched content dropped
    pasted = "a horse in a field by a river, turn the horse into a zebra"
    assert verify(src, ins, good) > max(verify(src, ins, c) for c in (appended, lossy, pasted))
    assert verify("a tree by a river", "make it winter", "a tree by a river in winter") > \
        verify("a tree by a river", "make it winter", "a winter tree")


def test_verify_knows_word_forms_and_doubled_words():
    src = "portrait of an old fisherman"
    assert verify(src, "make him younger", "portrait of a young fisherman") >= 2.0  # "young" says "younger"
    assert verify("a cat", "make it snowy", "a cat in the snow") == verify("a cat", "make it snowy", "a snowy cat")
    assert verify("a blue car", "vintage", "vintage vintage blue car") < verify("a blue car", "vintage", "vintage blue car")
    assert verify("a car", "add a cart", "a car") < verify("a car", "add a cart", "a car and a cart")  # 3 letters: not a form
    kite = "a girl flying a kite on the beach"
    assert verify(kite, "make the kite look like a dragon", "a girl flying a kite on the beach, a dragonfly") < \
        verify(kite, "make the kite look like a dragon", "a girl flying a dragon kite on the beach")


class Fake:
    runtime, template, load_seconds, name = "fake", "fake", 0.0, "fake"

    def __init__(self, outputs, scores=None):
        self.outputs, self.scores, self.options = outputs, scores or {}, None
        from diffchat.editor import GenerationOptions

        self.options = GenerationOptions()

    def generate_many(self, pairs, opts, num_return=1):
        assert opts.num_beams == num_return == 4
        return [self.outputs[:num_return] for _ in pairs]

    def edit_batch(self, pairs, batch_size=8, progress=False, **kw):
        return [self.outputs[0] for _ in pairs]

    def score(self, pair, candidates):
        return [self.scores.get(c, -1.0) for c in candidates]


def test_the_pick_skips_no_ops_and_weighs_likelihood_with_the_verifier():
    src, ins = PAIR
    writer = Fake([src, "a horse and a zebra in a field by a river", "a zebra in a field by a river", ""])
    judge = Fake(["a zebra in a field"], scores={"a horse and a zebra in a field by a river": -0.2})
    editor = RerankedEditor(writer, judge, n=4, rules=False)
    assert editor.edit(*PAIR) == "a zebra in a field by a river"
    nothing = RerankedEditor(Fake([src] * 4), Fake([src]), n=4, rules=False)  # every candidate is the prompt again
    assert nothing.edit_batch([PAIR], progress=False) == [src]  # the chat then says the edit changed nothing


def test_score_is_the_same_in_both_runtimes(tiny_lm_dir, test_cache):
    ref = load_editor(str(tiny_lm_dir), runtime="transformers")
    fast = load_editor(str(tiny_lm_dir), runtime="ctranslate2", quantization="float32")
    cands = ["a zebra in a field by a river", "a horse"]
    want, got = ref.score(PAIR, cands), fast.score(PAIR, cands)
    assert all(abs(a - b) < 1e-3 for a, b in zip(want, got)) and want[0] != want[1]


def test_best_spec_loads_both_models(tiny_lm_dir, tmp_path):
    script = tmp_path / "script-model"
    shutil.copytree(tiny_lm_dir, script)
    (script / "diffchat_editor.json").write_text(json.dumps({"template": "script"}))
    editor = load_editor(f"best:{script},{tiny_lm_dir}", runtime="transformers")
    assert isinstance(editor, RerankedEditor) and editor.writer.template == "script"
    assert editor.judge.template == "diffchat" and editor.device.type == "cpu"
    assert isinstance(editor.edit_batch([PAIR], progress=False, max_new_tokens=6)[0], str)
    plus = load_editor(f"best:{script}+{tiny_lm_dir}", runtime="transformers")  # for comma-separated lists
    assert plus.writer.template == "script" and plus.judge.template == "diffchat" and plus.rules
    with pytest.raises(Exception, match="two editors"):
        load_editor(f"best:{script}")


def test_default_is_the_best_of_both_shipped_models():
    editor = load_editor()
    assert isinstance(editor, RerankedEditor) and editor.runtime == "ctranslate2"
    out = editor.edit("a horse in a field by a river", "turn the horse into a zebra")
    assert "zebra" in out and "horse" not in out and "river" in out


def test_on_ctranslate2_the_two_models_decode_at_once_with_the_same_pick():
    import threading

    seen = {}

    class Slow(Fake):
        runtime = "ctranslate2"

        def generate_many(self, pairs, opts, num_return=1):
            seen["writer"] = threading.current_thread().name
            return super().generate_many(pairs, opts, num_return)

        def edit_batch(self, pairs, batch_size=8, progress=False, **kw):
            seen["judge"] = threading.current_thread().name
            return super().edit_batch(pairs, batch_size, progress, **kw)

    src, ins = PAIR
    outputs = [src, "a horse and a zebra in a field by a river", "a zebra in a field by a river", ""]
    parallel = RerankedEditor(Slow(outputs), Slow(["a zebra in a field"]), n=4, rules=False)
    sequential = RerankedEditor(Fake(outputs), Fake(["a zebra in a field"]), n=4, rules=False)
    assert parallel.parallel and not sequential.parallel
    assert parallel.edit(src, ins) == sequential.edit(src, ins) == "a zebra in a field by a river"
    assert seen["writer"] != seen["judge"]  # the script model ran in a thread of its own
