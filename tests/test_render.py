"""Renderer on tiny random pipelines built from configs and loaded back through diffusers' loaders."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from diffchat.backends import get_backend
from diffchat.errors import InvalidInput, ModelLoadError, RenderError
from diffchat.render import Renderer
from diffchat.tiny import build_tiny_sd


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFCHAT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield Renderer(max_loaded=3)


def px(image):
    return np.asarray(image, dtype=np.int16)


def test_defaults_on_cpu():
    r = Renderer(device="cpu")
    assert r.device.type == "cpu" and r.dtype == torch.float32 and r.loaded == []
    assert Renderer(device="cpu", dtype=torch.bfloat16).dtype == torch.bfloat16


@pytest.mark.parametrize("backend", ["tiny", "tiny-sdxl"])
def test_same_seed_same_pixels_other_seed_other_pixels(renderer, backend):
    a = renderer.render("a red fox in the snow", backend=backend, seed=7)
    b = renderer.render("a red fox in the snow", backend=backend, seed=7)
    c = renderer.render("a red fox in the snow", backend=backend, seed=8)
    d = renderer.render("a blue whale in the sea", backend=backend, seed=7)
    assert isinstance(a, Image.Image) and a.size == (64, 64) and a.mode == "RGB"
    assert (px(a) == px(b)).all()
    assert np.abs(px(a) - px(c)).mean() > 1
    assert np.abs(px(a) - px(d)).mean() > 0  # the prompt reaches the UNet


def test_size_and_progress(renderer):
    calls = []
    image = renderer.render("a house", width=96, height=64, steps=3, progress=lambda s, t: calls.append((s, t)))
    assert image.size == (96, 64)
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_img2img_keeps_the_image_and_strength_matters(renderer, tmp_path):
    base = renderer.render("a lake at dawn", seed=1)
    calls = []
    low = renderer.render("a lake at night", seed=1, init_image=base, strength=0.3, steps=10,
                          progress=lambda s, t: calls.append(s))
    high = renderer.render("a lake at night", seed=1, init_image=base, strength=1.0, steps=10)
    assert calls == [1, 2, 3]  # int(10 * 0.3) denoising steps
    assert np.abs(px(low) - px(base)).mean() < np.abs(px(high) - px(base)).mean()
    # from a file path, with a tiny strength (still at least one step), keeping the aspect ratio
    wide = Image.new("RGB", (256, 128), (200, 30, 30))
    wide.save(tmp_path / "wide.png")
    out = renderer.render("a red wall", init_image=tmp_path / "wide.png", strength=0.05)
    assert out.size[0] > out.size[1] and out.size[0] % 8 == 0 and out.size[1] % 8 == 0
    again = renderer.render("a red wall", init_image=wide, strength=0.05)
    assert (px(out) == px(again)).all()


def test_pipeline_cache_reuse_lru_and_unload(renderer):
    pipe = renderer.pipeline("tiny")
    renderer.render("a cat", backend="tiny")
    assert renderer.pipeline("tiny") is pipe and "tiny" in renderer.loaded

    small = Renderer(max_loaded=1)
    p1 = small.pipeline("tiny")
    small.pipeline("tiny-sdxl")
    assert small.loaded == ["tiny-sdxl"]  # least recently used was evicted
    assert small.pipeline("tiny") is not p1  # reloaded after eviction
    assert small.unload("tiny") and small.loaded == [] and not small.unload("tiny")


def test_local_folder_backend_matches_registry_tiny(renderer, tmp_path):
    folder = build_tiny_sd(tmp_path / "sd")
    a = renderer.render("a tower", backend=str(folder), seed=3, steps=4, guidance=5.0)
    b = renderer.render("a tower", backend="tiny", seed=3)
    assert a.size == (64, 64) and (px(a) == px(b)).all()  # deterministic build, same loader
    assert renderer.unload(str(folder))


def test_instruct_pix2pix(renderer):
    src = renderer.render("a dog on grass", seed=2)
    a = renderer.render("", backend="tiny-ip2p", init_image=src, instruction="make it snow", seed=2)
    b = renderer.render("ignored", backend="tiny-ip2p", init_image=src, instruction="make it snow", seed=2)
    c = renderer.render("", backend="tiny-ip2p", init_image=src, instruction="make it snow", seed=2,
                        image_guidance=3.0)
    assert a.size == src.size and (px(a) == px(b)).all() and (px(a) != px(c)).any()
    with pytest.raises(InvalidInput, match="image and an instruction"):
        renderer.render("x", backend="tiny-ip2p", instruction="make it snow")
    with pytest.raises(InvalidInput, match="image and an instruction"):
        renderer.render("x", backend="tiny-ip2p", init_image=src, instruction="  ")


@pytest.mark.parametrize("kwargs", [
    dict(width=65), dict(height=100), dict(width=4096, height=4096), dict(width=32), dict(steps=0),
    dict(steps=2.5), dict(guidance=-1), dict(seed=-1), dict(prompt="   "),
    dict(init_image="/no/such/file.png"), dict(init_image=Image.new("RGB", (64, 64)), strength=0.0),
])
def test_bad_input(renderer, kwargs):
    prompt = kwargs.pop("prompt", "a cat")
    with pytest.raises(InvalidInput):
        renderer.render(prompt, **kwargs)


def test_non_image_init_file(renderer, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(InvalidInput, match="Could not read"):
        renderer.render("a cat", init_image=bad)


def test_missing_model_offline_and_broken_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = Renderer()
    with pytest.raises(ModelLoadError, match="not downloaded, and the Hugging Face Hub cannot be reached.*Use tiny"):
        r.render("a cat", backend="nobody-here/no-such-model-123")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}))
    with pytest.raises(ModelLoadError, match="broken"):
        r.render("a cat", backend=str(broken))
    assert r.loaded == []
    assert get_backend(str(broken)).name == str(broken.resolve())


def test_pipeline_failure_is_a_render_error(renderer):
    def boom(step, total):
        raise ValueError("exploded")

    with pytest.raises(RenderError, match="exploded"):
        renderer.render("a cat", progress=boom)
    assert renderer.render("a cat").size == (64, 64)  # still usable afterwards
