"""Prompts over CLIP's 77 tokens are encoded in chunks (compel) on the tiny SD and SDXL pipelines."""
import numpy as np
import pytest

from diffchat.long_prompt import CLIP_TOKENS, clip_token_count, encode_long, long_prompt_note
from diffchat.render import Renderer

LONG = ("a red fox standing in deep snow, " * 10) + "under a bright green aurora over a frozen lake at night"


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFCHAT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield Renderer(max_loaded=2)


def truncated(text: str, pipe) -> str:
    """`text` cut to what one CLIP chunk holds: what the pipelines read of it before."""
    ids = pipe.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"][:CLIP_TOKENS]
    return pipe.tokenizer.decode(ids)


def test_token_count_and_note():
    assert clip_token_count("a red fox") == 3
    assert clip_token_count(LONG) > 77
    assert long_prompt_note("a red fox in the snow") is None
    note = long_prompt_note(LONG)
    assert f"{clip_token_count(LONG)} CLIP tokens" in note and "2 chunks" in note


@pytest.mark.parametrize("backend", ["tiny", "tiny-sdxl"])
def test_short_prompt_encodes_as_diffusers_does(renderer, backend):
    pipe = renderer.pipeline(backend)
    ours = encode_long(pipe, "a red fox in the snow", "blurry")
    if backend == "tiny":
        pos, neg = pipe.encode_prompt("a red fox in the snow", "cpu", 1, True, "blurry")
    else:
        pos, neg, pooled, neg_pooled = pipe.encode_prompt("a red fox in the snow", device="cpu",
                                                          do_classifier_free_guidance=True, negative_prompt="blurry")
        assert (ours["pooled_prompt_embeds"] - pooled).abs().max() < 1e-5
        assert (ours["negative_pooled_prompt_embeds"] - neg_pooled).abs().max() < 1e-5
    assert ours["prompt_embeds"].shape == pos.shape
    assert (ours["prompt_embeds"] - pos).abs().max() < 1e-5
    assert (ours["negative_prompt_embeds"] - neg).abs().max() < 1e-5


@pytest.mark.parametrize("backend", ["tiny", "tiny-sdxl"])
def test_long_prompt_is_read_past_77_tokens(renderer, backend):
    pipe = renderer.pipeline(backend)
    cut = truncated(LONG, pipe)
    assert clip_token_count(cut) <= CLIP_TOKENS < clip_token_count(LONG)
    long_embeds, cut_embeds = encode_long(pipe, LONG, ""), encode_long(pipe, cut, "")
    assert long_embeds["prompt_embeds"].shape[1] == 2 * 77 and cut_embeds["prompt_embeds"].shape[1] == 77
    assert long_embeds["negative_prompt_embeds"].shape == long_embeds["prompt_embeds"].shape  # padded alike
    # the words past the first chunk reach the image: the long prompt renders differently from its cut
    a = renderer.render(LONG, backend=backend, seed=3)
    b = renderer.render(cut, backend=backend, seed=3)
    assert np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean() > 0
    assert (np.asarray(a) == np.asarray(renderer.render(LONG, backend=backend, seed=3))).all()  # still seeded


def test_long_prompt_img2img_and_long_negative(renderer):
    base = renderer.render("a lake", seed=1)
    a = renderer.render(LONG, seed=1, init_image=base, strength=0.5)
    b = renderer.render(truncated(LONG, renderer.pipeline("tiny")), seed=1, init_image=base, strength=0.5)
    assert np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean() > 0
    image = renderer.render("a fox", seed=1, negative_prompt=LONG)  # a long negative prompt with a short one
    assert image.size == (64, 64)
