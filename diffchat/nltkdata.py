"""NLTK data (WordNet, the English POS tagger): found where NLTK looks ($NLTK_DATA first) or in our
cache, else downloaded once when first needed; offline, a clear message saying what to do."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelLoadError
from .paths import cache_dir

KINDS = {"wordnet": "corpora", "averaged_perceptron_tagger_eng": "taggers"}
_failed: dict[str, ModelLoadError] = {}  # one download attempt per package and process


def download_dir() -> Path:
    """Where a download goes: the first $NLTK_DATA folder, else `cache_dir()/nltk_data`."""
    env = os.environ.get("NLTK_DATA", "").split(os.pathsep)[0]
    return Path(env).expanduser() if env else cache_dir() / "nltk_data"


def _found(nltk, package: str) -> bool:
    for name in (f"{KINDS[package]}/{package}.zip", f"{KINDS[package]}/{package}"):
        try:
            nltk.data.find(name)
            return True
        except LookupError:
            continue
    return False


def ensure(package: str) -> None:
    """Make NLTK data `package` (a key of KINDS) loadable, downloading it if needed; ModelLoadError when it
    cannot be had (offline), naming what to do."""
    import nltk

    for folder in (str(cache_dir() / "nltk_data"), str(download_dir())):
        if folder not in nltk.data.path:
            nltk.data.path.append(folder)
    if _found(nltk, package):
        return
    if package in _failed:
        raise _failed[package]
    target = download_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
        nltk.download(package, download_dir=str(target), quiet=True, raise_on_error=True)
        error = None if _found(nltk, package) else "it did not appear after the download"
    except Exception as e:  # offline, a proxy, a read-only folder: say so instead of a traceback
        error = f"{type(e).__name__}: {e}"
    if error:
        _failed[package] = ModelLoadError(
            f"NLTK data '{package}' is needed and could not be downloaded into {target} ({error}). "
            f"Connect to the internet once (it is fetched automatically), or set NLTK_DATA to a folder that "
            f"holds {KINDS[package]}/{package}.zip.")
        raise _failed[package]
