"""NLTK data: found where NLTK_DATA points, fetched once on first need, a clear message offline."""
import shutil
from pathlib import Path

import nltk
import pytest

from diffchat import nltkdata
from diffchat.errors import ModelLoadError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "nltk_data"


@pytest.fixture
def empty_nltk(monkeypatch, tmp_path):
    """NLTK sees no data; NLTK_DATA and our cache point at empty folders."""
    monkeypatch.setattr(nltk.data, "path", [])
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk_data"))
    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(nltkdata, "_failed", {})
    return tmp_path / "nltk_data"


@pytest.mark.skipif(not (SHARED / "corpora" / "wordnet.zip").is_file(), reason="needs ../shared/nltk_data")
def test_fetched_on_first_need_into_nltk_data(empty_nltk, monkeypatch):
    calls = []

    def download(package, download_dir, **kwargs):  # what nltk.download does when online
        calls.append((package, download_dir))
        kind = nltkdata.KINDS[package]
        (Path(download_dir) / kind).mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / kind / f"{package}.zip", Path(download_dir) / kind)
        return True

    monkeypatch.setattr(nltk, "download", download)
    nltkdata.ensure("wordnet")
    nltkdata.ensure("wordnet")  # found now: no second download
    assert calls == [("wordnet", str(empty_nltk))]
    assert (empty_nltk / "corpora" / "wordnet.zip").is_file()
    nltk.data.find("corpora/wordnet.zip")


def test_offline_message_names_the_fix_and_is_tried_once(empty_nltk, monkeypatch):
    calls = []

    def offline(package, **kwargs):
        calls.append(package)
        raise ValueError("Error loading wordnet: <urlopen error no address>")

    monkeypatch.setattr(nltk, "download", offline)
    for _ in range(2):
        with pytest.raises(ModelLoadError, match=r"NLTK data 'wordnet' is needed.*urlopen error.*set NLTK_DATA"):
            nltkdata.ensure("wordnet")
    assert calls == ["wordnet"]


def test_nltk_data_folder_is_used_without_download(monkeypatch, tmp_path):
    if not (SHARED / "taggers" / "averaged_perceptron_tagger_eng.zip").is_file():
        pytest.skip("needs ../shared/nltk_data")
    monkeypatch.setattr(nltk.data, "path", [])
    monkeypatch.setenv("NLTK_DATA", str(SHARED))
    monkeypatch.setenv("DIFFCHAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(nltk, "download", lambda *a, **k: pytest.fail("downloaded although NLTK_DATA has it"))
    nltkdata.ensure("averaged_perceptron_tagger_eng")
