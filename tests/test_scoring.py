"""Scorers on tiny random models saved like the real ones and loaded through the real loaders."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from diffchat.errors import InvalidInput, ModelLoadError
from diffchat.scoring import ScoreCache, ScoreSuite, load_scorer, tiny_scorer_config
from diffchat.scoring.backbone import clip_backbone, image_sha256
from diffchat.scoring.scorers import ScorerConfig
from diffchat.tiny import clip_tokenizer


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    return tiny_scorer_config(tmp_path_factory.mktemp("scorers"))


def _images(n, seed=0, size=48):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


PROMPTS = ["a cat wearing a hat", "a dog on the beach at sunset", "a red sports car, 8k"]


def _unit(*v, dim=16):
    x = torch.zeros(dim)
    x[: len(v)] = torch.tensor(v, dtype=torch.float32)
    return F.normalize(x, dim=0)


def _pin(scorer, images, prompts, img_vecs, txt_vecs):
    """Put fixed embeddings in the backbone's memo: the scorer then reads exactly these."""
    bb = scorer.backbone
    bb.clear_memo()
    for im, v in zip(images, img_vecs):
        bb._img[image_sha256(im)] = v
    for t, v in zip(prompts, txt_vecs):
        bb._txt[t] = v


def test_clip_bpe_tokenizer_matches_open_clip():
    import open_clip

    tok, ref = clip_tokenizer(), open_clip.tokenizer.SimpleTokenizer()
    for s in PROMPTS + ["Van Gogh's starry night!!"]:
        assert tok(s)["input_ids"] == [49406] + ref.encode(s) + [49407]
    assert tok.model_max_length == 77


def test_formulas_on_fixed_embeddings(cfg):
    ims, prompts = _images(2), ["first prompt", "second prompt"]
    img = [_unit(1, 0), _unit(0, 1)]
    txt = [_unit(0.6, 0.8), _unit(1, -1)]
    cos = [0.6, -2 ** -0.5]

    pick = load_scorer("pickscore", cfg)
    _pin(pick, ims, prompts, img, txt)
    assert pick.score(ims, prompts) == pytest.approx([pick.backbone.logit_scale * c for c in cos], rel=1e-5)

    clip = load_scorer("clip_score", cfg)
    _pin(clip, ims, prompts, img, txt)
    assert clip.score(ims, prompts) == pytest.approx([60.0, 0.0], abs=1e-4)  # max(100 cos, 0)

    hps = load_scorer("hps", cfg)
    _pin(hps, ims, prompts, img, txt)
    assert hps.score(ims, prompts) == pytest.approx(cos, abs=1e-6)

    aes = load_scorer("aesthetic", cfg)
    _pin(aes, ims, prompts, img, txt)
    sd = torch.load(cfg.aesthetic_weights, weights_only=True)
    x = torch.stack(img)
    for i in (0, 2, 4, 6, 7):  # linear layers only: dropout is off in eval
        x = x @ sd[f"layers.{i}.weight"].T + sd[f"layers.{i}.bias"]
    assert aes.score(ims) == pytest.approx(x.squeeze(-1).tolist(), abs=1e-5)

    dclip = load_scorer("dclip", cfg)
    raws, raw_prompts = _images(2, seed=1), ["raw one", "raw two"]
    _pin(dclip, ims + raws, prompts + raw_prompts, img + [_unit(0, 0, 1), _unit(0, 1)],
         txt + [_unit(0.6, 0.8, 1), _unit(0, 0, 1)])
    # item 0: d_img = e1 - e3, d_txt = (0.6, 0.8, 0) - n(0.6, 0.8, 1)
    d_img = _unit(1, 0) - _unit(0, 0, 1)
    d_txt = _unit(0.6, 0.8) - _unit(0.6, 0.8, 1)
    expected0 = float(F.cosine_similarity(d_img, d_txt, dim=0))
    got = dclip.score(ims, prompts, raw_images=raws, raw_prompts=raw_prompts)
    assert got[0] == pytest.approx(expected0, abs=1e-6)
    assert got[1] == pytest.approx(0.0, abs=1e-6)  # same image before and after: no direction


def test_embeddings_come_from_the_model(cfg):
    """Without pinned memo: the scorer equals a direct computation with the loaded CLIP model."""
    from transformers import AutoProcessor, CLIPModel

    model = CLIPModel.from_pretrained(cfg.pickscore_model, dtype=torch.float32).eval()
    proc = AutoProcessor.from_pretrained(cfg.pickscore_processor)
    ims = _images(3)
    with torch.no_grad():
        img = model.get_image_features(**proc(images=ims, return_tensors="pt")).pooler_output
        txt = model.get_text_features(**proc.tokenizer(PROMPTS, padding=True, return_tensors="pt")).pooler_output
    expected = model.logit_scale.exp() * F.cosine_similarity(img, txt, dim=-1)
    pick = load_scorer("pickscore", cfg)
    pick.backbone.clear_memo()
    assert pick.score(ims, PROMPTS) == pytest.approx(expected.tolist(), abs=1e-4)


def test_hps_equals_open_clip_computation(cfg):
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{cfg.hps_arch}", load_weights=False, output_dict=True)
    model.load_state_dict(torch.load(cfg.hps_checkpoint, weights_only=True)["state_dict"])
    model.eval()
    ims = _images(3)
    with torch.no_grad():
        out = model(torch.stack([preprocess(i) for i in ims]), open_clip.get_tokenizer(f"local-dir:{cfg.hps_arch}")(PROMPTS))
    expected = (out["image_features"] * out["text_features"]).sum(-1)  # HPS: diagonal of normalised logits
    hps = load_scorer("hps", cfg)
    hps.backbone.clear_memo()
    assert hps.score(ims, PROMPTS) == pytest.approx(expected.tolist(), abs=1e-5)


def test_backbone_is_shared(cfg):
    a, b = load_scorer("clip_score", cfg), load_scorer("aesthetic", cfg)
    assert a.backbone is b.backbone is load_scorer("dclip", cfg).backbone
    assert clip_backbone(cfg.clip_model) is a.backbone
    assert load_scorer("pickscore", cfg).backbone is not a.backbone


def _suite_inputs():
    ims, raws = _images(3, seed=2), _images(3, seed=3)
    return dict(images=ims, prompts=PROMPTS, raw_images=raws, raw_prompts=["a cat", "a dog", "a car"],
                instructions=["add a hat", "put it on a beach", "make it red"],
                predictions=["a cat in a hat", None, "a red car"])


def test_batched_equals_one_at_a_time(cfg):
    suite = ScoreSuite(config=cfg)
    inputs = _suite_inputs()
    suite.clear_memos()
    one = suite.score(**inputs, batch_size=1, use_cache=False, progress=False)
    suite.clear_memos()
    many = suite.score(**inputs, batch_size=3, use_cache=False, progress=False)
    assert set(one) == {"pickscore", "aesthetic", "hps", "clip_score", "dclip", "ci"}
    for name in one:
        for x, y in zip(one[name], many[name]):
            assert (x is None and y is None) or x == pytest.approx(y, abs=1e-4), name
    assert one["ci"][1] is None and 0 <= one["ci"][0] <= 1


def test_disk_cache_hits_skip_computation(cfg, tmp_path, monkeypatch):
    inputs = _suite_inputs()
    first = ScoreSuite(["pickscore", "aesthetic", "ci"], cfg, cache=tmp_path / "scores.sqlite")
    a = first.score(**inputs, progress=False)
    assert first.cache.misses == 9 and first.cache.hits == 0
    first.cache.close()

    second = ScoreSuite(["pickscore", "aesthetic", "ci"], cfg, cache=tmp_path / "scores.sqlite")
    for s in second.scorers.values():  # any recomputation of a cached item would fail
        monkeypatch.setattr(s, "compute", lambda b, s=s: [None] * len(b) if s.name == "ci" else 1 / 0)
    calls = []
    b = second.score(**inputs, progress=lambda done, total: calls.append((done, total)))
    assert second.cache.hits == 8 and second.cache.misses == 1  # the CI item without a prediction
    assert a == b and calls[-1] == (1, 1)

    # a new image is a miss, computed once
    new = _images(1, seed=9)
    third = ScoreSuite(["aesthetic"], cfg, cache=tmp_path / "scores.sqlite")
    third.score(inputs["images"] + new, PROMPTS + ["x"], progress=False)
    assert third.cache.hits == 3 and third.cache.misses == 1


def test_bad_inputs_and_missing_models(cfg, tmp_path):
    with pytest.raises(InvalidInput, match="Unknown scorer"):
        load_scorer("nope", cfg)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_scorer("aesthetic", ScorerConfig(clip_model=cfg.clip_model, aesthetic_weights=str(tmp_path / "x.pth")))
    with pytest.raises(ModelLoadError, match="Could not"):
        load_scorer("aesthetic", ScorerConfig(clip_model=cfg.clip_model))  # Hub file, offline
    with pytest.raises(ModelLoadError, match="Could not load the CLIP model"):
        load_scorer("clip_score", ScorerConfig(clip_model=str(tmp_path / "no-such-model")))
    with pytest.raises(ModelLoadError, match="-d embeddings"):
        load_scorer("aesthetic", ScorerConfig(clip_model=cfg.clip_model, aesthetic_weights=_big_aesthetic(tmp_path)))
    clip = load_scorer("clip_score", cfg)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InvalidInput, match="Could not read the image"):
        clip.score([bad], ["a cat"])
    with pytest.raises(InvalidInput, match="empty"):
        clip.score(_images(1), ["  "])
    with pytest.raises(InvalidInput, match="different lengths"):
        clip.score(_images(2), ["a cat"])
    with pytest.raises(InvalidInput, match="needs"):
        load_scorer("dclip", cfg).score(_images(1), ["a cat"])


def _big_aesthetic(tmp_path):
    from diffchat.scoring.scorers import AestheticMLP

    path = tmp_path / "aesthetic-768.pth"
    torch.save(AestheticMLP(768).state_dict(), path)
    return str(path)


def test_image_paths_and_cache_object(cfg, tmp_path):
    ims = _images(2)
    paths = []
    for i, im in enumerate(ims):
        paths.append(tmp_path / f"{i}.png")
        im.save(paths[-1])
    suite = ScoreSuite(["clip_score"], cfg, cache=ScoreCache())
    by_path = suite.score(paths, PROMPTS[:2], progress=False)
    by_image = suite.score(ims, PROMPTS[:2], progress=False)
    assert by_path == by_image and suite.cache.hits == 2  # same pixels, same hash
