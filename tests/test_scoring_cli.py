"""`python -m diffchat score` through its own parser, on tiny scorer models."""
import argparse
import json

import numpy as np
import pytest
from PIL import Image

from diffchat.errors import InvalidInput
from diffchat.scoring.cli import add_score_parser, scorer_config


def _run(argv):
    p = argparse.ArgumentParser()
    add_score_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    args.func(args)


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def test_score_command_json(images, tmp_path, capsys):
    _run(["score", *images, "--prompt", "a cat in a hat", "--raw-image", images[0], "--raw-prompt", "a cat",
          "--instruction", "add a hat", "--prediction", "a cat wearing a hat", "--scorer-set", "tiny",
          "--cache", str(tmp_path / "c.sqlite"), "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in rows] == images
    assert set(rows[0]) >= {"pickscore", "aesthetic", "hps", "clip_score", "dclip", "ci"}
    assert rows[0]["dclip"] == 0.0 and rows[0]["ci"] == 1.0


def test_score_command_table_and_defaults(images, capsys):
    _run(["score", *images, "--prompt", "one", "--prompt", "two", "--scorer-set", "tiny", "--scorers",
          "clip_score,aesthetic"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["image", "clip_score", "aesthetic"] and len(out) == 3


def test_score_command_errors(images):
    with pytest.raises(InvalidInput, match="needs --raw-image"):
        _run(["score", images[0], "--prompt", "x", "--scorer-set", "tiny", "--scorers", "dclip"])
    with pytest.raises(InvalidInput, match="one per image"):
        _run(["score", *images, "--prompt", "a", "--prompt", "b", "--prompt", "c", "--scorer-set", "tiny"])
    with pytest.raises(InvalidInput, match="Unknown scorer"):
        _run(["score", images[0], "--prompt", "x", "--scorers", "beauty"])
    with pytest.raises(InvalidInput, match="Bad scorer option"):
        scorer_config("real", ["colour=blue"])
    assert scorer_config("real", ["batch_size=3", "hps_checkpoint=/x.pt"]).batch_size == 3


def test_real_scorers_offline_fail_at_once_with_the_hint(images, tmp_path, monkeypatch):
    """Offline without downloaded weights: a ModelLoadError naming the tiny scorers, before any model loads."""
    import diffchat.scoring.scorers as scorers
    from diffchat.cli import build_parser
    from diffchat.errors import ModelLoadError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    loaded = []
    monkeypatch.setattr(scorers, "clip_backbone", lambda *a, **k: loaded.append(a) or pytest.fail("loaded a model"))
    with pytest.raises(ModelLoadError, match="--scorer-set tiny") as err:
        _run(["score", images[0], "--prompt", "a zebra in a field"])
    assert "yuvalkirstain/PickScore_v1" in str(err.value) and "cannot be reached" in str(err.value)
    with pytest.raises(ModelLoadError, match="openai/clip-vit-large-patch14"):
        _run(["score", images[0], "--prompt", "x", "--scorers", "clip_score"])
    _run(["score", images[0], "--prompt", "x", "--scorers", "ci", "--raw-prompt", "a", "--prediction", "x"])  # no weights
    assert loaded == []
    # the README's command parses (images are positional; there is no --image)
    args = build_parser().parse_args(["score", "img.png", "--prompt", "a zebra in a field", "--scorer-set", "tiny"])
    assert args.images == ["img.png"] and args.scorer_set == "tiny"
