"""Backend registry, get_backend resolution and the tiny pipeline builders."""
import dataclasses
import json

import pytest
from safetensors.torch import load_file

from diffchat.backends import BACKENDS, PAPER_BACKENDS, BackendSpec, get_backend
from diffchat.errors import BackendError, ModelLoadError
from diffchat.tiny import build_tiny_sd, ensure_tiny


def test_registry_holds_paper_backends_and_extras():
    for name in PAPER_BACKENDS + ("sd-turbo", "instruct-pix2pix", "tiny", "tiny-sdxl", "tiny-ip2p"):
        spec = BACKENDS[name]
        assert spec.name == name and spec.model_id and spec.steps >= 1
    assert BACKENDS["sd15"].model_id == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert (BACKENDS["sd15"].width, BACKENDS["sd15"].steps, BACKENDS["sd15"].guidance) == (512, 30, 7.5)
    assert BACKENDS["sdxl"].sdxl and BACKENDS["sdxl"].width == BACKENDS["sdxl"].height == 1024
    assert BACKENDS["sd-turbo"].guidance == 0.0 and BACKENDS["sd-turbo"].steps <= 4
    assert BACKENDS["instruct-pix2pix"].kind == "ip2p" and BACKENDS["tiny-ip2p"].kind == "ip2p"
    assert BACKENDS["tiny"].width == 64 and BACKENDS["tiny-sdxl"].sdxl
    assert all(s.kind in ("t2i", "ip2p") for s in BACKENDS.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        BACKENDS["sd15"].steps = 1


def test_get_backend_by_name_and_by_model_id():
    assert get_backend("SDXL ") is BACKENDS["sdxl"]
    assert get_backend("timbrooks/instruct-pix2pix") is BACKENDS["instruct-pix2pix"]
    assert get_backend(BACKENDS["tiny"]) is BACKENDS["tiny"]


@pytest.mark.parametrize("bad", ["", "   ", None, "no such backend!", "a/b/c/d", 42])
def test_unknown_backend_lists_known_names(bad):
    with pytest.raises(BackendError) as err:
        get_backend(bad)
    for name in ("sd15", "sdxl", "tiny"):
        assert name in str(err.value)


def test_adhoc_hub_id_gets_a_spec():
    spec = get_backend("someone/my-model-xl")
    assert isinstance(spec, BackendSpec)
    assert spec.name == spec.model_id == "someone/my-model-xl"
    assert spec.sdxl and spec.width is None and spec.kind == "t2i"


def test_local_folder_detects_family(tmp_path):
    sd = tmp_path / "sd"
    sd.mkdir()
    (sd / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    xl = tmp_path / "xl"
    xl.mkdir()
    (xl / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    ip = tmp_path / "ip"
    ip.mkdir()
    (ip / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionInstructPix2PixPipeline"}))
    assert not get_backend(str(sd)).sdxl and get_backend(str(sd)).kind == "t2i"
    assert get_backend(xl).sdxl
    assert get_backend(str(ip)).kind == "ip2p"
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="model_index.json"):
        get_backend(str(tmp_path / "empty"))


def test_tiny_build_is_deterministic_and_cached(tmp_path, monkeypatch):
    a, b = build_tiny_sd(tmp_path / "a"), build_tiny_sd(tmp_path / "b")
    for part in ("unet", "vae", "text_encoder"):
        wa = load_file(next((a / part).glob("*.safetensors")))
        wb = load_file(next((b / part).glob("*.safetensors")))
        assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)
    assert json.loads((a / "tokenizer" / "tokenizer_config.json").read_text())["model_max_length"] == 77

    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path / "cache"))
    folder = ensure_tiny("tiny-captioner")
    assert folder.is_relative_to(tmp_path / "cache" / "tiny") and (folder / "config.json").exists()
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert ensure_tiny("tiny-captioner") == folder
    assert (folder / "config.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    with pytest.raises(ModelLoadError, match="tiny-captioner"):
        ensure_tiny("tiny-nope")


def test_clip_tokenizer_is_the_real_clip_bpe():
    from diffchat.tiny import clip_tokenizer

    tok = clip_tokenizer()
    # the ids CLIP ViT-L/14 gives "a photo of a cat"
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok.model_max_length == 77


def test_offline_marks_and_fail_fast(tmp_path, monkeypatch):
    """Offline, a backend that is not downloaded is marked so and fails at once, before diffusers loads."""
    import diffusers

    from diffchat.backends import availability, backend_label, require_available
    from diffchat.render import Renderer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert availability("tiny") == "local" and "noise" in backend_label("tiny")
    assert availability("sd-turbo") == "offline" and "offline" in backend_label("sd-turbo")
    with pytest.raises(ModelLoadError, match="cannot load: not downloaded.*Use tiny, tiny-sdxl"):
        require_available("sd-turbo")
    monkeypatch.setattr(diffusers.AutoPipelineForText2Image, "from_pretrained",
                        lambda *a, **k: pytest.fail("tried to load from the Hub"))
    with pytest.raises(ModelLoadError, match="'sd-turbo'.*cannot load"):
        Renderer(device="cpu").render("a cat", backend="sd-turbo")
    # a downloaded snapshot in the Hub cache counts as here
    snap = tmp_path / "hub" / "models--stabilityai--sd-turbo" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text("{}")
    assert availability("sd-turbo") == "downloaded" and require_available("sd-turbo").name == "sd-turbo"
    assert backend_label("sd-turbo") == "sd-turbo (downloaded)"
    # online: a missing model downloads on first use
    import diffchat.hub as hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: True)
    assert availability("sdxl") == "download" and "downloads on first use" in backend_label("sdxl")
