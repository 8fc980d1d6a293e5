"""Captioner on a tiny random BLIP loaded back through the transformers Auto classes."""
import pytest
from PIL import Image

from diffchat.caption import Captioner
from diffchat.errors import InvalidInput, ModelLoadError
from diffchat.tiny import build_tiny_captioner


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    return Captioner.from_pretrained(str(build_tiny_captioner(tmp_path_factory.mktemp("cap"))))


def test_caption_pil_and_path(captioner, tmp_path):
    image = Image.new("RGB", (80, 60), (10, 120, 200))
    text = captioner.caption(image)
    assert isinstance(text, str) and text == text.strip() and text
    assert "  " not in text and "[DEC]" not in text and "[SEP]" not in text
    image.save(tmp_path / "im.jpg")
    assert captioner.caption(tmp_path / "im.jpg") == text  # greedy and deterministic
    assert captioner.caption(str(tmp_path / "im.jpg")) == text


def test_tiny_id_builds_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path))
    cap = Captioner.from_pretrained("tiny", device="cpu")
    assert cap.name == "tiny" and cap.caption(Image.new("RGB", (32, 32)))
    assert any((tmp_path / "tiny").glob("tiny-captioner-*"))


def test_unreadable_files(captioner, tmp_path):
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"\x89PNG but not really")
    with pytest.raises(InvalidInput, match="Could not read"):
        captioner.caption(bad)
    with pytest.raises(InvalidInput, match="not found"):
        captioner.caption(tmp_path / "missing.png")
    with pytest.raises(InvalidInput):
        captioner.caption(123)


def test_unknown_model_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not downloaded, and the Hugging Face Hub cannot be reached.*tiny"):
        Captioner.from_pretrained("nobody-here/no-captioner-123")
