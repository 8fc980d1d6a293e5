"""Shared test setup: offline Hugging Face Hub, NLTK data from ../shared."""
import os
from pathlib import Path

os.environ.setdefault("NLTK_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "nltk_data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
